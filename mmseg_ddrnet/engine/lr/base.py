"""Learning-rate schedules with mmcv 1.x's formulas (``lr_config`` in configs).

The policies are in :mod:`.policies`, registered in ``LR_SCHEDULES`` under their lower-case config name.
A schedule maps ``(base_lr, progress, max_progress)`` to the regular lr, where progress counts iterations
(``by_epoch=False``) or epochs; warmup then scales it for the first ``warmup_iters`` iterations:

- ``constant``: ``lr * warmup_ratio``
- ``linear``:   ``lr * (1 - (1 - it / warmup_iters) * (1 - warmup_ratio))``
- ``exp``:      ``lr * warmup_ratio ** (1 - it / warmup_iters)``
"""
import math
from typing import List, Optional

from ...utils import ConfigError

WARMUP_TYPES = ('constant', 'linear', 'exp')


def warmup_factor(warmup: Optional[str], ratio: float, cur_iter: int, warmup_iters: int) -> float:
    """mmcv's warmup factor at iteration ``cur_iter`` (< ``warmup_iters``): the lr is multiplied by it (the
    momentum of ``momentum_config`` divided by it); 1 without warmup."""
    if warmup == 'constant':
        return ratio
    if warmup == 'linear':
        return 1 - (1 - cur_iter / warmup_iters) * (1 - ratio)
    if warmup == 'exp':
        return ratio ** (1 - cur_iter / warmup_iters)
    return 1.


class LrSchedule:
    """Base schedule: warmup handling; subclasses define :meth:`get_lr`.

    Args:
        by_epoch: the regular lr changes once per epoch (progress = epoch) instead of every iteration.
        warmup: ``None``, ``'constant'``, ``'linear'`` or ``'exp'``.
        warmup_iters: iterations (or epochs with ``warmup_by_epoch``) of warmup.
        warmup_ratio: the lr at the start of warmup, as a fraction of the regular lr.
        warmup_by_epoch: ``warmup_iters`` counts epochs.
    """

    policy = ''  # the name of the policy in configs (mmcv's spelling)
    iter_based = False  # mmcv updates it every iteration only: by_epoch defaults to False (not the runner's)

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

    def setup(self, param_groups: List[dict], optimizer_name: str, max_progress: int) -> List[float]:
        """Before the run: the base lr of each group, its ``initial_lr`` (set from ``lr`` unless resumed).

        ``max_progress`` is ``max_epochs`` with ``by_epoch``, else ``max_iters``.
        """
        for group in param_groups:
            group.setdefault('initial_lr', group['lr'])
        return [group['initial_lr'] for group in param_groups]

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        raise NotImplementedError

    def warmup_lr(self, regular_lr: float, cur_iter: int) -> float:
        """The warmup lr at iteration ``cur_iter`` (< ``warmup_iters``) for a regular lr."""
        return regular_lr * warmup_factor(self.warmup, self.warmup_ratio, cur_iter, self.warmup_iters)

    def in_warmup(self, cur_iter: int) -> bool:
        return self.warmup is not None and cur_iter < self.warmup_iters

    def lr_at(self, base_lr: float, cur_iter: int, max_iters: int, epoch: int = 0, max_epochs: int = 1) -> float:
        """The lr of iteration ``cur_iter`` (0-based) as the lr hook sets it (``epoch`` used when by_epoch)."""
        progress, max_progress = (epoch, max_epochs) if self.by_epoch else (cur_iter, max_iters)
        regular = self.get_lr(base_lr, progress, max_progress)
        return self.warmup_lr(regular, cur_iter) if self.in_warmup(cur_iter) else regular


class AnnealToMinLr(LrSchedule):
    """Base of the policies that end at ``min_lr`` or at ``base_lr * min_lr_ratio`` (exactly one of them)."""

    def __init__(self, min_lr: Optional[float] = None, min_lr_ratio: Optional[float] = None, **kwargs):
        if (min_lr is None) == (min_lr_ratio is None):
            raise ConfigError(f'lr_config (policy {self.policy!r}): set exactly one of min_lr and min_lr_ratio, '
                              f'got min_lr={min_lr!r}, min_lr_ratio={min_lr_ratio!r}')
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio
        super().__init__(**kwargs)

    def target_lr(self, base_lr: float) -> float:
        return base_lr * self.min_lr_ratio if self.min_lr_ratio is not None else self.min_lr


def annealing_cos(start: float, end: float, factor: float, weight: float = 1.) -> float:
    """Cosine interpolation from ``weight * start + (1 - weight) * end`` (factor 0) to ``end`` (factor 1)."""
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * factor) + 1)


def annealing_linear(start: float, end: float, factor: float) -> float:
    """Linear interpolation from ``start`` (factor 0) to ``end`` (factor 1)."""
    return start + (end - start) * factor
