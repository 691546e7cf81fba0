"""Sets the momentum (or ``betas[0]``) of every parameter group from a momentum schedule (``momentum_config``)."""
from typing import List

from ...utils import ConfigError
from ..lr import MomentumSchedule
from .hook import Hook


def set_momentum(optimizer, momentums: List[float]) -> None:
    """Write ``momentums`` into the groups: ``momentum`` where the group has it, else ``betas[0]`` (mmcv's rule)."""
    for group, momentum in zip(optimizer.param_groups, momentums):
        if 'momentum' in group:
            group['momentum'] = momentum
        elif 'betas' in group:
            group['betas'] = (momentum, group['betas'][1])


class MomentumUpdaterHook(Hook):
    """Applies ``schedule`` (with its warmup) as mmcv 1.x's ``MomentumUpdaterHook`` does (priority HIGH)."""

    def __init__(self, schedule: MomentumSchedule):
        self.schedule = schedule
        self.base_momentum: List[float] = []
        self.regular_momentum: List[float] = []

    def before_run(self, runner) -> None:
        if self.schedule.by_epoch and runner.max_epochs is None:
            raise ConfigError(f'momentum_config (policy {self.schedule.policy!r}): by_epoch=True needs an '
                              'EpochBasedRunner (an IterBasedRunner runs one epoch only, so the momentum would '
                              'never change); set by_epoch=False')
        self.base_momentum = self.schedule.setup(runner.optimizer.param_groups, type(runner.optimizer).__name__,
                                                 runner.max_iters)

    def _regular(self, runner) -> List[float]:
        if self.schedule.by_epoch:
            progress, max_progress = runner.epoch, runner.max_epochs
        else:
            progress, max_progress = runner.iter, runner.max_iters
        return [self.schedule.get_momentum(base, group, progress, max_progress)
                for base, group in zip(self.base_momentum, runner.optimizer.param_groups)]

    def _warmup(self, cur_iter: int) -> List[float]:
        return [self.schedule.warmup_momentum(m, cur_iter) for m in self.regular_momentum]

    def before_train_epoch(self, runner) -> None:
        if not self.schedule.by_epoch:
            return
        self.regular_momentum = self._regular(runner)
        set_momentum(runner.optimizer, self.regular_momentum)

    def before_train_iter(self, runner) -> None:
        cur_iter = runner.iter
        if not self.schedule.by_epoch:
            self.regular_momentum = self._regular(runner)
            in_warmup = self.schedule.in_warmup(cur_iter)
            set_momentum(runner.optimizer, self._warmup(cur_iter) if in_warmup else self.regular_momentum)
        elif self.schedule.warmup is not None and cur_iter <= self.schedule.warmup_iters:
            in_warmup = cur_iter < self.schedule.warmup_iters
            set_momentum(runner.optimizer, self._warmup(cur_iter) if in_warmup else self.regular_momentum)
