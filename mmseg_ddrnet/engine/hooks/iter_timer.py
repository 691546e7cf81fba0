"""Measures the time of each iteration and of its data loading (``time``, ``data_time``)."""
import time

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class IterTimerHook(Hook):

    def __init__(self):
        self.t = time.time()

    def before_train_epoch(self, runner) -> None:
        self.t = time.time()

    before_val_epoch = before_train_epoch

    def before_train_iter(self, runner) -> None:
        runner.log_buffer.update({'data_time': time.time() - self.t})

    before_val_iter = before_train_iter

    def after_train_iter(self, runner) -> None:
        runner.log_buffer.update({'time': time.time() - self.t})
        self.t = time.time()

    after_val_iter = after_train_iter
