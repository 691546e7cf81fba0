"""What a training step does with a non-finite loss or gradient (config key ``nan_policy``).

``nan_policy=dict(action='stop')`` (the default) stops training at the first non-finite loss term or gradient,
before the optimizer step, naming the iteration and the loss terms: the weights (and so every checkpoint) keep
the last finite values. ``action='skip'`` drops the step (no backward, no update) instead, up to
``max_consecutive`` bad iterations in a row (the backward pass still runs, as DDP expects, and its gradients
are discarded). Under DDP the ranks decide together (one scalar ``all_reduce`` before the backward pass), so a
step is dropped on every rank or none. With fp16 on CUDA the ``GradScaler``
skips steps with inf/NaN gradients itself while it lowers the scale; those skips count as bad iterations and,
beyond ``max_consecutive`` in a row, stop training under either action.
"""
import math
from typing import List, Optional

import torch
import torch.distributed as dist
from torch.nn.utils import get_total_norm

from ...utils import ConfigError, NumericalError
from ...utils.checks import is_int
from ...utils.dist import in_process_group

ACTIONS = ('stop', 'skip')
_ADVICE = ('lower the learning rate, check the data and the loss weights, or set '
           "nan_policy=dict(action='skip', max_consecutive=N)")


class NanPolicy:
    """Decides whether the step of the current iteration may run.

    Args:
        action: ``'stop'`` (raise :class:`NumericalError`) or ``'skip'`` (drop the step).
        max_consecutive: the most bad iterations in a row that ``'skip'`` (and the fp16 loss scaler) tolerates.
    """

    def __init__(self, action: str = 'stop', max_consecutive: int = 10):
        if action not in ACTIONS:
            raise ConfigError(f'nan_policy.action must be one of {ACTIONS}, got {action!r}')
        if not is_int(max_consecutive) or max_consecutive < 1:
            raise ConfigError(f'nan_policy.max_consecutive must be a positive int, got {max_consecutive!r}')
        self.action = action
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.skipped = 0

    @classmethod
    def build(cls, cfg: Optional[dict]) -> 'NanPolicy':
        if cfg is None:
            return cls()
        if not isinstance(cfg, dict):
            raise ConfigError(f"nan_policy must be a dict such as dict(action='skip', max_consecutive=5), got {cfg!r}")
        try:
            return cls(**cfg)
        except TypeError as err:
            raise ConfigError(f'nan_policy: {err}') from err

    # ------------------------------------------------------------------ checks
    def loss_ok(self, runner) -> bool:
        """Before the backward pass: whether every rank's loss is finite; handles a bad one (raise or count)."""
        terms = _bad_terms(runner.outputs)
        bad = bool(terms) or not bool(torch.isfinite(runner.outputs['loss'].detach()).all())
        if in_process_group():
            flag = torch.tensor([float(bad)], device=runner.outputs['loss'].device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            bad = bool(flag.item())
        if not bad:
            return True
        where = ', '.join(terms) if terms else ('loss=' + _fmt(runner.outputs['loss']) if not _is_finite(
            runner.outputs['loss']) else 'on another rank')
        self._bad(runner, f'non-finite loss ({where})')
        return False

    def grads_ok(self, runner) -> bool:
        """After the backward pass (full precision): whether every gradient is finite (identical on all ranks
        after DDP's all-reduce); handles a bad one (the caller drops the step and the gradients)."""
        grads = [p.grad for group in runner.optimizer.param_groups for p in group['params'] if p.grad is not None]
        if not grads or bool(torch.isfinite(get_total_norm(grads)).all()):
            return True
        names = [name for name, p in runner.model.named_parameters()
                 if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
        self._bad(runner, f'non-finite gradient of {names[:3]}{" ..." if len(names) > 3 else ""} (loss terms: '
                          f'{_all_terms(runner.outputs)})')
        return False

    def after_step(self, runner, scaler_skipped: bool) -> None:
        """After the optimizer step: the fp16 loss scaler's own skip counts as a bad iteration."""
        if scaler_skipped:
            self._count(runner, 'the fp16 loss scaler skipped the step (inf/NaN gradients)')
        else:
            self.consecutive = 0

    # ------------------------------------------------------------------ outcome
    def _bad(self, runner, what: str) -> None:
        if self.action == 'stop':
            raise NumericalError(
                f'iteration {runner.iter + 1}: {what}; training stopped before the optimizer step (the weights and '
                f'checkpoints hold iteration {runner.iter}); {_ADVICE}')
        self._count(runner, what)

    def _count(self, runner, what: str) -> None:
        self.consecutive += 1
        self.skipped += 1
        if self.consecutive > self.max_consecutive:
            raise NumericalError(
                f'iteration {runner.iter + 1}: {what}; {self.consecutive} bad iterations in a row exceed '
                f'nan_policy.max_consecutive={self.max_consecutive}: training stopped (the weights and checkpoints '
                f'hold finite values); {_ADVICE}')
        runner.logger.warning(f'iteration {runner.iter + 1}: {what}: step skipped ({self.consecutive} in a row, '
                              f'{self.skipped} in all)')


def _is_finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value.detach()).all())
    return math.isfinite(float(value))


def _fmt(value) -> str:
    return f'{float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value):.4g}'


def _bad_terms(outputs: dict) -> List[str]:
    return [f'{name}={_fmt(value)}' for name, value in (outputs.get('log_vars') or {}).items()
            if 'loss' in name and not _is_finite(value)]


def _all_terms(outputs: dict) -> str:
    return ', '.join(f'{name}={_fmt(value)}' for name, value in (outputs.get('log_vars') or {}).items()
                     if 'loss' in name)
