"""Writes the logged values as TensorBoard scalars (needs the optional ``tensorboard`` package)."""
import os.path as osp
from typing import Optional

from ...registry import HOOKS
from ...utils import ConfigError
from .logger import LoggerHook


@HOOKS.register_module()
class TensorboardLoggerHook(LoggerHook):
    """mmcv's tags as scalars (``train/<key>``, ``val/<metric>``, ``learning_rate``, ``momentum``; text values
    as text) at the global iteration, in ``log_dir`` (default ``<work_dir>/tf_logs``), rank 0 only.
    """

    def __init__(self, log_dir: Optional[str] = None, interval: int = 10, ignore_last: bool = True,
                 reset_flag: bool = False, by_epoch: bool = True):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        self.log_dir = log_dir
        self.writer = None

    def before_run(self, runner) -> None:
        super().before_run(runner)
        if runner.rank != 0:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ConfigError('TensorboardLoggerHook in log_config needs the tensorboard package '
                              f'(pip install tensorboard), or remove it from log_config.hooks ({err})') from err
        self.writer = SummaryWriter(self.log_dir or osp.join(runner.work_dir, 'tf_logs'))

    def log(self, runner) -> None:
        if self.writer is None:
            return
        step = self.get_iter(runner)
        for tag, value in self.get_loggable_tags(runner, allow_text=True).items():
            if isinstance(value, str):
                self.writer.add_text(tag, value, step)
            else:
                self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def after_run(self, runner) -> None:
        if self.writer is not None:
            self.writer.close()
