"""A DDRNet-23-slim briefly trained on a few real CamVid images (shared by the ONNX parity tests and the note)."""
from pathlib import Path

import torch

from mmseg_ddrnet.apis import train_segmentor
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.models import build_segmentor

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / 'configs' / 'ddrnet' / 'ddrnet_23_slim_720x960_20k_camvid.py'
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def _split(camvid_root: Path, folder: str, out: Path, step: int, count: int) -> str:
    names = sorted(p.stem for p in (camvid_root / folder).glob('*.png'))[::step][:count]
    out.write_text('\n'.join(names) + '\n')
    return str(out)


def camvid_config(camvid_root: Path, work_dir: Path, scale=(160, 120), train_images: int = 8, iters: int = 40,
                  val_images: int = 12) -> Config:
    """The CamVid recipe shrunk: ``train_images`` at ``scale`` (w, h), ``iters`` iterations, BN, a val subset.

    ``val_images=None`` tests on the whole val split. The test pipeline keeps the recipe's structure.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg = Config.fromfile(str(RECIPE))
    train = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
             dict(type='Resize', img_scale=scale, keep_ratio=True), dict(type='RandomFlip', prob=0.0),
             dict(type='Normalize', **NORM), dict(type='DefaultFormatBundle'),
             dict(type='Collect', keys=['img', 'gt_semantic_seg'])]
    test = [dict(type='LoadImageFromFile'),
            dict(type='MultiScaleFlipAug', img_scale=scale, flip=False,
                 transforms=[dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
                             dict(type='Normalize', **NORM), dict(type='ImageToTensor', keys=['img']),
                             dict(type='Collect', keys=['img'])])]
    test_data = dict(data_root=str(camvid_root), pipeline=test)
    if val_images is not None:
        test_data['split'] = _split(camvid_root, 'val', work_dir / 'val.txt', 101 // val_images, val_images)
    cfg.merge_from_dict({
        'norm_cfg': dict(type='BN', requires_grad=True),
        'model.backbone.norm_cfg': dict(type='BN', requires_grad=True),
        'model.decode_head.norm_cfg': dict(type='BN', requires_grad=True),
        'model.auxiliary_head.norm_cfg': dict(type='BN', requires_grad=True),
        'data.samples_per_gpu': 4, 'data.workers_per_gpu': 0,
        'data.train': dict(data_root=str(camvid_root), pipeline=train,
                           split=_split(camvid_root, 'train', work_dir / 'train.txt', 367 // train_images,
                                        train_images)),
        'data.test': test_data,
        'optimizer.lr': 0.05, 'lr_config': dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False),
        'runner.max_iters': iters, 'log_config.interval': 10, 'checkpoint_config.interval': iters,
        'evaluation.interval': 10 ** 6, 'work_dir': str(work_dir), 'seed': 0, 'gpu_ids': [0]})
    return cfg


def train_camvid_model(cfg: Config) -> Path:
    """Train ``cfg`` (seeded) and return the path of its last checkpoint; the config is written beside it."""
    torch.manual_seed(0)
    model = build_segmentor(cfg.model)
    train_segmentor(model, build_dataset(cfg.data.train), cfg, distributed=False, validate=False, meta=dict(seed=0))
    work_dir = Path(cfg.work_dir)
    cfg.dump(str(work_dir / 'config.py'))
    return work_dir / f'iter_{cfg.runner.max_iters}.pth'
