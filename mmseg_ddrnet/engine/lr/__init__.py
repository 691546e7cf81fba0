"""Learning-rate schedules (mmcv 1.x ``lr_config`` policies), registered in ``LR_SCHEDULES``."""
from .base import AnnealToMinLr, LrSchedule, annealing_cos, annealing_linear
from .builder import build_lr_schedule
from .momentum import MomentumSchedule, build_momentum_schedule
from .policies import (CosineAnnealingLr, CosineRestartLr, CyclicLr, ExpLr, FixedLr, FlatCosineAnnealingLr, InvLr,
                       LinearAnnealingLr, OneCycleLr, PolyLr, StepLr, register_policy)

__all__ = ['MomentumSchedule', 'build_momentum_schedule', 'AnnealToMinLr', 'LrSchedule', 'annealing_cos', 'annealing_linear', 'build_lr_schedule',
           'CosineAnnealingLr', 'CosineRestartLr', 'CyclicLr', 'ExpLr', 'FixedLr', 'FlatCosineAnnealingLr', 'InvLr',
           'LinearAnnealingLr', 'OneCycleLr', 'PolyLr', 'StepLr', 'register_policy']
