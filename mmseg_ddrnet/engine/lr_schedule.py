"""Learning-rate schedules with mmcv 1.x's formulas (``lr_config`` in configs).

The policies ``fixed``, ``step``, ``poly``, ``exp`` and ``CosineAnnealing`` are here; ``inv``, ``CosineRestart``,
``FlatCosineAnnealing``, ``LinearAnnealing``, ``Cyclic`` and ``OneCycle`` in :mod:`.lr_policies`.
A schedule maps ``(base_lr, progress, max_progress)`` to the regular lr, where progress counts iterations
(``by_epoch=False``) or epochs; warmup then scales it for the first ``warmup_iters`` iterations:

- ``constant``: ``lr * warmup_ratio``
- ``linear``:   ``lr * (1 - (1 - it / warmup_iters) * (1 - warmup_ratio))``
- ``exp``:      ``lr * warmup_ratio ** (1 - it / warmup_iters)``
"""
import inspect
import math
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

from ..utils import ConfigError

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


class FixedLr(LrSchedule):
    """The base lr throughout (warmup aside)."""

    policy = 'fixed'

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr


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


class ExpLr(LrSchedule):
    """``base_lr * gamma ** progress``."""

    policy = 'exp'

    def __init__(self, gamma: float, **kwargs):
        self.gamma = gamma
        super().__init__(**kwargs)

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return base_lr * self.gamma ** progress


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


class CosineAnnealingLr(AnnealToMinLr):
    """Cosine from ``base_lr`` to ``min_lr`` (or ``base_lr * min_lr_ratio``) over the whole run."""

    policy = 'CosineAnnealing'

    def get_lr(self, base_lr: float, progress: int, max_progress: int) -> float:
        return annealing_cos(base_lr, self.target_lr(base_lr), progress / max_progress)


def annealing_cos(start: float, end: float, factor: float, weight: float = 1.) -> float:
    """Cosine interpolation from ``weight * start + (1 - weight) * end`` (factor 0) to ``end`` (factor 1)."""
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * factor) + 1)


def annealing_linear(start: float, end: float, factor: float) -> float:
    """Linear interpolation from ``start`` (factor 0) to ``end`` (factor 1)."""
    return start + (end - start) * factor


POLICIES: Dict[str, type] = {cls.policy.lower(): cls for cls in (FixedLr, StepLr, PolyLr, ExpLr, CosineAnnealingLr)}

# the other mmcv policies subclass LrSchedule: their module adds them to POLICIES (either import order works)
from . import lr_policies  # noqa: E402,F401


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
    if not isinstance(policy, str) or policy.lower() not in POLICIES:
        names: List[str] = [cls.policy for cls in POLICIES.values()]
        raise ConfigError(f'lr_config.policy must be one of {names}, got {policy!r}')
    cls = POLICIES[policy.lower()]
    if not cls.iter_based:
        args.setdefault('by_epoch', by_epoch_default)
    _check_args(cls, policy, args)
    try:
        return cls(**args)
    except TypeError as err:
        raise ConfigError(f'lr_config (policy {policy!r}): {err}') from err
