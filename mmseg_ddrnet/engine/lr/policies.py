"""The other lr policies of mmcv 1.x's ``LrUpdaterHook`` family, with mmcv's formulas (``lr_config`` in configs).

``progress`` counts iterations (``by_epoch=False``) or epochs; warmup scales the result as for every policy
(:mod:`.base`). Each policy registers in ``LR_SCHEDULES`` under its lower-case name. ``target`` is ``min_lr`` or
``base_lr * min_lr_ratio``.

- ``fixed``:               ``base_lr``
- ``step``:                ``base_lr * gamma ** k``, k the steps (or milestones) passed
- ``poly``:                ``(base_lr - min_lr) * (1 - progress / max_progress) ** power + min_lr``
- ``exp``:                 ``base_lr * gamma ** progress``
- ``CosineAnnealing``:     cosine from ``base_lr`` to ``target`` over the run
- ``inv``:                 ``base_lr * (1 + gamma * progress) ** -power``
- ``LinearAnnealing``:     linear from ``base_lr`` to ``target`` over the run
- ``FlatCosineAnnealing``: ``base_lr`` until ``start = round(max_progress * start_percent)``, then cosine to ``target``
- ``CosineRestart``:       a cosine to ``target`` in each of ``periods``, restarting from
  ``weight * base_lr + (1 - weight) * target`` (``restart_weights``)
- ``Cyclic`` (iterations only): cycles of ``max_iters // cyclic_times`` iterations, up from ``base_lr`` to
  ``base_lr * target_ratio[0]`` then down to ``base_lr * target_ratio[1]`` (cycle ``k`` scaled by ``gamma ** k``)
- ``OneCycle`` (iterations only): from ``max_lr / div_factor`` up to ``max_lr``, then down to
  ``max_lr / div_factor / final_div_factor`` (mmcv's phases; the base lr comes from ``max_lr``)

Like mmcv's lr hooks, ``Cyclic`` and ``OneCycle`` change the lr only (momentum is mmcv's ``momentum_config``).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from ...utils import ConfigError
from ...utils.checks import is_int, is_number as _is_number
from ...registry import LR_SCHEDULES
from .base import AnnealToMinLr, LrSchedule, annealing_cos, annealing_linear

ANNEAL_FUNCS: Dict[str, Callable[[float, float, float], float]] = {'cos': annealing_cos,
                                                                   'linear': annealing_linear}


def _error(policy: str, message: str) -> ConfigError:
    return ConfigError(f'lr_config (policy {policy!r}): {message}')


def _anneal_func(policy: str, anneal_strategy: str) -> Callable[[float, float, float], float]:
    if anneal_strategy not in ANNEAL_FUNCS:
        raise _error(policy, f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    return ANNEAL_FUNCS[anneal_strategy]


def _check_iter_based(policy: str, by_epoch: bool) -> None:
    if by_epoch:
        raise _error(policy, 'by_epoch=True is not supported (mmcv updates this policy every iteration); '
                             'set by_epoch=False or leave it out')


def register_policy(cls: type) -> type:
    """Register an :class:`LrSchedule` subclass in ``LR_SCHEDULES`` under ``cls.policy.lower()``."""
    LR_SCHEDULES.register_module(name=cls.policy.lower(), module=cls)
    return cls


@register_policy
class FixedLr(LrSchedule):
    """The base lr throughout (warmup aside)."""

    policy = 'fixed'

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr


@register_policy
class StepLr(LrSchedule):
    """``base_lr * gamma ** k``: k = progress // step, or the number of milestones in ``step`` passed."""

    policy = 'step'

    def __init__(self, step: Union[int, Sequence[int]], gamma: float = 0.1, min_lr: Optional[float] = None,
                 **kwargs):
        if isinstance(step, int):
            if step <= 0:
                raise ConfigError(f'lr_config.step must be positive, got {step}')
        elif not (isinstance(step, (list, tuple)) and all(isinstance(s, int) and s > 0 for s in step)):
            raise ConfigError(f'lr_config.step must be a positive int or a list of them, got {step!r}')
        self.step = step if isinstance(step, int) else list(step)
        self.gamma = gamma
        self.min_lr = min_lr
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        if isinstance(self.step, int):
            exp = progress // self.step
        else:
            exp = next((i for i, s in enumerate(self.step) if progress < s), len(self.step))
        lr = base_lr * self.gamma ** exp
        return max(lr, self.min_lr) if self.min_lr is not None else lr


