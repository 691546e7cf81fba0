"""A tiny CamVid-layout dataset, a tiny DDRNet config and a random checkpoint, for the deploy and analysis tools."""
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np
import torch

from mmseg_ddrnet.config import Config
from mmseg_ddrnet.metrics import CAMVID_CLASSES, CAMVID_PALETTE
from mmseg_ddrnet.checkpoint import get_state_dict, save_checkpoint
from mmseg_ddrnet.models import build_segmentor

REPO = Path(__file__).resolve().parents[1]
HW = (48, 64)
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
TEST_PIPELINE = '''
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=({w}, {h}), flip=False,
         transforms=[dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
                     dict(type='Normalize', **img_norm_cfg), dict(type='ImageToTensor', keys=['img']),
                     dict(type='Collect', keys=['img'])])]
'''  # the 0.x single-scale test pipeline at ({w}, {h}); needs img_norm_cfg
CONFIG = '''
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    backbone=dict(type='DDRNet', extra=dict(layers=[1, 1, 1, 1], planes=8, spp_planes=16), norm_cfg=norm_cfg),
    decode_head=dict(type='DDRHead', in_channels=32, channels=16, num_classes=11, norm_cfg=norm_cfg),
    auxiliary_head=dict(type='DDRHead', in_channels=16, in_index=0, channels=16, num_classes=11,
                        norm_cfg=norm_cfg),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
img_norm_cfg = dict(mean={mean}, std={std}, to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=({w}, {h}), ratio_range=(1.0, 1.5)),
    dict(type='RandomCrop', crop_size=({h}, {w})), dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg), dict(type='Pad', size=({h}, {w}), pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'), dict(type='Collect', keys=['img', 'gt_semantic_seg'])]
'''
CONFIG += TEST_PIPELINE + '''
data = dict(
    samples_per_gpu=2, workers_per_gpu=0,
    train=dict(type='CamVidDataset', data_root={root!r}, img_dir='train', ann_dir='trainannot',
               pipeline=train_pipeline),
    test=dict(type='CamVidDataset', data_root={root!r}, img_dir='val', ann_dir='valannot',
              pipeline=test_pipeline))
'''


def write_dataset(root: Path, count: int = 3, hw: Tuple[int, int] = HW) -> None:
    """``count`` random images per split with band labels (class k+i per band, the last band void = 11)."""
    rng = np.random.RandomState(0)
    h, w = hw
    for split, ann in (('train', 'trainannot'), ('val', 'valannot')):
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / ann).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
            label = np.zeros((h, w), np.uint8)
            for band, value in enumerate([i, 3 + i, 8, 11]):
                label[:, band * w // 4:(band + 1) * w // 4] = value
            cv2.imwrite(str(root / split / f'img_{i}.png'), img)
            cv2.imwrite(str(root / ann / f'img_{i}.png'), label)


def write_config(path: Path, root: Path, hw: Tuple[int, int] = HW) -> Path:
    path.write_text(CONFIG.format(mean=MEAN, std=STD, root=str(root), h=hw[0], w=hw[1]))
    return path


def write_checkpoint(path: Path, config: Path, seed: int = 0) -> Path:
    """A random model with non-trivial BatchNorm statistics, CamVid's classes and palette in its meta."""
    torch.manual_seed(seed)
    cfg = Config.fromfile(str(config))
    model = build_segmentor(cfg.model)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    meta = dict(CLASSES=list(CAMVID_CLASSES), PALETTE=[list(c) for c in CAMVID_PALETTE], iter=10, epoch=1,
                hook_msgs=dict(last_ckpt='/somewhere/iter_10.pth'))
    save_checkpoint({'meta': meta, 'state_dict': get_state_dict(model)}, path)
    return path


def setup(tmp: Path) -> Tuple[Path, Path, Path]:
    """``(data root, config, checkpoint)`` under ``tmp``."""
    root = tmp / 'camvid'
    write_dataset(root)
    config = write_config(tmp / 'tiny_camvid.py', root)
    return root, config, write_checkpoint(tmp / 'model.pth', config)
