"""A user's extension module as an mmseg-0.x user writes it, loaded through ``custom_imports``.

Only the imports differ from 0.x (``mmseg.datasets.builder.DATASETS``, ``mmseg.datasets.custom.CustomDataset``,
``mmseg.models.builder.LOSSES`` and ``mmcv.runner.HOOKS``/``Hook`` become this package's). The dataset follows
the 0.x tutorial (class-level CLASSES/PALETTE, suffixes fixed in ``__init__``); the loss follows the 0.x loss
contract: ``forward(cls_score, label, weight=None, ignore_index=255, **kwargs)`` where ``cls_score`` is already
resized to the label size.
"""
import os.path as osp

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg_ddrnet.engine.hooks.hook import Hook
from mmseg_ddrnet.datasets.custom import CustomDataset
from mmseg_ddrnet.registry import DATASETS, HOOKS, LOSSES


@DATASETS.register_module()
class UserRoadDataset(CustomDataset):
    """road / building / sky; images ``.jpg``, labels ``.png`` with 0 = unlabelled."""

    CLASSES = ('road', 'building', 'sky')
    PALETTE = [[128, 64, 128], [70, 70, 70], [70, 130, 180]]

    def __init__(self, **kwargs):
        super().__init__(img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True, **kwargs)
        assert osp.exists(self.img_dir)


@LOSSES.register_module()
class UserL1ProbLoss(nn.Module):
    """Mean |softmax(cls_score) - one_hot(label)| over the non-ignored pixels."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_user_l1'):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, cls_score, label, weight=None, ignore_index=255, **kwargs):
        valid = label != ignore_index
        one_hot = F.one_hot(torch.where(valid, label, 0), cls_score.shape[1]).permute(0, 3, 1, 2)
        diff = (cls_score.softmax(dim=1) - one_hot).abs().sum(dim=1)
        return self.loss_weight * diff[valid].mean()

    @property
    def loss_name(self):
        return self._loss_name


@HOOKS.register_module()
class UserIterCountHook(Hook):
    """Writes the number of training iterations it saw to ``work_dir/out_file`` after the run."""

    def __init__(self, out_file: str = 'user_hook_iters.txt'):
        self.out_file = out_file
        self.count = 0

    def after_train_iter(self, runner):
        self.count += 1

    def after_run(self, runner):
        with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
            f.write(f'{self.count} {runner.iter}\n')
