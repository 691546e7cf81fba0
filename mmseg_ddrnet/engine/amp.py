"""Mixed precision from the 0.x ``fp16`` config key: fp16 + ``GradScaler`` on CUDA, bf16 autocast on CPU."""
import contextlib
from typing import Any, ContextManager, Dict, Optional, Union

import torch

from ..utils import ConfigError, warn_once
from ..utils.checks import is_number
from ..utils.device import select_device


class MixedPrecision:
    """Autocast for the forward pass and (on CUDA) a loss scaler for the backward pass.

    Args:
        device: where the model runs.
        enabled: whether to use mixed precision at all.
        loss_scale: ``'dynamic'``, a fixed scale (number) or ``GradScaler`` arguments (dict); CUDA only.
    """

    def __init__(self, device: torch.device, enabled: bool = False,
                 loss_scale: Union[str, float, Dict[str, Any]] = 'dynamic'):
        self.device = select_device(device)
        self.enabled = enabled
        self.dtype = torch.float16 if self.device.type == 'cuda' else torch.bfloat16
        self.static_scale: Optional[float] = None
        self.scaler: Optional[torch.amp.GradScaler] = None
        if enabled and self.device.type == 'cuda':
            self.scaler = self._build_scaler(loss_scale)
        elif enabled:
            warn_once('fp16 on CPU: using bfloat16 autocast (no loss scaling needed)')

    def _build_scaler(self, loss_scale: Union[str, float, Dict[str, Any]]) -> torch.amp.GradScaler:
        if loss_scale == 'dynamic':
            return torch.amp.GradScaler('cuda')
        if is_number(loss_scale) and loss_scale > 0:
            self.static_scale = float(loss_scale)
            return torch.amp.GradScaler('cuda', init_scale=self.static_scale)
        if isinstance(loss_scale, dict):
            try:
                return torch.amp.GradScaler('cuda', **loss_scale)
            except TypeError as err:
                raise ConfigError(f'fp16.loss_scale: {err}') from err
        raise ConfigError(f"fp16.loss_scale must be 'dynamic', a positive number or a dict, got {loss_scale!r}")

    def autocast(self) -> ContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()`` (skipped by the scaler on inf/nan gradients) and the scale update."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update(self.static_scale)

    def state_dict(self) -> Dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def build_mixed_precision(fp16_cfg: Optional[dict], device: torch.device) -> MixedPrecision:
    """:class:`MixedPrecision` for a config's ``fp16`` dict (None: full precision)."""
    if fp16_cfg is None:
        return MixedPrecision(device, enabled=False)
    if not isinstance(fp16_cfg, dict):
        raise ConfigError(f'fp16 must be a dict such as dict(loss_scale=512.), got {fp16_cfg!r}')
    unknown = sorted(set(fp16_cfg) - {'loss_scale'})
    if unknown:
        raise ConfigError(f'fp16: unknown key(s) {unknown}; only loss_scale is read')
    return MixedPrecision(device, enabled=True, loss_scale=fp16_cfg.get('loss_scale', 'dynamic'))
