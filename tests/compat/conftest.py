"""Session data of the mmseg-0.x compatibility tests: one tiny Cityscapes and one tiny CustomDataset."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from compat_utils import IMAGE_HW, USER_EXT, run_tool
from mmseg_ddrnet.datasets.synthetic import make_synthetic_cityscapes


@pytest.fixture(scope='session')
def cityscapes_root(tmp_path_factory) -> str:
    """4 train + 2 val synthetic Cityscapes images, converted by the 0.x conversion tool."""
    root = str(tmp_path_factory.mktemp('cityscapes'))
    make_synthetic_cityscapes(root, num_train=4, num_val=2, size=IMAGE_HW)
    run_tool('convert_datasets/cityscapes.py', root, '--nproc', '1', cwd=root)
    return root


def _write_custom_sample(root: Path, split: str, name: str, rng: np.random.Generator) -> None:
    """A road/building/sky picture; labels 1..3 (0 = unlabelled) coloured by class plus noise."""
    h, w = IMAGE_HW
    label = np.full((h, w), 3, np.uint8)
    label[int(h * rng.uniform(0.3, 0.5)):] = 2
    label[int(h * rng.uniform(0.6, 0.8)):] = 1
    label[:, :int(w * rng.uniform(0.05, 0.1))] = 0
    colours = np.array([[0, 0, 0], [128, 64, 128], [70, 70, 70], [180, 130, 70]], np.float64)
    img = np.clip(colours[label] + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(root / 'img_dir' / split / f'{name}.jpg'), img)
    cv2.imwrite(str(root / 'ann_dir' / split / f'{name}.png'), label)


@pytest.fixture(scope='session')
def custom_root(tmp_path_factory) -> str:
    """A user's dataset in the 0.x CustomDataset layout: 5 train (4 in the split file) + 2 val images."""
    root = tmp_path_factory.mktemp('my_dataset')
    rng = np.random.default_rng(0)
    for split, count in (('train', 5), ('val', 2)):
        (root / 'img_dir' / split).mkdir(parents=True)
        (root / 'ann_dir' / split).mkdir(parents=True)
        for i in range(count):
            _write_custom_sample(root, split, f'{split}_{i:03d}', rng)
    (root / 'splits').mkdir()
    (root / 'splits' / 'train.txt').write_text(''.join(f'train_{i:03d}\n' for i in range(4)))
    return str(root)


@pytest.fixture(scope='session', autouse=True)
def _user_ext_importable():
    """In-process tests import ``compat_user_ext`` as ``custom_imports`` does."""
    sys.path.insert(0, str(USER_EXT))
    yield
    sys.path.remove(str(USER_EXT))
