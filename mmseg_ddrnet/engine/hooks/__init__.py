"""Training hooks (mmcv 1.x / mmseg 0.x names); importing registers them in ``HOOKS``."""
from . import refused  # noqa: F401  (mmcv hook types refused with a reason)
from .checkpoint import CheckpointHook
from .closure import ClosureHook
from .ema import EMAHook
from .eval import DistEvalHook, EvalHook
from .hook import Hook, Priority, get_priority
from .iter_timer import IterTimerHook
from .logger import LoggerHook, TextLoggerHook
from .lr_updater import LrUpdaterHook
from .memory import EmptyCacheHook
from .momentum_updater import MomentumUpdaterHook
from .optimizer import GradientCumulativeOptimizerHook, OptimizerHook
from .mlflow_logger import MlflowLoggerHook
from .profiler import ProfilerHook
from .signals import SignalHook
from .sync import DistSamplerSeedHook, SyncBuffersHook
from .tensorboard import TensorboardLoggerHook
from .wandb_logger import WandbLoggerHook

__all__ = ['Hook', 'Priority', 'get_priority', 'CheckpointHook', 'EvalHook', 'DistEvalHook', 'IterTimerHook',
           'LoggerHook', 'TextLoggerHook', 'TensorboardLoggerHook', 'LrUpdaterHook', 'OptimizerHook',
           'GradientCumulativeOptimizerHook', 'EmptyCacheHook', 'MomentumUpdaterHook', 'ClosureHook', 'EMAHook',
           'MlflowLoggerHook', 'ProfilerHook', 'DistSamplerSeedHook', 'SyncBuffersHook', 'WandbLoggerHook',
           'SignalHook']
