"""The dataset base configs and the CamVid recipe load, build their datasets and run their pipelines."""
from pathlib import Path

import pytest
import torch

from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataloader, build_dataset

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


@pytest.mark.parametrize('name, crop', [('cityscapes.py', (512, 1024)), ('cityscapes_1024x1024.py', (1024, 1024))])
def test_cityscapes_bases(cityscapes_root, name, crop):
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'datasets' / name))
    assert cfg.crop_size == crop and cfg.data.train.type == 'CityscapesDataset'
    train = build_dataset(dict(cfg.data.train, data_root=cityscapes_root))
    sample = train[0]
    assert sample['img'].shape == (3,) + crop and sample['gt_semantic_seg'].shape == (1,) + crop
    val = build_dataset(dict(cfg.data.val, data_root=cityscapes_root, test_mode=True))
    batch = next(iter(build_dataloader(val, 1, 0, shuffle=False)))
    # the 64x128 synthetic images are resized to fit (2048, 1024): 1024x2048
    assert batch['img'][0].shape == (1, 3, 1024, 2048) and batch['img_metas'][0][0]['ori_shape'] == (64, 128, 3)


def test_camvid_recipe_on_real_camvid(camvid_root):
    cfg = Config.fromfile(str(CONFIGS / 'ddrnet' / 'ddrnet_23_slim_720x960_20k_camvid.py'))
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 11
    train = build_dataset(dict(cfg.data.train, data_root=str(camvid_root)))
    sample = train[0]
    assert sample['img'].shape == (3, 720, 960) and sample['img'].dtype == torch.float32
    labels = set(sample['gt_semantic_seg'].unique().tolist())
    assert labels <= set(range(11)) | {255}
    val = build_dataset(dict(cfg.data.val, data_root=str(camvid_root), test_mode=True))
    assert len(val) == 101 and val.CLASSES[0] == 'Sky'
