"""Normalization layers built from ``norm_cfg`` dicts (mmcv 1.x ``build_norm_layer`` semantics).

``norm_cfg`` keys: ``type`` (``'BN'``, ``'SyncBN'``, ``'GN'``, ``'IN'``), ``requires_grad`` (False freezes the
affine parameters), ``eps``, ``momentum`` (BN, IN), ``num_groups`` (GN, required), ``affine``,
``track_running_stats`` (BN, IN), passed to the torch layer as mmcv does.
"""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from ...utils import ConfigError, warn_once
from ...utils.checks import check_bool, check_number, describe

_NAMES = {'BN': 'bn', 'BN2d': 'bn', 'SyncBN': 'bn', 'GN': 'gn', 'IN': 'in', 'IN2d': 'in'}
_ALLOWED_KEYS = {'type', 'requires_grad', 'eps', 'momentum', 'num_groups', 'affine', 'track_running_stats'}
# mmcv 1.x norm types refused, with the reason
_REFUSED = {
    'LN': 'nn.LayerNorm normalises the last dimension, not the channels of N×C×H×W feature maps (mmcv builds it '
          'the same way, so it cannot work in these conv layers); use GN with num_groups=1 for a per-sample norm',
    'BN1d': 'the layers normalise 2-D feature maps; use BN (BatchNorm2d)',
    'BN3d': 'the layers normalise 2-D feature maps; use BN (BatchNorm2d)',
    'IN1d': 'the layers normalise 2-D feature maps; use IN (InstanceNorm2d)',
    'IN3d': 'the layers normalise 2-D feature maps; use IN (InstanceNorm2d)',
    'MMSyncBN': "mmcv's own synchronised BN kernels are not part of this project; use SyncBN "
                "(torch.nn.SyncBatchNorm, the same statistics as MMSyncBN's default stats_mode)",
}

SYNC_BN_FALLBACK_WARNING = (
    'SyncBN: nothing to synchronise with in this run (a single process, or CPU tensors), so each process '
    'normalises with its own batch, as BN does; expected on a CPU (under train_dist.sh on GPUs the batch '
    'statistics are synchronised)')


class SyncBatchNorm(nn.SyncBatchNorm):
    """``nn.SyncBatchNorm`` that falls back to plain batch norm where it cannot synchronise.

    It synchronises whenever PyTorch can (training, an initialised process group of more than one
    rank, inputs on a GPU). Otherwise (a single CPU process, or CPU tensors under gloo) it normalises
    with the local batch and logs one warning per process instead of failing.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self._can_sync(input):
            return super().forward(input)
        warn_once(SYNC_BN_FALLBACK_WARNING)
        return self._local_batch_norm(input)

    @staticmethod
    def _can_sync(input: torch.Tensor) -> bool:
        distributed = dist.is_available() and dist.is_initialized()
        return distributed and input.device.type != 'cpu'

    def syncs(self, input: torch.Tensor) -> bool:
        """Whether training on ``input`` averages the statistics over several processes."""
        return self._can_sync(input) and dist.get_world_size(self.process_group) > 1

    def _local_batch_norm(self, input: torch.Tensor) -> torch.Tensor:
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            True, momentum, self.eps)


def build_norm_layer(cfg: Optional[dict], num_features: int) -> Tuple[str, nn.Module]:
    """``(name, layer)`` for ``cfg``; ``name`` is the mmcv attribute name (``'bn'`` or ``'gn'``)."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError(f'norm_cfg must be a dict with a "type" key, got {cfg!r}')
    unknown = set(cfg) - _ALLOWED_KEYS
    if unknown:
        raise ConfigError(f'norm_cfg {cfg!r}: unknown key(s) {sorted(unknown)} '
                          f'(allowed: {sorted(_ALLOWED_KEYS)})')
    norm_type = cfg['type']
    if not isinstance(norm_type, str):
        raise ConfigError(f'norm_cfg type must be a str, got {describe(norm_type)}')
    if norm_type in _REFUSED:
        raise ConfigError(f'norm_cfg type {norm_type!r} is not supported: {_REFUSED[norm_type]}')
    if norm_type not in _NAMES:
        raise ConfigError(f'norm_cfg type {norm_type!r} is not supported (use one of {sorted(_NAMES)})')
    requires_grad = check_bool('norm_cfg', 'requires_grad', cfg.get('requires_grad', True))
    for key in ('affine', 'track_running_stats'):
        if key in cfg:
            check_bool('norm_cfg', key, cfg[key])
    layer = _make_layer(norm_type, cfg, num_features)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return _NAMES[norm_type], layer


def _make_layer(norm_type: str, cfg: dict, num_features: int) -> nn.Module:
    eps = check_number('norm_cfg', 'eps', cfg.get('eps', 1e-5))
    if norm_type == 'GN':
        if 'num_groups' not in cfg:
            raise ConfigError(f'norm_cfg {cfg!r}: GN needs num_groups')
        groups = cfg['num_groups']
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or num_features % groups:
            raise ConfigError(f'norm_cfg: num_groups must be an int dividing the {num_features} channels, '
                              f'got {describe(groups)}')
        if 'track_running_stats' in cfg:
            raise ConfigError(f'norm_cfg {cfg!r}: GN keeps no running statistics (no track_running_stats)')
        return nn.GroupNorm(groups, num_features, eps=eps, affine=cfg.get('affine', True))
    if 'num_groups' in cfg:
        raise ConfigError(f'norm_cfg {cfg!r}: num_groups is only for GN')
    momentum = check_number('norm_cfg', 'momentum', cfg.get('momentum', 0.1), optional=True)
    if norm_type in ('IN', 'IN2d'):  # torch's (and mmcv's) defaults: no affine, no running statistics
        return nn.InstanceNorm2d(num_features, eps=eps, momentum=momentum, affine=cfg.get('affine', False),
                                 track_running_stats=cfg.get('track_running_stats', False))
    bn_cls = SyncBatchNorm if norm_type == 'SyncBN' else nn.BatchNorm2d
    return bn_cls(num_features, eps=eps, momentum=momentum, affine=cfg.get('affine', True),
                  track_running_stats=cfg.get('track_running_stats', True))


def uses_local_batch_stats(norm: nn.Module, input: torch.Tensor) -> bool:
    """Whether ``norm`` normalises ``input`` with the statistics of this process's batch alone."""
    if not isinstance(norm, nn.modules.batchnorm._BatchNorm) or not norm.training:
        return False
    return not (isinstance(norm, SyncBatchNorm) and norm.syncs(input))


def is_norm(module: nn.Module) -> bool:
    """Whether ``module`` is a batch or group normalization layer."""
    return isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm))


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.SyncBatchNorm`` in ``module`` by a ``BatchNorm2d`` holding the same state.

    PyTorch's DDP refuses SyncBatchNorm on CPU modules (gloo cannot sync it), so CPU training
    under DDP uses per-process statistics instead.
    """
    if isinstance(module, nn.SyncBatchNorm):
        bn = nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
        bn.load_state_dict(module.state_dict())
        bn.train(module.training)
        for p_new, p_old in zip(bn.parameters(), module.parameters()):
            p_new.requires_grad_(p_old.requires_grad)
        return bn
    for name, child in module.named_children():
        new = revert_sync_batchnorm(child)
        if new is not child:
            setattr(module, name, new)
    return module