@register_policy
class PolyLr(LrSchedule):
    """``(base_lr - min_lr) * (1 - progress / max_progress) ** power + min_lr``."""

    policy = 'poly'

    def __init__(self, power: float = 1., min_lr: float = 0., **kwargs):
        self.power = power
        self.min_lr = min_lr
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        coeff = (1 - progress / max_progress) ** self.power
        return (base_lr - self.min_lr) * coeff + self.min_lr


@register_policy
class ExpLr(LrSchedule):
    """``base_lr * gamma ** progress``."""

    policy = 'exp'

    def __init__(self, gamma: float, **kwargs):
        self.gamma = gamma
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr * self.gamma ** progress


@register_policy
class CosineAnnealingLr(AnnealToMinLr):
    """Cosine from ``base_lr`` to ``min_lr`` (or ``base_lr * min_lr_ratio``) over the whole run."""

    policy = 'CosineAnnealing'

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return annealing_cos(base_lr, self.target_lr(base_lr), progress / max_progress)


@register_policy
class InvLr(LrSchedule):
    """``base_lr * (1 + gamma * progress) ** (-power)``."""

    policy = 'inv'

    def __init__(self, gamma: float, power: float = 1., **kwargs):
        self.gamma = gamma
        self.power = power
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr * (1 + self.gamma * progress) ** (-self.power)


@register_policy
class LinearAnnealingLr(AnnealToMinLr):
    """Linear from ``base_lr`` to the target lr over the whole run."""

    policy = 'LinearAnnealing'

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return annealing_linear(base_lr, self.target_lr(base_lr), progress / max_progress)


