"""``build_optimizer``: any ``torch.optim`` optimizer from an mmcv 1.x ``optimizer`` config.

``paramwise_cfg`` follows mmcv's ``DefaultOptimizerConstructor``: ``custom_keys`` (the longest matching key
wins; ``lr_mult`` / ``decay_mult``), then for the other parameters ``bias_lr_mult``, ``bias_decay_mult``,
``norm_decay_mult`` and ``dwconv_decay_mult``.
"""
import difflib
import inspect
from typing import Any, Dict, List, Optional, Set

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from ..utils import ConfigError, RegistryError
from ..utils.dist import unwrap_model

_NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
_PARAMWISE_KEYS = {'custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
                   'bypass_duplicate', 'dcn_offset_lr_mult'}  # dcn_offset_lr_mult: DDRNet has no deformable conv


def optimizer_classes() -> Dict[str, type]:
    """Every optimizer class of ``torch.optim``, by name."""
    return {name: cls for name, cls in vars(torch.optim).items()
            if inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}


def _optimizer_class(name: Any) -> type:
    if inspect.isclass(name) and issubclass(name, torch.optim.Optimizer):
        return name
    classes = optimizer_classes()
    if name not in classes:
        close = difflib.get_close_matches(str(name), list(classes), n=3, cutoff=0.5)
        hint = f'; did you mean {", ".join(close)}?' if close else ''
        raise RegistryError(f'optimizer: unknown type {name!r}{hint} (any torch.optim class: '
                            f'{", ".join(sorted(classes))})')
    return classes[name]


def build_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """An optimizer for ``model``'s parameters from ``cfg`` (``type``, ``lr``, ..., ``paramwise_cfg``)."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError(f'optimizer config must be a dict with a "type" key, got {cfg!r}')
    args = dict(cfg)
    optim_cls = _optimizer_class(args.pop('type'))
    constructor = args.pop('constructor', 'DefaultOptimizerConstructor')
    if constructor != 'DefaultOptimizerConstructor':
        raise ConfigError(f'optimizer.constructor {constructor!r} is not supported: only '
                          'DefaultOptimizerConstructor (mmcv\'s default, with paramwise_cfg); mmseg 0.30\'s layer-wise '
                          'lr decay constructors number the layers of ViT/BEiT/ConvNeXt backbones, which DDRNet has not')
    paramwise_cfg = dict(args.pop('paramwise_cfg', None) or {})
    unknown = sorted(set(paramwise_cfg) - _PARAMWISE_KEYS)
    if unknown:
        raise ConfigError(f'optimizer.paramwise_cfg: unknown key(s) {unknown}; known: {sorted(_PARAMWISE_KEYS)}')
    model = unwrap_model(model)
    if paramwise_cfg:
        params: Any = param_groups(model, args.get('lr'), args.get('weight_decay'), paramwise_cfg)
    else:
        params = [p for p in model.parameters()]
    try:
        return optim_cls(params, **args)
    except TypeError as err:
        raise ConfigError(f'optimizer {optim_cls.__name__}: {err}') from err


def param_groups(model: nn.Module, base_lr: Optional[float], base_wd: Optional[float],
                 paramwise_cfg: dict) -> List[dict]:
    """One parameter group per parameter, with the lr and weight decay ``paramwise_cfg`` gives it."""
    custom_keys = dict(paramwise_cfg.get('custom_keys') or {})
    for key, value in custom_keys.items():
        if not isinstance(value, dict) or set(value) - {'lr_mult', 'decay_mult'}:
            raise ConfigError(f'optimizer.paramwise_cfg.custom_keys[{key!r}] must be a dict of lr_mult and '
                              f'decay_mult, got {value!r}')
    # the longest key wins; among keys of equal length, the alphabetically first (as mmcv)
    sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)
    groups: List[dict] = []
    seen: Set[int] = set()
    for prefix, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:  # shared parameter: torch refuses it twice
                continue
            seen.add(id(param))
            group: Dict[str, Any] = {'params': [param]}
            if param.requires_grad:
                _apply_rules(group, module, f'{prefix}.{name}', name, base_lr, base_wd, sorted_keys,
                             custom_keys, paramwise_cfg)
            groups.append(group)
    return groups


def _apply_rules(group: dict, module: nn.Module, full_name: str, name: str, base_lr: Optional[float],
                 base_wd: Optional[float], sorted_keys: List[str], custom_keys: dict, cfg: dict) -> None:
    for key in sorted_keys:
        if key in full_name:
            if base_lr is not None:
                group['lr'] = base_lr * custom_keys[key].get('lr_mult', 1.)
            if base_wd is not None:
                group['weight_decay'] = base_wd * custom_keys[key].get('decay_mult', 1.)
            return
    is_norm = isinstance(module, _NORM_TYPES)
    is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups
    if name == 'bias' and not is_norm and base_lr is not None:
        group['lr'] = base_lr * cfg.get('bias_lr_mult', 1.)
    if base_wd is None:
        return
    if is_norm:
        group['weight_decay'] = base_wd * cfg.get('norm_decay_mult', 1.)
    elif is_dwconv:
        group['weight_decay'] = base_wd * cfg.get('dwconv_decay_mult', 1.)
    elif name == 'bias':
        group['weight_decay'] = base_wd * cfg.get('bias_decay_mult', 1.)
