"""``EMAHook`` (mmcv 1.x): an exponential moving average of the weights, kept as model buffers."""
from typing import Dict, Optional

import torch
from torch import nn

from ...registry import HOOKS
from ...utils import ConfigError
from ...utils.checks import is_int
from ...utils.dist import unwrap_model
from .hook import Hook

SWAPPED = 'ema_swapped'  # runner.meta['hook_msgs'] key (kept in checkpoints): the weights hold the averages


@HOOKS.register_module()
class EMAHook(Hook):
    """mmcv 1.x's EMA: ``ema = (1 - m) * ema + m * param`` every ``interval`` iterations.

    Each parameter ``a.b.c`` gets a buffer ``ema_a_b_c`` (so checkpoints hold the averages and a resumed run
    continues them). ``m = min(momentum ** interval, (1 + it) / (warm_up + it))``, ``it`` the 0-based iteration;
    the update runs when ``it % interval == 0``. As in mmcv, the weights and their averages are swapped after
    each training epoch (so the epoch's evaluation and checkpoint see the averages: give the hook a priority
    above NORMAL, e.g. 49) and swapped back before the next one; an ``IterBasedRunner`` runs one epoch, so its
    model holds the averages only after the run. Unlike mmcv, whether the weights hold the averages is recorded
    (``meta.hook_msgs.ema_swapped``, saved in checkpoints), so that a run resumed from a checkpoint saved in
    mid-epoch (any ``IterBasedRunner`` checkpoint) or before the swap is not swapped the wrong way.

    Args:
        momentum: the weight of the current parameters, in (0, 1).
        interval: update every ``interval`` iterations.
        warm_up: during the first iterations the momentum is ``(1 + it) / (warm_up + it)`` when smaller.
        resume_from: a checkpoint to resume from before the run (mmcv's; ``resume_from`` in the config too).
    """

    def __init__(self, momentum: float = 0.0002, interval: int = 1, warm_up: int = 100,
                 resume_from: Optional[str] = None):
        if not is_int(interval) or interval <= 0:
            raise ConfigError(f'EMAHook: interval must be a positive int, got {interval!r}')
        if not 0 < momentum < 1:
            raise ConfigError(f'EMAHook: momentum must be in (0, 1), got {momentum!r}')
        self.momentum = momentum ** interval
        self.interval = interval
        self.warm_up = warm_up
        self.checkpoint = resume_from
        self.param_ema_buffer: Dict[str, str] = {}
        self.model_parameters: Dict[str, nn.Parameter] = {}
        self.model_buffers: Dict[str, torch.Tensor] = {}

    def on_register(self, runner) -> None:
        """Add the ``ema_*`` buffers when registered, so that a checkpoint holding them can be resumed."""
        model = unwrap_model(runner.model)
        for name, value in model.named_parameters():
            buffer_name = f"ema_{name.replace('.', '_')}"
            self.param_ema_buffer[name] = buffer_name
            if buffer_name not in dict(model.named_buffers()):
                model.register_buffer(buffer_name, value.data.clone())

    def before_run(self, runner) -> None:
        model = unwrap_model(runner.model)
        if not self.param_ema_buffer:
            self.on_register(runner)
        self.model_parameters = dict(model.named_parameters())
        self.model_buffers = dict(model.named_buffers())
        if self.checkpoint is not None:
            runner.resume(self.checkpoint)

    def after_train_iter(self, runner) -> None:
        cur_iter = runner.iter
        momentum = min(self.momentum, (1 + cur_iter) / (self.warm_up + cur_iter))
        if cur_iter % self.interval != 0:
            return
        with torch.no_grad():
            for name, param in self.model_parameters.items():
                self.model_buffers[self.param_ema_buffer[name]].mul_(1 - momentum).add_(param.data,
                                                                                         alpha=momentum)

    def after_train_epoch(self, runner) -> None:
        self._swap_ema_parameters()
        runner.meta.setdefault('hook_msgs', {})[SWAPPED] = True

    def before_train_epoch(self, runner) -> None:
        msgs = runner.meta.setdefault('hook_msgs', {})
        if msgs.get(SWAPPED):  # the weights hold the averages (also when resumed from such a checkpoint)
            self._swap_ema_parameters()
        msgs[SWAPPED] = False

    def _swap_ema_parameters(self) -> None:
        with torch.no_grad():
            for name, value in self.model_parameters.items():
                ema = self.model_buffers[self.param_ema_buffer[name]]
                tmp = value.data.clone()
                value.data.copy_(ema.data)
                ema.data.copy_(tmp)
