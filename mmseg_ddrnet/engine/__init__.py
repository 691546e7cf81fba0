"""The training engine: runners, optimizer and lr schedules, mixed precision, distributed and RNG helpers.

``engine.checkpoint`` (checkpoint I/O) is imported on its own by the parts that need only it.
"""
from .amp import MixedPrecision, build_mixed_precision
from .base_runner import BaseRunner
from .data_iter import IterLoader, set_loader_epoch
from .dist import (barrier, broadcast_object, default_backend, get_device, get_dist_info, init_dist,
                   is_distributed, is_main_process, master_only, to_device)
from .lr_policies import (CosineRestartLr, CyclicLr, FlatCosineAnnealingLr, InvLr, LinearAnnealingLr,
                          OneCycleLr)
from .lr_schedule import (CosineAnnealingLr, ExpLr, FixedLr, LrSchedule, PolyLr, StepLr, annealing_cos,
                          annealing_linear, build_lr_schedule)
from .optimizer import build_optimizer
from .rng import get_rng_state, init_random_seed, set_random_seed, set_rng_state
from .runner import EpochBasedRunner, IterBasedRunner, build_runner

__all__ = ['MixedPrecision', 'build_mixed_precision', 'BaseRunner', 'IterBasedRunner', 'EpochBasedRunner',
           'build_runner', 'IterLoader', 'set_loader_epoch', 'barrier', 'broadcast_object', 'default_backend',
           'get_device', 'get_dist_info', 'init_dist', 'is_distributed', 'is_main_process', 'master_only',
           'to_device', 'LrSchedule', 'FixedLr', 'StepLr', 'PolyLr', 'ExpLr', 'CosineAnnealingLr',
           'InvLr', 'LinearAnnealingLr', 'FlatCosineAnnealingLr', 'CosineRestartLr', 'CyclicLr', 'OneCycleLr',
           'annealing_cos', 'annealing_linear', 'build_lr_schedule', 'build_optimizer', 'get_rng_state', 'set_rng_state',
           'init_random_seed', 'set_random_seed']
