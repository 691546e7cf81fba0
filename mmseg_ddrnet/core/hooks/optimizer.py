"""The optimizer step: zero the gradients, backward (scaled under fp16 on CUDA), clip, step."""
import logging
from typing import Optional

from torch.nn.utils import clip_grad_norm_

from ...registry import HOOKS
from ...utils import ConfigError
from .hook import Hook


@HOOKS.register_module()
class OptimizerHook(Hook):
    """Runs the backward pass and the optimizer step after each training forward pass.

    Args:
        grad_clip: ``dict(max_norm=..., norm_type=2)`` to clip the global gradient norm, or None.
        detect_anomalous_params: log parameters that got no gradient (they are not in the loss graph).
    """

    def __init__(self, grad_clip: Optional[dict] = None, detect_anomalous_params: bool = False):
        if grad_clip is not None and (not isinstance(grad_clip, dict) or 'max_norm' not in grad_clip):
            raise ConfigError(f'optimizer_config.grad_clip must be dict(max_norm=..., norm_type=...), '
                              f'got {grad_clip!r}')
        self.grad_clip = grad_clip
        self.detect_anomalous_params = detect_anomalous_params

    def after_train_iter(self, runner) -> None:
        runner.optimizer.zero_grad(set_to_none=True)
        runner.amp.backward(runner.outputs['loss'])
        if self.detect_anomalous_params:
            self._log_unused_params(runner)
        if self.grad_clip is not None:
            runner.amp.unscale_(runner.optimizer)
            params = [p for group in runner.optimizer.param_groups for p in group['params'] if p.grad is not None]
            if params:
                grad_norm = clip_grad_norm_(params, **self.grad_clip)
                runner.log_buffer.update({'grad_norm': float(grad_norm)}, runner.outputs['num_samples'])
        runner.amp.step(runner.optimizer)

    @staticmethod
    def _log_unused_params(runner) -> None:
        unused = [name for name, p in runner.model.named_parameters() if p.requires_grad and p.grad is None]
        if unused:
            runner.logger.log(logging.ERROR, f'parameters without gradient (not in the loss graph): {unused}')
