"""Fixtures: a tiny synthetic Cityscapes (converted) and helpers that write image/label folders."""
import os

import cv2
import numpy as np
import pytest

from mmseg_ddrnet.datasets import make_synthetic_cityscapes
from mmseg_ddrnet.datasets.cityscapes_conversion import convert_cityscapes

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


@pytest.fixture(scope='session')
def cityscapes_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cityscapes'))
    make_synthetic_cityscapes(root, num_train=4, num_val=2, size=(64, 128), seed=0)
    convert_cityscapes(root)
    return root


def _write_pair(img_dir, ann_dir, name, img, seg, img_ext='.png', seg_ext='.png'):
    """Write ``img`` (HxWx3 uint8) and ``seg`` (HxW uint8) as ``name + ext`` in their folders."""
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    cv2.imwrite(os.path.join(img_dir, name + img_ext), img)
    cv2.imwrite(os.path.join(ann_dir, name + seg_ext), seg)


@pytest.fixture
def write_pair():
    return _write_pair


@pytest.fixture
def custom_root(tmp_path):
    """``img/*.jpg`` and ``ann/*.png``: 3 samples of 8x10 pixels, labels in {0, 1, 2}."""
    rng = np.random.default_rng(0)
    for i in range(3):
        img = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
        seg = (np.arange(80).reshape(8, 10) + i) % 3
        _write_pair(tmp_path / 'img', tmp_path / 'ann', f's{i}', img, seg.astype(np.uint8), '.jpg', '.png')
    return tmp_path
