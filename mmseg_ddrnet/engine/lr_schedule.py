"""Learning-rate schedules with mmcv 1.x's formulas (``lr_config`` in configs).

A schedule maps ``(base_lr, progress, max_progress)`` to the regular lr, where progress counts iterations
(``by_epoch=False``) or epochs; warmup then scales it for the first ``warmup_iters`` iterations:

- ``constant``: ``lr * warmup_ratio``
- ``linear``:   ``lr * (1 - (1 - it / warmup_iters) * (1 - warmup_ratio))``
- ``exp``:      ``lr * warmup_ratio ** (1 - it / warmup_iters)``
"""
import math
from typing import Dict, List, Optional, Sequence, Union

from ..utils import ConfigError

WARMUP_TYPES = ('constant', 'linear', 'exp')


class LrSchedule:
    """Base schedule: warmup handling; subclasses define :meth:`get_lr`.

    Args:
        by_epoch: the regular lr changes once per epoch (progress = epoch) instead of every iteration.
        warmup: ``None``, ``'constant'``, ``'linear'`` or ``'exp'``.
        warmup_iters: iterations (or epochs with ``warmup_by_epoch``) of warmup.
        warmup_ratio: the lr at the start of warmup, as a fraction of the regular lr.
        warmup_by_epoch: ``warmup_iters`` counts epochs.
    """

    def __init__(self, by_epoch: bool = True, warmup: Optional[str] = None, warmup_iters: int = 0,
                 warmup_ratio: float = 0.1, warmup_by_epoch: bool = False):
        if warmup is not None:
            if warmup not in WARMUP_TYPES:
                raise ConfigError(f'lr_config.warmup must be one of {WARMUP_TYPES} or None, got {warmup!r}')
            if warmup_iters <= 0:
                raise ConfigError(f'lr_config.warmup_iters must be positive, got {warmup_iters}')
            if not 0 < warmup_ratio <= 1.0:
                raise ConfigError(f'lr_config.warmup_ratio must be in (0, 1], got {warmup_ratio}')
        self.by_epoch = by_epoch
        self.warmup = warmup
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        self.warmup_by_epoch = warmup_by_epoch
        self.warmup_epochs = warmup_iters if warmup_by_epoch else None

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        raise NotImplementedError

    def warmup_lr(self, regular_lr: float, cur_iter: int) -> float:
        """The warmup lr at iteration ``cur_iter`` (< ``warmup_iters``) for a regular lr."""
        if self.warmup == 'constant':
            return regular_lr * self.warmup_ratio
        if self.warmup == 'linear':
            k = (1 - cur_iter / self.warmup_iters) * (1 - self.warmup_ratio)
            return regular_lr * (1 - k)
        if self.warmup == 'exp':
            return regular_lr * self.warmup_ratio ** (1 - cur_iter / self.warmup_iters)
        return regular_lr

    def in_warmup(self, cur_iter: int) -> bool:
        return self.warmup is not None and cur_iter < self.warmup_iters

    def lr_at(self, base_lr: float, cur_iter: int, max_iters: int, epoch: int = 0, max_epochs: int = 1) -> float:
        """The lr of iteration ``cur_iter`` (0-based) as the lr hook sets it (``epoch`` used when by_epoch)."""
        progress, max_progress = (epoch, max_epochs) if self.by_epoch else (cur_iter, max_iters)
        regular = self.get_lr(base_lr, progress, max_progress)
        return self.warmup_lr(regular, cur_iter) if self.in_warmup(cur_iter) else regular


class FixedLr(LrSchedule):
    """The base lr throughout (warmup aside)."""

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr


class StepLr(LrSchedule):
    """``base_lr * gamma ** k``: k = progress // step, or the number of milestones in ``step`` passed."""

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


class PolyLr(LrSchedule):
    """``(base_lr - min_lr) * (1 - progress / max_progress) ** power + min_lr``."""

    def __init__(self, power: float = 1., min_lr: float = 0., **kwargs):
        self.power = power
        self.min_lr = min_lr
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        coeff = (1 - progress / max_progress) ** self.power
        return (base_lr - self.min_lr) * coeff + self.min_lr


class ExpLr(LrSchedule):
    """``base_lr * gamma ** progress``."""

    def __init__(self, gamma: float, **kwargs):
        self.gamma = gamma
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr * self.gamma ** progress


class CosineAnnealingLr(LrSchedule):
    """Cosine from ``base_lr`` to ``min_lr`` (or ``base_lr * min_lr_ratio``) over the whole run."""

    def __init__(self, min_lr: Optional[float] = None, min_lr_ratio: Optional[float] = None, **kwargs):
        if (min_lr is None) == (min_lr_ratio is None):
            raise ConfigError('lr_config for CosineAnnealing needs exactly one of min_lr and min_lr_ratio')
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        target = base_lr * self.min_lr_ratio if self.min_lr_ratio is not None else self.min_lr
        return annealing_cos(base_lr, target, progress / max_progress)


def annealing_cos(start: float, end: float, factor: float) -> float:
    """Cosine interpolation from ``start`` (factor 0) to ``end`` (factor 1)."""
    return end + 0.5 * (start - end) * (math.cos(math.pi * factor) + 1)


POLICIES: Dict[str, type] = {'fixed': FixedLr, 'step': StepLr, 'poly': PolyLr, 'exp': ExpLr,
                             'cosineannealing': CosineAnnealingLr}


def build_lr_schedule(lr_config: dict, by_epoch_default: bool) -> LrSchedule:
    """The schedule of an mmcv ``lr_config`` (``policy`` plus that policy's arguments)."""
    args = dict(lr_config)
    policy = args.pop('policy', None)
    if not isinstance(policy, str) or policy.lower() not in POLICIES:
        names: List[str] = ['fixed', 'step', 'poly', 'exp', 'CosineAnnealing']
        raise ConfigError(f'lr_config.policy must be one of {names}, got {policy!r}')
    args.setdefault('by_epoch', by_epoch_default)
    cls = POLICIES[policy.lower()]
    try:
        return cls(**args)
    except TypeError as err:
        raise ConfigError(f'lr_config (policy {policy!r}): {err}') from err
