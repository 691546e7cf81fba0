"""Convert DDRNet checkpoints from elsewhere into this package's format (``tools/convert_checkpoint.py``).

Three sources are understood:

* ``official``: segmentation checkpoints of the official code (ydhongHIT/DDRNet; DDRNet-23-slim, -23, -39),
  optionally saved through the HRNet training wrapper (``model.`` key prefix, ``loss.criterion.weight``);
* ``official-imagenet``: the official ImageNet-pretrained backbones, for a config's ``pretrained=``
  (the classifier is dropped; the keys are relative to the backbone);
* ``mmseg``: mmsegmentation 1.x DDRNet checkpoints, whose key names this package uses, except that
  DDRHead's auxiliary classifier (``decode_head.aux_head``/``aux_cls_seg``) is the mmseg 0.x-style
  ``auxiliary_head`` here.

The key maps live beside the model (:mod:`.backbones.ddrnet_keys`); foreign files are read safely by
:func:`mmseg_ddrnet.checkpoint.read_foreign_checkpoint`.
"""
import os
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

from ..checkpoint.foreign import plain_data, read_foreign_checkpoint
from ..checkpoint.io import PathLike, StateDict, extract_state_dict, save_checkpoint
from ..metrics.class_names import CAMVID_CLASSES, CAMVID_PALETTE, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from ..utils import CheckpointError
from ..version import __version__
from .backbones.ddrnet_keys import convert_mmseg, convert_official

SRC_FORMATS = ('official', 'official-imagenet', 'mmseg')
_CLASSIFIERS = ('decode_head.conv_seg.', 'auxiliary_head.conv_seg.')


def mmseg_meta(checkpoint: dict) -> Dict[str, Any]:
    """``CLASSES``/``PALETTE`` from an mmsegmentation checkpoint's meta (1.x ``dataset_meta`` or 0.x)."""
    meta = plain_data(checkpoint.get('meta') or {})
    if not isinstance(meta, dict):
        return {}
    dataset_meta = meta.get('dataset_meta') if isinstance(meta.get('dataset_meta'), dict) else {}
    classes = dataset_meta.get('classes', meta.get('CLASSES'))
    palette = dataset_meta.get('palette', meta.get('PALETTE'))
    out = {}
    if classes is not None:
        out['CLASSES'] = [str(c) for c in classes]
    if palette is not None:
        out['PALETTE'] = [[int(v) for v in colour] for colour in palette]
    return out


def official_meta(state_dict: StateDict) -> Dict[str, Any]:
    """``CLASSES``/``PALETTE`` of the dataset an official checkpoint was trained on, told by its class count.

    The official DDRNet models were trained on Cityscapes (19 classes) and CamVid (11 classes).
    """
    weight = state_dict.get('decode_head.conv_seg.weight')
    known = {len(CITYSCAPES_CLASSES): (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
             len(CAMVID_CLASSES): (CAMVID_CLASSES, CAMVID_PALETTE)}
    if weight is None or weight.shape[0] not in known:
        return {}
    classes, palette = known[weight.shape[0]]
    return {'CLASSES': list(classes), 'PALETTE': [list(colour) for colour in palette]}


# ----------------------------------------------------------------------------------------- the tool
def drop_classifier(state_dict: StateDict, num_classes: int) -> Tuple[StateDict, bool]:
    """Remove the classifier layers when they do not predict ``num_classes`` classes (for fine-tuning)."""
    weight = state_dict.get('decode_head.conv_seg.weight')
    if weight is None or weight.shape[0] == num_classes:
        return OrderedDict(state_dict), False
    return OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith(_CLASSIFIERS)), True


_CONVERTERS: Dict[str, Callable[[StateDict], StateDict]] = {
    'official': convert_official,
    'official-imagenet': lambda sd: convert_official(sd, imagenet=True),
    'mmseg': convert_mmseg,
}


def convert_checkpoint(src: PathLike, dst: PathLike, src_format: str,
                       num_classes: Optional[int] = None, unsafe: bool = False) -> dict:
    """Convert the checkpoint ``src`` (``src_format`` in :data:`SRC_FORMATS`) and save it to ``dst``.

    The result is ``{'meta': {...}, 'state_dict': {...}}``, loadable with ``weights_only=True``.
    With ``num_classes``, a classifier of another size is dropped (the model re-initialises it).
    ``unsafe``: unpickle ``src`` in full (see :func:`read_foreign_checkpoint`). Returns the saved checkpoint.
    """
    if src_format not in _CONVERTERS:
        raise CheckpointError(f'unknown --src-format {src_format!r}; choose one of {", ".join(SRC_FORMATS)}')
    raw = read_foreign_checkpoint(src, unsafe=unsafe)
    if not isinstance(raw, dict):
        raise CheckpointError(f'checkpoint {src} is a {type(raw).__name__}, not a dict of weights')
    _refuse_own_format(raw, src)
    try:
        state_dict = _CONVERTERS[src_format](extract_state_dict(_weights_of(raw), src))
    except CheckpointError as err:
        if os.fspath(src) in str(err):
            raise
        raise CheckpointError(f'{os.fspath(src)}: {err}') from err
    meta = {'converted_from': os.path.basename(os.fspath(src)), 'src_format': src_format,
            'mmseg_ddrnet_version': __version__}
    if src_format == 'mmseg':
        meta.update(mmseg_meta(raw))
    elif src_format == 'official':
        meta.update(official_meta(state_dict))
    if num_classes is not None:
        state_dict, dropped = drop_classifier(state_dict, num_classes)
        if dropped:
            meta.pop('CLASSES', None), meta.pop('PALETTE', None)
            meta['dropped_classifier'] = True
    checkpoint = {'meta': meta, 'state_dict': OrderedDict((k, v.detach().clone().contiguous())
                                                          for k, v in state_dict.items())}
    save_checkpoint(checkpoint, dst)
    return checkpoint


def _refuse_own_format(raw: dict, src: PathLike) -> None:
    """A checkpoint of this package (tools/train.py's, or converted already) needs no conversion: say so.

    Recognised by ``meta['mmseg_ddrnet_version']`` or by ``auxiliary_head.`` keys (neither source has them).
    """
    meta = raw.get('meta') if isinstance(raw.get('meta'), dict) else {}
    weights = raw.get('state_dict') if isinstance(raw.get('state_dict'), dict) else {}
    if 'mmseg_ddrnet_version' in meta or any(str(key).startswith('auxiliary_head.') for key in weights):
        raise CheckpointError(f'{os.fspath(src)} is already a checkpoint of mmseg_ddrnet: nothing to convert, use it '
                              'as it is (tools/test.py, --load-from, load_from=, init_segmentor)')


def _weights_of(raw: dict) -> dict:
    """The part of a loaded checkpoint holding the weights (``state_dict``, ``model`` or the whole)."""
    for key in ('state_dict', 'model'):
        if isinstance(raw.get(key), dict):
            return {'state_dict': raw[key]}
    return raw
