"""Momentum schedules with mmcv 1.x's formulas (``momentum_config`` in configs).

The policies are mmcv's ``*MomentumUpdaterHook`` family; each drives ``momentum`` (SGD, RMSprop) or
``betas[0]`` (Adam-like) of every parameter group:

- ``Step``: ``base * gamma ** k`` (``gamma`` 0.5), clipped below at ``min_momentum`` (the ``step`` lr policy's k)
- ``CosineAnnealing`` / ``LinearAnnealing``: from ``base`` to ``min_momentum`` or ``base * min_momentum_ratio``
- ``Cyclic`` (iterations only): the ``Cyclic`` lr policy's cycles, ``target_ratio`` default ``(0.85 / 0.95, 1)``
- ``OneCycle`` (iterations only): from ``max_momentum`` down to ``base_momentum`` over ``pct_start`` of the run,
  then back up (three phases with ``three_phase``), inversely to the 1cycle lr

``base`` is each group's ``initial_momentum`` (set from its momentum before the first run and kept in the
optimizer's state dict). Warmup *divides* the regular momentum by the lr warmup factor (mmcv's rule, default
``warmup_ratio`` 0.9). The regular shapes are the lr policies' own (:mod:`.policies`).
"""
from typing import Dict, List, Optional, Sequence, Union

from ...utils import ConfigError
from ...utils.checks import is_number
from .base import WARMUP_TYPES, LrSchedule, warmup_factor
from .policies import ANNEAL_FUNCS, CosineAnnealingLr, CyclicLr, LinearAnnealingLr, StepLr

_COMMON = ('by_epoch', 'warmup', 'warmup_iters', 'warmup_ratio')
# policy (lower case) -> (mmcv's name, the lr shape, its arguments: momentum name -> lr-schedule name)
_SHAPES = {
    'step': ('Step', StepLr, {'step': 'step', 'gamma': 'gamma', 'min_momentum': 'min_lr'}),
    'cosineannealing': ('CosineAnnealing', CosineAnnealingLr,
                        {'min_momentum': 'min_lr', 'min_momentum_ratio': 'min_lr_ratio'}),
    'linearannealing': ('LinearAnnealing', LinearAnnealingLr,
                        {'min_momentum': 'min_lr', 'min_momentum_ratio': 'min_lr_ratio'}),
    'cyclic': ('Cyclic', CyclicLr, {k: k for k in ('target_ratio', 'cyclic_times', 'step_ratio_up',
                                                  'anneal_strategy', 'gamma')}),
}
_DEFAULTS = {'step': {'gamma': 0.5}, 'cyclic': {'target_ratio': (0.85 / 0.95, 1.)}}
_ONE_CYCLE_ARGS = ('base_momentum', 'max_momentum', 'pct_start', 'anneal_strategy', 'three_phase')
POLICY_NAMES = [name for name, _, _ in _SHAPES.values()] + ['OneCycle']


def _error(policy: str, message: str) -> ConfigError:
    return ConfigError(f'momentum_config (policy {policy!r}): {message}')


class MomentumSchedule:
    """Base: warmup and the per-group base momentum; subclasses define :meth:`get_momentum`.

    Args:
        by_epoch: the regular momentum changes once per epoch (progress = epoch) instead of every iteration.
        warmup: ``None``, ``'constant'``, ``'linear'`` or ``'exp'``.
        warmup_iters: iterations of warmup.
        warmup_ratio: the warmup factor's start (momentum = regular / factor).
    """

    policy = ''

    def __init__(self, by_epoch: bool = True, warmup: Optional[str] = None, warmup_iters: int = 0,
                 warmup_ratio: float = 0.9):
        if warmup is not None:
            if warmup not in WARMUP_TYPES:
                raise _error(self.policy, f'warmup must be one of {WARMUP_TYPES} or None, got {warmup!r}')
            if not isinstance(warmup_iters, int) or warmup_iters <= 0:
                raise _error(self.policy, f'warmup_iters must be a positive int, got {warmup_iters!r}')
            if not 0 < warmup_ratio <= 1.0:
                raise _error(self.policy, f'warmup_ratio must be in (0, 1], got {warmup_ratio!r}')
        self.by_epoch = by_epoch
        self.warmup = warmup
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio

    def setup(self, param_groups: List[dict], optimizer_name: str, max_iters: int) -> List[float]:
        """Before the run: each group's ``initial_momentum`` (set from its momentum unless resumed)."""
        for group in param_groups:
            if 'momentum' in group:
                group.setdefault('initial_momentum', group['momentum'])
            elif 'betas' in group:
                group.setdefault('initial_momentum', group['betas'][0])
            else:
                raise _error(self.policy, f'the optimizer {optimizer_name} has neither momentum nor betas')
        return [group['initial_momentum'] for group in param_groups]

    def get_momentum(self, base: float, group: dict, progress: int, max_progress: int) -> float:
        raise NotImplementedError

    def in_warmup(self, cur_iter: int) -> bool:
        return self.warmup is not None and cur_iter < self.warmup_iters

    def warmup_momentum(self, regular: float, cur_iter: int) -> float:
        return regular / warmup_factor(self.warmup, self.warmup_ratio, cur_iter, self.warmup_iters)


