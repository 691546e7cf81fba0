"""Conv + norm + activation bundles (mmcv 1.x ``ConvModule`` layout and state-dict names)."""
import inspect
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from ...registry import ACTIVATION_LAYERS
from ...utils import ConfigError
from ...utils.checks import is_number, type_error
from .norm import build_norm_layer

class Clamp(nn.Module):
    """mmcv's ``Clamp`` activation: ``x.clamp(min, max)``."""

    def __init__(self, min: float = -1., max: float = 1.):
        super().__init__()
        self.min, self.max = min, max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=self.min, max=self.max)


ACTIVATION_LAYERS.register_module(name='ReLU', module=nn.ReLU)
ACTIVATION_LAYERS.register_module(name='ReLU6', module=nn.ReLU6)
ACTIVATION_LAYERS.register_module(name='LeakyReLU', module=nn.LeakyReLU)
ACTIVATION_LAYERS.register_module(name='PReLU', module=nn.PReLU)
ACTIVATION_LAYERS.register_module(name='ELU', module=nn.ELU)
ACTIVATION_LAYERS.register_module(name='GELU', module=nn.GELU)
ACTIVATION_LAYERS.register_module(name='SiLU', module=nn.SiLU)
ACTIVATION_LAYERS.register_module(name='Swish', module=nn.SiLU)
ACTIVATION_LAYERS.register_module(name='HSwish', module=nn.Hardswish)
ACTIVATION_LAYERS.register_module(name='HSigmoid', module=nn.Hardsigmoid)
ACTIVATION_LAYERS.register_module(name='Sigmoid', module=nn.Sigmoid)
ACTIVATION_LAYERS.register_module(name='Tanh', module=nn.Tanh)
ACTIVATION_LAYERS.register_module(name='Clamp', module=Clamp)


def build_activation_layer(cfg: dict) -> nn.Module:
    """An activation module from ``cfg`` (``type`` plus the class's own arguments, e.g. ``inplace``)."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError(f'act_cfg must be a dict with a "type" key, got {cfg!r}')
    args = dict(cfg)
    act_type = args.pop('type')
    if not isinstance(act_type, str) or act_type not in ACTIVATION_LAYERS:
        raise ConfigError(f'act_cfg type {act_type!r} is not supported '
                          f'(use one of {sorted(ACTIVATION_LAYERS.module_dict)})')
    _check_arg_types(act_type, args)
    try:
        return ACTIVATION_LAYERS.get(act_type)(**args)
    except TypeError as err:
        raise ConfigError(f'act_cfg {cfg!r}: {err}') from err


def _check_arg_types(act_type: str, args: dict) -> None:
    """Each argument has the type of the activation class's default (bool, int or float, str)."""
    try:
        params = inspect.signature(ACTIVATION_LAYERS.get(act_type)).parameters
    except (TypeError, ValueError):  # a user's activation without an inspectable signature
        return
    for key, value in args.items():
        default = params[key].default if key in params else None
        if isinstance(default, bool):
            ok, expected = isinstance(value, bool), 'a bool (True or False)'
        elif isinstance(default, (int, float)):
            ok, expected = is_number(value), 'a number'
        elif isinstance(default, str):
            ok, expected = isinstance(value, str), 'a str'
        else:
            continue
        if not ok:
            raise type_error(f'act_cfg {act_type}', key, expected, value)


class ConvModule(nn.Module):
    """A conv layer with optional norm and activation, applied in ``order``.

    The sub-modules are named ``conv``, ``bn``/``gn`` and ``activate`` as in mmcv, so state dicts of
    mmcv-based models load unchanged. ``bias='auto'`` gives the conv a bias only without a norm layer.
    With ``order=('norm', 'act', 'conv')`` (pre-activation) the norm acts on the input channels.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, Sequence[int]],
                 stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: Union[bool, str] = 'auto', norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 order: Sequence[str] = ('conv', 'norm', 'act')):
        super().__init__()
        if sorted(order) != ['act', 'conv', 'norm']:
            raise ConfigError(f"ConvModule order must be a permutation of ('conv', 'norm', 'act'), got {order!r}")
        self.order = tuple(order)
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        if bias == 'auto':
            bias = not self.with_norm
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, bias=bias)
        self.norm_name = None
        if self.with_norm:
            norm_channels = out_channels if self.order.index('norm') > self.order.index('conv') else in_channels
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            self.add_module(self.norm_name, norm)
        if self.with_activation:
            self.activate = build_activation_layer(act_cfg)
            if self._act_sees_input() and hasattr(self.activate, 'inplace'):
                self.activate.inplace = False  # never overwrite the caller's tensor

    def _act_sees_input(self) -> bool:
        before_act = self.order[:self.order.index('act')]
        return 'conv' not in before_act and not ('norm' in before_act and self.with_norm)

    @property
    def norm(self) -> Optional[nn.Module]:
        return getattr(self, self.norm_name) if self.norm_name else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.order:
            if layer == 'conv':
                x = self.conv(x)
            elif layer == 'norm' and self.with_norm:
                x = self.norm(x)
            elif layer == 'act' and self.with_activation:
                x = self.activate(x)
        return x
