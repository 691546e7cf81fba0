"""A tiny registered segmentor and a generated CustomDataset for fast engine tests.

Import this module (``custom_imports=dict(imports=['toy'])`` with ``tests/engine`` on ``PYTHONPATH``, or a
plain import in tests) to register ``ToySegmentor``.
"""
import os
import signal
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmseg_ddrnet.engine.hooks import Hook
from mmseg_ddrnet.registry import HOOKS, MODELS

CLASSES = ('sky', 'road', 'car')
PALETTE = [[128, 128, 128], [128, 64, 128], [0, 0, 142]]


@MODELS.register_module(force=True)
class ToySegmentor(nn.Module):
    """conv-GN-ReLU-dropout-conv with the mmseg 0.x segmentor API (GroupNorm: no batch statistics)."""

    def __init__(self, num_classes: int = 3, channels: int = 8, norm: str = 'GN', dropout: float = 0.2,
                 train_cfg=None, test_cfg=None, pretrained=None):  # pretrained: init_segmentor sets it to None
        super().__init__()
        norm_layer = nn.GroupNorm(2, channels) if norm == 'GN' else nn.BatchNorm2d(channels)
        # dropout draws from torch's global RNG: an exact resume must restore it
        self.body = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), norm_layer, nn.ReLU(),
                                  nn.Dropout2d(dropout))
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, img, img_metas, return_loss: bool = True, gt_semantic_seg=None, **kwargs):
        if return_loss:
            logits = self.conv_seg(self.body(img))
            label = gt_semantic_seg.squeeze(1)
            loss = F.cross_entropy(logits, label, ignore_index=255)
            valid = label != 255
            acc = (logits.argmax(1)[valid] == label[valid]).float().mean() * 100
            return {'decode.loss_ce': loss, 'decode.acc_seg': acc.detach()}
        img, meta = img[0], img_metas[0]
        logits = self.conv_seg(self.body(img))
        out: List[np.ndarray] = []
        for i, m in enumerate(meta):
            h, w = m['ori_shape'][:2]
            up = F.interpolate(logits[i:i + 1], size=(h, w), mode='bilinear', align_corners=False)
            out.append(up.argmax(1)[0].cpu().numpy().astype(np.int64))
        return out


@HOOKS.register_module(force=True)
class SigkillHook(Hook):
    """Kills its own process with SIGKILL (no cleanup at all) after iteration ``at_iter`` (1-based)."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def after_train_iter(self, runner) -> None:
        if runner.iter + 1 == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module(force=True)
class SignalSelfHook(Hook):
    """Sends each of ``signals`` (names) to its own process before iteration ``at_iter`` (1-based), on ``ranks``
    (None: every rank)."""

    def __init__(self, at_iter: int, signals=('SIGTERM',), ranks=None):
        self.at_iter = at_iter
        self.signals = list(signals)
        self.ranks = None if ranks is None else set(ranks)

    def before_train_iter(self, runner) -> None:
        if runner.iter + 1 == self.at_iter and (self.ranks is None or runner.rank in self.ranks):
            for name in self.signals:
                os.kill(os.getpid(), getattr(signal, name))


@HOOKS.register_module(force=True)
class NaNLossHook(Hook):
    """Makes the loss term ``decode.loss_ce`` NaN at the given iterations (1-based) on ``ranks`` (None: all)
    before the optimizer hook runs (register with priority HIGH)."""

    def __init__(self, at_iters=(3,), ranks=None, value: float = float('nan')):
        self.at_iters = set(at_iters)
        self.ranks = None if ranks is None else set(ranks)
        self.value = value

    def after_train_iter(self, runner) -> None:
        if runner.iter + 1 in self.at_iters and (self.ranks is None or runner.rank in self.ranks):
            runner.outputs['loss'] = runner.outputs['loss'] * self.value
            runner.outputs['log_vars']['decode.loss_ce'] = self.value


@HOOKS.register_module(force=True)
class RecordWeightsHook(Hook):
    """Keeps a copy of the weights after each iteration (1-based) in the class attribute ``records``."""

    records: Dict[int, Dict[str, torch.Tensor]] = {}

    def after_train_iter(self, runner) -> None:
        RecordWeightsHook.records[runner.iter + 1] = {
            key: value.detach().clone() for key, value in runner.model.state_dict().items()}


@HOOKS.register_module(force=True)
class DumpWeightsHook(Hook):
    """Saves this rank's final weights as ``<work_dir>/final_rank<r>.pth`` (every rank, not only rank 0)."""

    def after_run(self, runner) -> None:
        from mmseg_ddrnet.checkpoint import get_state_dict
        torch.save(get_state_dict(runner.model), osp.join(runner.work_dir, f'final_rank{runner.rank}.pth'))