@register_policy
class FlatCosineAnnealingLr(AnnealToMinLr):
    """``base_lr`` for the first ``start_percent`` of the run, then a cosine to the target lr."""

    policy = 'FlatCosineAnnealing'

    def __init__(self, start_percent: float = 0.75, min_lr: Optional[float] = None,
                 min_lr_ratio: Optional[float] = None, **kwargs):
        if not isinstance(start_percent, float) or not 0 <= start_percent <= 1:
            raise _error(self.policy, f'start_percent must be a float in [0, 1], got {start_percent!r}')
        self.start_percent = start_percent
        super().__init__(min_lr=min_lr, min_lr_ratio=min_lr_ratio, **kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        start = round(max_progress * self.start_percent)
        if progress < start:
            return base_lr
        return annealing_cos(base_lr, self.target_lr(base_lr), (progress - start) / (max_progress - start))


@register_policy
class CosineRestartLr(AnnealToMinLr):
    """A cosine to the target lr within each period; period ``i`` starts at weight ``restart_weights[i]``."""

    policy = 'CosineRestart'

    def __init__(self, periods: Sequence[int], restart_weights: Sequence[float] = (1,),
                 min_lr: Optional[float] = None, min_lr_ratio: Optional[float] = None, **kwargs):
        if not (isinstance(periods, (list, tuple)) and periods
                and all(is_int(p) and p > 0 for p in periods)):
            raise _error(self.policy, f'periods must be a non-empty list of positive ints, got {periods!r}')
        if not (isinstance(restart_weights, (list, tuple)) and all(_is_number(w) for w in restart_weights)):
            raise _error(self.policy, f'restart_weights must be a list of numbers, got {restart_weights!r}')
        if len(periods) != len(restart_weights):
            raise _error(self.policy, f'periods ({len(periods)}) and restart_weights ({len(restart_weights)}) '
                                      'must have the same length')
        self.periods = list(periods)
        self.restart_weights = list(restart_weights)
        self.cumulative_periods = [sum(self.periods[:i + 1]) for i in range(len(self.periods))]
        super().__init__(min_lr=min_lr, min_lr_ratio=min_lr_ratio, **kwargs)

    def setup(self, param_groups: List[dict], optimizer_name: str, max_progress: int) -> List[float]:
        if self.cumulative_periods[-1] < max_progress:
            unit = 'epochs' if self.by_epoch else 'iterations'
            raise _error(self.policy, f'periods {self.periods} cover {self.cumulative_periods[-1]} {unit} but '
                                      f'the run has {max_progress}; make the periods cover the whole run')
        return super().setup(param_groups, optimizer_name, max_progress)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        idx = next((i for i, end in enumerate(self.cumulative_periods) if progress < end), None)
        if idx is None:
            raise _error(self.policy, f'progress {progress} is past the periods {self.periods} '
                                      f'(they end at {self.cumulative_periods[-1]})')
        restart = self.cumulative_periods[idx - 1] if idx > 0 else 0
        alpha = min((progress - restart) / self.periods[idx], 1)
        return annealing_cos(base_lr, self.target_lr(base_lr), alpha, self.restart_weights[idx])


def _cyclic_target_ratio(policy: str, target_ratio: Union[float, Sequence[float]]) -> Tuple[float, float]:
    if _is_number(target_ratio):
        return float(target_ratio), target_ratio / 1e5
    if isinstance(target_ratio, (list, tuple)) and len(target_ratio) in (1, 2) \
            and all(_is_number(r) for r in target_ratio):
        return (target_ratio[0], target_ratio[0] / 1e5) if len(target_ratio) == 1 else tuple(target_ratio)
    raise _error(policy, f'target_ratio must be a number or a tuple of one or two numbers, got {target_ratio!r}')


@register_policy
class CyclicLr(LrSchedule):
    """mmcv's cyclic lr (cosine or linear ramps), updated every iteration.

    Args:
        target_ratio: ``(highest, lowest)`` lr relative to the base lr (a number ``r``: ``(r, r / 1e5)``).
        cyclic_times: the number of cycles in the run.
        step_ratio_up: the fraction of a cycle spent going up, in [0, 1).
        anneal_strategy: ``'cos'`` or ``'linear'``.
        gamma: each cycle scales the distance from the base lr by ``gamma``, in (0, 1].
    """

    policy = 'Cyclic'
    iter_based = True

    def __init__(self, by_epoch: bool = False, target_ratio: Union[float, Sequence[float]] = (10, 1e-4),
                 cyclic_times: int = 1, step_ratio_up: float = 0.4, anneal_strategy: str = 'cos',
                 gamma: float = 1, **kwargs):
        _check_iter_based(self.policy, by_epoch)
        self.target_ratio = _cyclic_target_ratio(self.policy, target_ratio)
        if not is_int(cyclic_times) or cyclic_times <= 0:
            raise _error(self.policy, f'cyclic_times must be a positive int, got {cyclic_times!r}')
        if not _is_number(step_ratio_up) or not 0 <= step_ratio_up < 1:
            raise _error(self.policy, f'step_ratio_up must be in [0, 1), got {step_ratio_up!r}')
        if not _is_number(gamma) or not 0 < gamma <= 1:
            raise _error(self.policy, f'gamma must be in (0, 1], got {gamma!r}')
        self.cyclic_times = cyclic_times
        self.step_ratio_up = step_ratio_up
        self.gamma = gamma
        self.anneal_func = _anneal_func(self.policy, anneal_strategy)
        super().__init__(by_epoch=False, **kwargs)

    def setup(self, param_groups: List[dict], optimizer_name: str, max_progress: int) -> List[float]:
        if max_progress // self.cyclic_times == 0:
            raise _error(self.policy, f'cyclic_times ({self.cyclic_times}) exceeds max_iters ({max_progress})')
        return super().setup(param_groups, optimizer_name, max_progress)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        per_cycle = max_progress // self.cyclic_times
        up = int(self.step_ratio_up * per_cycle)
        pos, cycle = progress % per_cycle, progress // per_cycle
        scale = self.gamma ** cycle
        high, low = self.target_ratio
        for start, end, start_ratio, end_ratio in ((0, up, 1, high), (up, per_cycle, high, low)):
            if start <= pos < end:
                if start == 0:  # scaled as mmcv does: the first matching phase's end, the other's start
                    end_ratio = 1 - scale + end_ratio * scale
                else:
                    start_ratio = 1 - scale + start_ratio * scale
                return self.anneal_func(base_lr * start_ratio, base_lr * end_ratio, (pos - start) / (end - start))
        raise AssertionError('unreachable: the two phases cover a cycle')


@register_policy
class OneCycleLr(LrSchedule):
    """mmcv's 1cycle policy, updated every iteration; the base lr of each group is ``max_lr / div_factor``.

    Args:
        max_lr: the peak lr: a number, one per parameter group (list), or a dict by optimizer class name.
        total_steps: the length of the cycle (default ``max_iters``; not shorter than it).
        pct_start: the fraction of the cycle spent going up, in [0, 1].
        anneal_strategy: ``'cos'`` or ``'linear'``.
        div_factor: the lr starts at ``max_lr / div_factor``.
        final_div_factor: the lr ends at ``max_lr / div_factor / final_div_factor``.
        three_phase: go back down to ``max_lr / div_factor`` symmetrically, then to the final lr.
    """

    policy = 'OneCycle'
    iter_based = True

    def __init__(self, max_lr: Union[float, List[float], Dict[str, float]], total_steps: Optional[int] = None,
                 pct_start: float = 0.3, anneal_strategy: str = 'cos', div_factor: float = 25,
                 final_div_factor: float = 1e4, three_phase: bool = False, by_epoch: bool = False, **kwargs):
        _check_iter_based(self.policy, by_epoch)
        if not (_is_number(max_lr) or isinstance(max_lr, (list, tuple, dict))):
            raise _error(self.policy, f'max_lr must be a number, a list or a dict, got {max_lr!r}')
        if total_steps is not None and (not isinstance(total_steps, int) or total_steps <= 0):
            raise _error(self.policy, f'total_steps must be a positive int or None, got {total_steps!r}')
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise _error(self.policy, f'pct_start must be a float in [0, 1], got {pct_start!r}')
        for name, value in (('div_factor', div_factor), ('final_div_factor', final_div_factor)):
            if not _is_number(value) or value <= 0:
                raise _error(self.policy, f'{name} must be a positive number, got {value!r}')
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.anneal_func = _anneal_func(self.policy, anneal_strategy)
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase
        super().__init__(by_epoch=False, **kwargs)

    def _max_lrs(self, num_groups: int, optimizer_name: str) -> List[float]:
        if _is_number(self.max_lr):
            return [self.max_lr] * num_groups
        max_lr = self.max_lr
        if isinstance(max_lr, dict):
            if optimizer_name not in max_lr:
                raise _error(self.policy, f'max_lr has no entry for the optimizer {optimizer_name!r} '
                                          f'(keys: {sorted(max_lr)})')
            max_lr = max_lr[optimizer_name]
            if _is_number(max_lr):
                return [max_lr] * num_groups
        if len(max_lr) != num_groups:
            raise _error(self.policy, f'max_lr has {len(max_lr)} values but the optimizer has {num_groups} '
                                      'parameter groups')
        return list(max_lr)

    def setup(self, param_groups: List[dict], optimizer_name: str, max_progress: int) -> List[float]:
        if self.total_steps is not None and self.total_steps < max_progress:
            raise _error(self.policy, f'total_steps ({self.total_steps}) must be at least max_iters '
                                      f'({max_progress})')
        base = [lr / self.div_factor for lr in self._max_lrs(len(param_groups), optimizer_name)]
        for group, lr in zip(param_groups, base):
            group.setdefault('initial_lr', lr)
        return base

    def phases(self, max_progress: int) -> List[Tuple[float, float, float]]:
        """``(end_iter, start_factor, end_factor)`` of each phase, factors of the base lr (mmcv's phases)."""
        total = self.total_steps if self.total_steps is not None else max_progress
        up_end = float(self.pct_start * total) - 1
        if self.three_phase:
            return [(up_end, 1, self.div_factor), (float(2 * self.pct_start * total) - 2, self.div_factor, 1),
                    (total - 1, 1, 1 / self.final_div_factor)]
        return [(up_end, 1, self.div_factor), (total - 1, self.div_factor, 1 / self.final_div_factor)]

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        start = 0.
        for end, start_factor, end_factor in self.phases(max_progress):
            if progress <= end:
                if end == start:
                    raise _error(self.policy, f'a phase of the cycle has no length at iteration {progress} '
                                              f'(pct_start={self.pct_start}); change pct_start or total_steps')
                return self.anneal_func(base_lr * start_factor, base_lr * end_factor,
                                        (progress - start) / (end - start))
            start = end
        raise _error(self.policy, f'iteration {progress} is past total_steps')

