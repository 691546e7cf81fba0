"""mmseg 0.30 model types a DDRNet config might name that are refused here, each with the reason."""
from ..registry import MODELS

_OWN = 'register your own implementation with custom_imports if you need it'
REFUSED_MODELS = {
    'DiceLoss': f'the DDRNet recipes train with CrossEntropyLoss / OhemCrossEntropy; mmseg 0.30\'s DiceLoss is not '
                f'implemented ({_OWN}: a loss written to the 0.x contract works unchanged)',
    'FocalLoss': f'not implemented (DDRNet trains with CrossEntropyLoss / OhemCrossEntropy); {_OWN}',
    'LovaszLoss': f'not implemented (DDRNet trains with CrossEntropyLoss / OhemCrossEntropy); {_OWN}',
    'TverskyLoss': f'not implemented (DDRNet trains with CrossEntropyLoss / OhemCrossEntropy); {_OWN}',
    'CascadeEncoderDecoder': 'DDRNet is a single-stage EncoderDecoder (decode_head + auxiliary_head); cascaded '
                             'heads (OCRNet, PointRend) are not part of this project',
}
for _neck in ('FPN', 'MultiLevelNeck', 'ICNeck', 'JPU', 'MLANeck', 'Feature2Pyramid'):
    REFUSED_MODELS[_neck] = (f'DDRNet has no neck (its heads read the backbone outputs directly, model.neck=None); '
                             f'mmseg 0.30\'s {_neck} is not implemented')

for _name, _reason in REFUSED_MODELS.items():
    MODELS.refuse(_name, _reason)
