"""``build_lr_schedule``: an mmcv ``lr_config`` to the schedule of its policy (registry ``LR_SCHEDULES``)."""
import inspect
from typing import List, Set, Tuple

from ...registry import LR_SCHEDULES
from ...utils import ConfigError
from . import policies  # noqa: F401  registers the policies
from .base import LrSchedule


def _signature(cls: type) -> Tuple[Set[str], Set[str]]:
    """The keyword arguments ``cls`` accepts, and those it requires, along its ``__init__`` chain."""
    accepted: Set[str] = set()
    required: Set[str] = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        params = list(inspect.signature(vars(klass)['__init__']).parameters.values())[1:]
        named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        accepted.update(p.name for p in named)
        required.update(p.name for p in named if p.default is p.empty)
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return accepted, required


def _check_args(cls: type, policy: str, args: dict) -> None:
    accepted, required = _signature(cls)
    unknown = sorted(set(args) - accepted)
    if unknown:
        raise ConfigError(f'lr_config (policy {policy!r}): unexpected keyword argument(s) {unknown}; '
                          f'{cls.policy} takes {sorted(accepted)}')
    missing = sorted(required - set(args))
    if missing:
        raise ConfigError(f'lr_config (policy {policy!r}): missing required argument(s) {missing}')


def build_lr_schedule(lr_config: dict, by_epoch_default: bool) -> LrSchedule:
    """The schedule of an mmcv ``lr_config`` (``policy`` plus that policy's arguments, case-insensitive name).

    ``by_epoch`` defaults to ``by_epoch_default`` (the runner's), except for the policies mmcv updates every
    iteration only (``Cyclic``, ``OneCycle``).
    """
    args = dict(lr_config)
    policy = args.pop('policy', None)
    if not isinstance(policy, str) or policy.lower() not in LR_SCHEDULES:
        names: List[str] = [cls.policy for cls in LR_SCHEDULES.module_dict.values()]
        raise ConfigError(f'lr_config.policy must be one of {names}, got {policy!r}')
    cls = LR_SCHEDULES.get(policy.lower())
    if not cls.iter_based:
        args.setdefault('by_epoch', by_epoch_default)
    _check_args(cls, policy, args)
    try:
        return cls(**args)
    except TypeError as err:
        raise ConfigError(f'lr_config (policy {policy!r}): {err}') from err
