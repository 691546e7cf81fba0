"""The hook base class and hook priorities (mmcv 1.x names and values)."""
from enum import IntEnum
from typing import List, Union


class Priority(IntEnum):
    """Lower values run first."""
    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: Union[int, str, Priority]) -> int:
    """The integer value of a priority given as a number, a name (``'NORMAL'``) or a :class:`Priority`."""
    if isinstance(priority, str):
        try:
            return int(Priority[priority.upper()])
        except KeyError:
            raise ValueError(f'unknown hook priority {priority!r}; use one of {[p.name for p in Priority]}')
    if not 0 <= int(priority) <= 100:
        raise ValueError(f'hook priority must be in [0, 100], got {priority}')
    return int(priority)


class Hook:
    """A set of callbacks the runner calls at fixed points of training (mmcv 1.x's ``Hook``).

    As in mmcv, the train/val stage methods call the generic ones (``before_epoch``, ``after_epoch``,
    ``before_iter``, ``after_iter``), so a hook written for mmcv that overrides only those runs in both phases.
    """

    STAGES = ('before_run', 'before_train_epoch', 'before_train_iter', 'after_train_iter', 'after_train_epoch',
              'before_val_epoch', 'before_val_iter', 'after_val_iter', 'after_val_epoch', 'after_run')
    GENERIC_STAGES = {'before_epoch': ('before_train_epoch', 'before_val_epoch'),
                      'after_epoch': ('after_train_epoch', 'after_val_epoch'),
                      'before_iter': ('before_train_iter', 'before_val_iter'),
                      'after_iter': ('after_train_iter', 'after_val_iter')}

    def on_register(self, runner) -> None:
        """Called once when the runner registers the hook, before any resume (not an mmcv stage)."""

    def before_run(self, runner) -> None:
        pass

    def after_run(self, runner) -> None:
        pass

    def before_epoch(self, runner) -> None:
        pass

    def after_epoch(self, runner) -> None:
        pass

    def before_iter(self, runner) -> None:
        pass

    def after_iter(self, runner) -> None:
        pass

    def before_train_epoch(self, runner) -> None:
        self.before_epoch(runner)

    def after_train_epoch(self, runner) -> None:
        self.after_epoch(runner)

    def before_train_iter(self, runner) -> None:
        self.before_iter(runner)

    def after_train_iter(self, runner) -> None:
        self.after_iter(runner)

    def before_val_epoch(self, runner) -> None:
        self.before_epoch(runner)

    def after_val_epoch(self, runner) -> None:
        self.after_epoch(runner)

    def before_val_iter(self, runner) -> None:
        self.before_iter(runner)

    def after_val_iter(self, runner) -> None:
        self.after_iter(runner)

    def get_triggered_stages(self) -> List[str]:
        """The stages at which this hook does something (its class overrides the stage or its generic form)."""
        def overridden(method: str) -> bool:
            return getattr(type(self), method) is not getattr(Hook, method)
        stages = {stage for stage in self.STAGES if overridden(stage)}
        for method, mapped in self.GENERIC_STAGES.items():
            if overridden(method):
                stages.update(mapped)
        return [stage for stage in self.STAGES if stage in stages]

    # ---- helpers shared by the hooks (``runner.iter`` counts finished iterations before the increment)

    @staticmethod
    def every_n_iters(runner, n: int) -> bool:
        """Whether the iteration now finishing is a multiple of ``n`` (1-based)."""
        return n > 0 and (runner.iter + 1) % n == 0

    @staticmethod
    def every_n_inner_iters(runner, n: int) -> bool:
        return n > 0 and (runner.inner_iter + 1) % n == 0

    @staticmethod
    def every_n_epochs(runner, n: int) -> bool:
        return n > 0 and (runner.epoch + 1) % n == 0

    @staticmethod
    def end_of_epoch(runner) -> bool:
        return runner.inner_iter + 1 == len(runner.data_loader)

    @staticmethod
    def is_last_iter(runner) -> bool:
        return runner.iter + 1 == runner.max_iters

    @staticmethod
    def is_last_epoch(runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs
