"""The optimizer step: zero the gradients, backward (scaled under fp16 on CUDA), clip, step.

``GradientCumulativeOptimizerHook`` accumulates the gradients of ``cumulative_iters`` iterations before each step
(mmcv 1.x semantics). Under fp16 both hooks scale the loss through ``runner.amp`` (the ``fp16`` config key, or the
``Fp16``/``GradientCumulativeFp16`` hook types that ``apis.train`` maps onto them).
"""
import logging
from typing import Optional

import torch
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import clip_grad_norm_

from ...registry import HOOKS
from ...utils import ConfigError
from ...utils.checks import is_int
from .hook import Hook
from .nan_policy import NanPolicy


@HOOKS.register_module()
class OptimizerHook(Hook):
    """Runs the backward pass and the optimizer step after each training forward pass.

    Args:
        grad_clip: ``dict(max_norm=..., norm_type=2)`` to clip the global gradient norm, or None.
        detect_anomalous_params: log parameters that got no gradient (they are not in the loss graph).
        nan_policy: what a non-finite loss or gradient does: ``dict(action='stop'|'skip', max_consecutive=N)``
            (the ``nan_policy`` config key; default: stop, see :mod:`.nan_policy`).
    """

    def __init__(self, grad_clip: Optional[dict] = None, detect_anomalous_params: bool = False,
                 nan_policy: Optional[dict] = None):
        if grad_clip is not None and (not isinstance(grad_clip, dict) or 'max_norm' not in grad_clip):
            raise ConfigError(f'optimizer_config.grad_clip must be dict(max_norm=..., norm_type=...), '
                              f'got {grad_clip!r}')
        self.grad_clip = grad_clip
        self.detect_anomalous_params = detect_anomalous_params
        self.nan_policy = NanPolicy.build(nan_policy)

    def after_train_iter(self, runner) -> None:
        runner.optimizer.zero_grad(set_to_none=True)
        loss_ok = self.nan_policy.loss_ok(runner)  # raises under action='stop'
        self.backward(runner, runner.outputs['loss'])  # even when skipping: DDP's reducer expects a backward
        if loss_ok:
            self.step(runner)
        else:
            runner.optimizer.zero_grad(set_to_none=True)

    def backward(self, runner, loss: torch.Tensor) -> None:
        """Backward of ``loss`` (scaled under fp16 on CUDA), adding to the parameters' gradients."""
        runner.amp.backward(loss)
        if self.detect_anomalous_params:
            self._log_unused_params(runner)

    def step(self, runner) -> None:
        """Clip the gradients (when configured; the norm goes to the log) and step the optimizer, unless a
        gradient is non-finite (then :attr:`nan_policy` stops training or drops the step)."""
        scaler = runner.amp.scaler
        if scaler is None and not self.nan_policy.grads_ok(runner):
            runner.optimizer.zero_grad(set_to_none=True)
            return
        scale = scaler.get_scale() if scaler is not None else None
        if self.grad_clip is not None:
            runner.amp.unscale_(runner.optimizer)
            params = [p for group in runner.optimizer.param_groups for p in group['params'] if p.grad is not None]
            if params:
                grad_norm = clip_grad_norm_(params, **self.grad_clip)
                runner.log_buffer.update({'grad_norm': float(grad_norm)}, runner.outputs['num_samples'])
        runner.amp.step(runner.optimizer)
        self.nan_policy.after_step(runner, scaler is not None and scaler.get_scale() < scale)

    @staticmethod
    def _log_unused_params(runner) -> None:
        unused = [name for name, p in runner.model.named_parameters() if p.requires_grad and p.grad is None]
        if unused:
            runner.logger.log(logging.ERROR, f'parameters without gradient (not in the loss graph): {unused}')


@HOOKS.register_module()
class GradientCumulativeOptimizerHook(OptimizerHook):
    """Steps the optimizer every ``cumulative_iters`` iterations, on the gradients accumulated since the last step.

    As mmcv 1.x: each loss is divided by ``cumulative_iters``; the step comes after iterations whose (1-based)
    number is a multiple of ``cumulative_iters`` and after the last one; the last ``max_iters % cumulative_iters``
    iterations (too few for a full group) divide their losses by that remainder instead. A run resumed at an
    iteration that is not a multiple of ``cumulative_iters`` steps at the next multiple on the gradients of the
    iterations since the resume only (with a warning).

    Args:
        cumulative_iters: the number of iterations whose gradients make one step.
        (others): see :class:`OptimizerHook`.
    """

    def __init__(self, cumulative_iters: int = 1, **kwargs):
        super().__init__(**kwargs)
        if not is_int(cumulative_iters) or cumulative_iters <= 0:
            raise ConfigError(f'optimizer_config.cumulative_iters must be a positive int, got {cumulative_iters!r}')
        self.cumulative_iters = cumulative_iters
        self.remainder_iters = 0
        self.initialized = False
        self._warned_remainder = False

    def _init(self, runner) -> None:
        """At the first iteration of a run: the size of the last, incomplete group, and the warnings."""
        if runner.iter % self.cumulative_iters != 0:
            runner.logger.warning(
                f'GradientCumulativeOptimizerHook: the run resumes at iteration {runner.iter}, not a multiple of '
                f'cumulative_iters={self.cumulative_iters}: the next step uses the gradients of fewer iterations')
        if self.cumulative_iters > 1 and any(isinstance(m, _BatchNorm) for m in runner.model.modules()):
            runner.logger.warning('GradientCumulativeOptimizerHook: BatchNorm layers see the small batches, not '
                                  'the accumulated one; results may be slightly worse')
        self.remainder_iters = runner.max_iters % self.cumulative_iters
        runner.optimizer.zero_grad(set_to_none=True)
        self.initialized = True

    def loss_factor(self, runner) -> int:
        """What the loss of the current iteration is divided by."""
        if runner.iter < runner.max_iters - self.remainder_iters:
            return self.cumulative_iters
        if not self._warned_remainder:
            runner.logger.warning(
                f'GradientCumulativeOptimizerHook: the losses of the last {self.remainder_iters} iteration(s) are '
                f'divided by {self.remainder_iters}: too few left for cumulative_iters={self.cumulative_iters}')
            self._warned_remainder = True
        return self.remainder_iters

    def after_train_iter(self, runner) -> None:
        if not self.initialized:
            self._init(runner)
        loss_ok = self.nan_policy.loss_ok(runner)
        self.backward(runner, runner.outputs['loss'] / self.loss_factor(runner))
        if not loss_ok:  # the accumulated gradients are spoilt: the group starts again
            runner.optimizer.zero_grad(set_to_none=True)
        if self.every_n_iters(runner, self.cumulative_iters) or self.is_last_iter(runner):
            self.step(runner)
            runner.optimizer.zero_grad(set_to_none=True)
