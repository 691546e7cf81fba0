"""The lr and momentum updater hooks from ``lr_config`` / ``momentum_config``, and mmcv's hook names for them.

mmcv 1.x registers one hook class per policy (``PolyLrUpdaterHook``, ``CyclicMomentumUpdaterHook``, ...); a
config may name them in ``custom_hooks``. Here each name builds the project's updater hook with that policy;
as mmcv's classes, they default to ``by_epoch=True`` (``Cyclic``/``OneCycle``: False).
"""
from typing import Callable

from ..registry import HOOKS, LR_SCHEDULES
from .hooks import LrUpdaterHook, MomentumUpdaterHook
from .lr import build_lr_schedule, build_momentum_schedule
from .lr.momentum import POLICY_NAMES as MOMENTUM_POLICIES


def build_lr_hook(lr_config: dict, by_epoch_default: bool) -> LrUpdaterHook:
    """The lr hook of an ``lr_config`` (``policy`` and its arguments)."""
    return LrUpdaterHook(build_lr_schedule(lr_config, by_epoch_default))


def build_momentum_hook(momentum_config: dict, by_epoch_default: bool) -> MomentumUpdaterHook:
    """The momentum hook of a ``momentum_config`` (``policy`` and its arguments)."""
    return MomentumUpdaterHook(build_momentum_schedule(momentum_config, by_epoch_default))


def _hook_factory(policy: str, build: Callable, kind: str) -> Callable:
    def factory(**kwargs):
        return build(dict(kwargs, policy=policy), True)
    factory.__name__ = factory.__qualname__ = f'{policy}{kind}UpdaterHook'
    factory.__doc__ = f'mmcv\'s {factory.__name__}: the {kind.lower()} policy {policy!r} (custom_hooks).'
    return factory


def _register_mmcv_names() -> None:
    for cls in LR_SCHEDULES.module_dict.values():
        name = cls.policy[0].upper() + cls.policy[1:]  # mmcv: 'poly' -> 'PolyLrUpdaterHook'
        HOOKS.register_module(name=f'{name}LrUpdaterHook', module=_hook_factory(cls.policy, build_lr_hook, 'Lr'))
    for policy in MOMENTUM_POLICIES:
        HOOKS.register_module(name=f'{policy}MomentumUpdaterHook',
                              module=_hook_factory(policy, build_momentum_hook, 'Momentum'))


_register_mmcv_names()
