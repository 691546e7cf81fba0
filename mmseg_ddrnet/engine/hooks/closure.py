"""``ClosureHook`` (mmcv 1.x): a function from the config run at one hook stage."""
from typing import Callable

from ...registry import HOOKS
from ...utils import ConfigError
from .hook import Hook


@HOOKS.register_module()
class ClosureHook(Hook):
    """Runs ``fn(runner)`` at the stage ``fn_name`` (e.g. ``'after_train_iter'``, or mmcv's ``'after_iter'``).

    Args:
        fn_name: the hook method to replace.
        fn: a callable taking the runner (defined in a Python config file, for instance).
    """

    def __init__(self, fn_name: str, fn: Callable):
        stages = list(Hook.STAGES) + list(Hook.GENERIC_STAGES)
        if fn_name not in stages:
            raise ConfigError(f'ClosureHook: fn_name must be a hook stage ({stages}), got {fn_name!r}')
        if not callable(fn):
            raise ConfigError(f'ClosureHook: fn must be callable, got {fn!r}')
        setattr(self, fn_name, fn)

    def get_triggered_stages(self):
        stages = set(super().get_triggered_stages())
        for stage in Hook.STAGES:
            if stage in vars(self):
                stages.add(stage)
        for method, mapped in Hook.GENERIC_STAGES.items():
            if method in vars(self):
                stages.update(mapped)
        return [stage for stage in Hook.STAGES if stage in stages]