class ShapedMomentum(MomentumSchedule):
    """A momentum that follows an lr policy's shape (``Step``, ``CosineAnnealing``, ``LinearAnnealing``,
    ``Cyclic``), the base momentum in place of the base lr."""

    def __init__(self, policy: str, shape: LrSchedule, **kwargs):
        self.policy = policy
        super().__init__(**kwargs)
        self.shape = shape

    def setup(self, param_groups: List[dict], optimizer_name: str, max_iters: int) -> List[float]:
        base = super().setup(param_groups, optimizer_name, max_iters)
        try:
            self.shape.setup([dict(lr=b) for b in base], optimizer_name, max_iters)
        except ConfigError as err:
            raise ConfigError(str(err).replace('lr_config', 'momentum_config', 1)) from err
        return base

    def get_momentum(self, base: float, group: dict, progress: int, max_progress: int) -> float:
        return self.shape.get_lr(base, progress, max_progress)


def _per_group(name: str, value: Union[float, list, dict], num_groups: int, optimizer_name: str) -> List[float]:
    if isinstance(value, dict):
        if optimizer_name not in value:
            raise _error('OneCycle', f'{name} has no entry for the optimizer {optimizer_name!r} '
                                     f'(keys: {sorted(value)})')
        value = value[optimizer_name]
    if is_number(value):
        return [float(value)] * num_groups
    if len(value) != num_groups:
        raise _error('OneCycle', f'{name} has {len(value)} values but the optimizer has {num_groups} '
                                 'parameter groups')
    return list(value)


