"""Training hooks (mmcv 1.x / mmseg 0.x names); importing registers them in ``HOOKS``."""
from .checkpoint import CheckpointHook
from .eval import DistEvalHook, EvalHook
from .hook import Hook, Priority, get_priority
from .iter_timer import IterTimerHook
from .logger import LoggerHook, TextLoggerHook
from .lr_updater import LrUpdaterHook
from .memory import EmptyCacheHook
from .optimizer import GradientCumulativeOptimizerHook, OptimizerHook
from .tensorboard import TensorboardLoggerHook

__all__ = ['Hook', 'Priority', 'get_priority', 'CheckpointHook', 'EvalHook', 'DistEvalHook', 'IterTimerHook',
           'LoggerHook', 'TextLoggerHook', 'TensorboardLoggerHook', 'LrUpdaterHook', 'OptimizerHook',
           'GradientCumulativeOptimizerHook', 'EmptyCacheHook']
