"""The training engine: runners, hooks, lr schedules, optimizer, mixed precision, RNG state, data iterators.

Checkpoint I/O is :mod:`mmseg_ddrnet.checkpoint`; device and distributed helpers are :mod:`mmseg_ddrnet.utils.dist`.
"""
from .amp import MixedPrecision, build_mixed_precision
from .base_runner import BaseRunner
from .data_iter import IterLoader, set_loader_epoch
from .lr import (CosineAnnealingLr, CosineRestartLr, CyclicLr, ExpLr, FixedLr, FlatCosineAnnealingLr, InvLr,
                 LinearAnnealingLr, LrSchedule, OneCycleLr, PolyLr, StepLr, annealing_cos, annealing_linear,
                 build_lr_schedule)
from .optimizer import build_optimizer
from .rng import get_rng_state, init_random_seed, set_random_seed, set_rng_state
from .runner import EpochBasedRunner, IterBasedRunner, build_runner

__all__ = ['MixedPrecision', 'build_mixed_precision', 'BaseRunner', 'IterBasedRunner', 'EpochBasedRunner',
           'build_runner', 'IterLoader', 'set_loader_epoch', 'LrSchedule', 'FixedLr', 'StepLr', 'PolyLr', 'ExpLr',
           'CosineAnnealingLr', 'InvLr', 'LinearAnnealingLr', 'FlatCosineAnnealingLr', 'CosineRestartLr', 'CyclicLr',
           'OneCycleLr', 'annealing_cos', 'annealing_linear', 'build_lr_schedule', 'build_optimizer',
           'get_rng_state', 'set_rng_state', 'init_random_seed', 'set_random_seed']