class OneCycleMomentum(MomentumSchedule):
    """mmcv's 1cycle momentum: ``max_momentum`` → ``base_momentum`` → ``max_momentum`` (per group, iterations).

    Args:
        base_momentum: the lowest momentum (at the lr peak): a float, one per group (list) or a dict by
            optimizer class name.
        max_momentum: the highest momentum (at the start and the end), same forms.
        pct_start: the fraction of the run spent going down, a float in [0, 1].
        anneal_strategy: ``'cos'`` or ``'linear'``.
        three_phase: down, up, then flat at ``max_momentum`` (mmcv's phases).
    """

    policy = 'OneCycle'

    def __init__(self, base_momentum: Union[float, Sequence[float], Dict[str, float]] = 0.85,
                 max_momentum: Union[float, Sequence[float], Dict[str, float]] = 0.95, pct_start: float = 0.3,
                 anneal_strategy: str = 'cos', three_phase: bool = False, **kwargs):
        for name, value in (('base_momentum', base_momentum), ('max_momentum', max_momentum)):
            if not isinstance(value, (float, list, tuple, dict)):
                raise _error(self.policy, f'{name} must be a float, a list or a dict, got {value!r}')
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise _error(self.policy, f'pct_start must be a float in [0, 1], got {pct_start!r}')
        if anneal_strategy not in ANNEAL_FUNCS:
            raise _error(self.policy, f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        self.pct_start = pct_start
        self.anneal_func = ANNEAL_FUNCS[anneal_strategy]
        self.three_phase = three_phase
        super().__init__(**kwargs)

    def setup(self, param_groups: List[dict], optimizer_name: str, max_iters: int) -> List[float]:
        """Set each group's momentum to its ``max_momentum`` and keep both bounds in the group (as mmcv)."""
        if not all('momentum' in group or 'betas' in group for group in param_groups):
            raise _error(self.policy, f'the optimizer {optimizer_name} has neither momentum nor betas')
        n = len(param_groups)
        lows = _per_group('base_momentum', self.base_momentum, n, optimizer_name)
        highs = _per_group('max_momentum', self.max_momentum, n, optimizer_name)
        for group, low, high in zip(param_groups, lows, highs):
            if 'betas' in group and 'momentum' not in group:
                group['betas'] = (high, group['betas'][1])
            else:
                group['momentum'] = high
            group['base_momentum'], group['max_momentum'] = low, high
        self.max_iters = max_iters
        return highs

    def phases(self, max_iters: int) -> List[tuple]:
        """``(end_iter, start_key, end_key)`` of each phase (mmcv's)."""
        up_end = float(self.pct_start * max_iters) - 1
        if self.three_phase:
            return [(up_end, 'max_momentum', 'base_momentum'),
                    (float(2 * self.pct_start * max_iters) - 2, 'base_momentum', 'max_momentum'),
                    (max_iters - 1, 'max_momentum', 'max_momentum')]
        return [(up_end, 'max_momentum', 'base_momentum'), (max_iters - 1, 'base_momentum', 'max_momentum')]

    def get_momentum(self, base: float, group: dict, progress: int, max_progress: int) -> float:
        phases = self.phases(max_progress)
        start = 0.
        for i, (end, start_key, end_key) in enumerate(phases):
            if progress <= end or i == len(phases) - 1:
                if end == start:
                    raise _error(self.policy, f'a phase of the cycle has no length at iteration {progress} '
                                              f'(pct_start={self.pct_start}); change pct_start')
                return self.anneal_func(group[start_key], group[end_key], (progress - start) / (end - start))
            start = end
        raise AssertionError('unreachable: the last phase always matches')


def _check_keys(policy: str, args: dict, accepted: Sequence[str]) -> None:
    unknown = sorted(set(args) - set(accepted))
    if unknown:
        raise _error(policy, f'unexpected keyword argument(s) {unknown}; it takes {sorted(accepted)}')


def build_momentum_schedule(momentum_config: dict, by_epoch_default: bool) -> MomentumSchedule:
    """The schedule of an mmcv ``momentum_config`` (``policy`` plus that policy's arguments; the policy name
    is case-insensitive). ``by_epoch`` defaults to the runner's (``Cyclic`` and ``OneCycle``: False only)."""
    if not isinstance(momentum_config, dict):
        raise ConfigError(f"momentum_config must be a dict such as dict(policy='cyclic'), got {momentum_config!r}")
    args = dict(momentum_config)
    policy = args.pop('policy', None)
    key = policy.lower() if isinstance(policy, str) else None
    if key not in _SHAPES and key != 'onecycle':
        raise ConfigError(f'momentum_config.policy must be one of {POLICY_NAMES}, got {policy!r}')
    iter_only = key in ('cyclic', 'onecycle')
    by_epoch = args.pop('by_epoch', False if iter_only else by_epoch_default)
    if iter_only and by_epoch:
        raise _error(policy, 'by_epoch=True is not supported (mmcv updates this policy every iteration); '
                             'set by_epoch=False or leave it out')
    if key == 'onecycle':
        _check_keys(policy, args, _ONE_CYCLE_ARGS + _COMMON)
        return OneCycleMomentum(by_epoch=False, **args)
    name, shape_cls, renames = _SHAPES[key]
    _check_keys(policy, args, tuple(renames) + _COMMON)
    common = {k: args.pop(k) for k in _COMMON if k in args}
    if key in ('cosineannealing', 'linearannealing') and \
            (args.get('min_momentum') is None) == (args.get('min_momentum_ratio') is None):
        raise _error(policy, 'set exactly one of min_momentum and min_momentum_ratio')
    if key == 'step' and 'step' not in args:
        raise _error(policy, "missing required argument 'step'")
    shape_args = {**_DEFAULTS.get(key, {}), **{renames[k]: v for k, v in args.items()}}
    try:
        shape = shape_cls(by_epoch=by_epoch, **shape_args)
    except ConfigError as err:
        raise ConfigError(str(err).replace('lr_config', 'momentum_config', 1)) from err
    return ShapedMomentum(name, shape, by_epoch=by_epoch, **common)
