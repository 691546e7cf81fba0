"""Class names and RGB palettes of the supported datasets."""
from typing import List

from ..utils import ConfigError

CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                      'motorcycle', 'bicycle')
CITYSCAPES_PALETTE = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
                      [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152],
                      [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
                      [0, 80, 100], [0, 0, 230], [119, 11, 32]]

# The 11 classes of the SegNet CamVid release (label 11 is "void") and its colours.
CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car',
                  'Pedestrian', 'Bicyclist')
CAMVID_PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128], [60, 40, 222], [128, 128, 0],
                  [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0], [0, 128, 192]]

_DATASETS = {'cityscapes': (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE), 'camvid': (CAMVID_CLASSES, CAMVID_PALETTE)}


def _lookup(dataset: str):
    key = dataset.lower()
    if key not in _DATASETS:
        raise ConfigError(f'unknown dataset {dataset!r}; known: {sorted(_DATASETS)}')
    return _DATASETS[key]


def cityscapes_classes() -> List[str]:
    return list(CITYSCAPES_CLASSES)


def cityscapes_palette() -> List[List[int]]:
    return [list(c) for c in CITYSCAPES_PALETTE]


def camvid_classes() -> List[str]:
    return list(CAMVID_CLASSES)


def camvid_palette() -> List[List[int]]:
    return [list(c) for c in CAMVID_PALETTE]


def get_classes(dataset: str) -> List[str]:
    """Class names of ``'cityscapes'`` or ``'camvid'``."""
    return list(_lookup(dataset)[0])


def get_palette(dataset: str) -> List[List[int]]:
    """RGB palette of ``'cityscapes'`` or ``'camvid'``."""
    return [list(c) for c in _lookup(dataset)[1]]
