"""Sets the learning rate of every parameter group from an :class:`~mmseg_ddrnet.engine.lr.LrSchedule`."""
from typing import List

from ...utils import ConfigError
from ..lr import LrSchedule
from .hook import Hook


class LrUpdaterHook(Hook):
    """Applies ``schedule`` (with its warmup) as mmcv 1.x's ``LrUpdaterHook`` does.

    The base lr of each group is its ``initial_lr`` (set from ``lr`` before the first run and kept in the
    optimizer's state dict, so a resumed run continues the same schedule); ``OneCycle`` derives it from ``max_lr``
    (:meth:`LrSchedule.setup`).
    """

    def __init__(self, schedule: LrSchedule):
        self.schedule = schedule
        self.base_lr: List[float] = []

    def before_run(self, runner) -> None:
        if self.schedule.by_epoch and runner.max_epochs is None:
            raise ConfigError(f'lr_config (policy {self.schedule.policy!r}): by_epoch=True needs an '
                              'EpochBasedRunner (max_epochs); set by_epoch=False')
        max_progress = runner.max_epochs if self.schedule.by_epoch else runner.max_iters
        self.base_lr = self.schedule.setup(runner.optimizer.param_groups, type(runner.optimizer).__name__,
                                           max_progress)

    def _regular_lr(self, runner) -> List[float]:
        if self.schedule.by_epoch:
            progress, max_progress = runner.epoch, runner.max_epochs
        else:
            progress, max_progress = runner.iter, runner.max_iters
        return [self.schedule.get_lr(base, progress, max_progress) for base in self.base_lr]

    @staticmethod
    def _set_lr(runner, lrs: List[float]) -> None:
        for group, lr in zip(runner.optimizer.param_groups, lrs):
            group['lr'] = lr

    def before_train_epoch(self, runner) -> None:
        if self.schedule.warmup_by_epoch:  # as mmcv: whether or not the regular lr changes per epoch
            self.schedule.warmup_iters = self.schedule.warmup_epochs * len(runner.data_loader)
        if not self.schedule.by_epoch:
            return
        self._set_lr(runner, self._regular_lr(runner))

    def before_train_iter(self, runner) -> None:
        cur_iter = runner.iter
        if self.schedule.by_epoch and not (self.schedule.in_warmup(cur_iter)
                                           or cur_iter == self.schedule.warmup_iters):
            return  # the regular lr changes per epoch (before_train_epoch)
        self._set_lr(runner, [self.schedule.lr_at(base, cur_iter, runner.max_iters, runner.epoch, runner.max_epochs)
                              for base in self.base_lr])