def make_toy_data(root: str, num_train: int = 8, num_val: int = 4, size: int = 16) -> str:
    """PNG images and label maps whose class follows the image's colour (learnable), in CustomDataset layout."""
    rng = np.random.default_rng(0)
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, 'img', split), exist_ok=True)
        os.makedirs(osp.join(root, 'ann', split), exist_ok=True)
        for i in range(count):
            label = rng.integers(0, 3, size=(size // 4, size // 4)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
            img = np.asarray(PALETTE, np.float32)[label] + rng.normal(0, 20, (size, size, 3))
            cv2.imwrite(osp.join(root, 'img', split, f'{i:03d}.png'), np.clip(img, 0, 255).astype(np.uint8))
            cv2.imwrite(osp.join(root, 'ann', split, f'{i:03d}.png'), label)
    return root


def toy_config(data_root: str, max_iters: int = 4, **overrides) -> Dict:
    """A complete training config (dict) on the toy data; ``overrides`` replace top-level keys."""
    norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
    train_pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='RandomFlip', prob=0.5), dict(type='PhotoMetricDistortion'),
        dict(type='Normalize', **norm), dict(type='DefaultFormatBundle'),
        dict(type='Collect', keys=['img', 'gt_semantic_seg'])]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='MultiScaleFlipAug', img_scale=(16, 16), flip=False, transforms=[
            dict(type='Resize', keep_ratio=True), dict(type='Normalize', **norm),
            dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]
    common = dict(type='CustomDataset', data_root=data_root, img_suffix='.png', seg_map_suffix='.png',
                  classes=CLASSES, palette=PALETTE)
    cfg = dict(
        model=dict(type='ToySegmentor'),
        data=dict(samples_per_gpu=2, workers_per_gpu=0,
                  train=dict(**common, img_dir='img/train', ann_dir='ann/train', pipeline=train_pipeline),
                  val=dict(**common, img_dir='img/val', ann_dir='ann/val', pipeline=test_pipeline),
                  test=dict(**common, img_dir='img/val', ann_dir='ann/val', pipeline=test_pipeline)),
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005),
        optimizer_config=dict(),
        lr_config=dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False),
        runner=dict(type='IterBasedRunner', max_iters=max_iters),
        checkpoint_config=dict(by_epoch=False, interval=2),
        evaluation=dict(interval=2, metric='mIoU', pre_eval=True),
        log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook', by_epoch=False)]),
        dist_params=dict(backend='gloo'), log_level='INFO', load_from=None, resume_from=None,
        workflow=[('train', 1)], cudnn_benchmark=False)
    cfg.update(overrides)
    return cfg


def toy_config_file(path: str, data_root: str, max_iters: int = 4, **overrides) -> str:
    """Write :func:`toy_config` as a Python config file importing this module; returns ``path``."""
    cfg = toy_config(data_root, max_iters, **overrides)
    lines = ["custom_imports = dict(imports=['toy'], allow_failed_imports=False)"]
    lines += [f'{key} = {value!r}' for key, value in cfg.items()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def state_of(path: str) -> Dict[str, torch.Tensor]:
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']
