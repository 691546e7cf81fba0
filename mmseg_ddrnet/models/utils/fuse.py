"""Folding BatchNorm into the convolution it follows (the deploy model's ``fuse``).

In eval mode ``bn(conv(x)) = conv'(x)`` with ``w' = w * s`` and ``b' = (b - mean) * s + beta``,
``s = gamma / sqrt(var + eps)`` per output channel. Only a BatchNorm that directly follows a conv is
folded: a pre-activation BatchNorm (norm → ReLU → conv, as in DAPPM and the head's first layer) acts
on a sum, a concatenation or a pooled map, and a ReLU separates it from the next conv, so it stays
(as a frozen per-channel affine, which is what an eval-mode BatchNorm computes).
"""
import functools
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv_module import ConvModule

_BN = nn.modules.batchnorm._BatchNorm


def fold_bn_into_conv(conv: nn.Conv2d, bn: _BN) -> nn.Conv2d:
    """A new conv computing ``bn(conv(x))`` with ``bn``'s running statistics (computed in float64)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'cannot fold {bn}: it tracks no running statistics')
    if bn.num_features != conv.out_channels:
        raise ValueError(f'cannot fold {bn} into {conv}: {bn.num_features} != {conv.out_channels} channels')
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True,
                      padding_mode=conv.padding_mode)
    weight, bias = _folded(conv, bn)
    with torch.no_grad():
        fused.weight.copy_(weight)
        fused.bias.copy_(bias)
    return fused.to(device=conv.weight.device, dtype=conv.weight.dtype)


def _folded(conv: nn.Conv2d, bn: _BN) -> Tuple[torch.Tensor, torch.Tensor]:
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(bn.running_mean, dtype=torch.double)
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(b)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(b)
    scale = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
    return w * scale.view(-1, 1, 1, 1), (b - bn.running_mean.double()) * scale + beta


class DeployConv2d(nn.Conv2d):
    """A conv of the deploy model: ``conv(x)`` or ``relu(conv(x))`` (``activation``) in one oneDNN call on CPU.

    On CPU, without autograd, the weight is reordered once per input shape into the blocked layout oneDNN's
    kernel reads (instead of at every call) and kept in a cache that is not part of the state dict; the ReLU
    is a post-op, with no second pass over the output. Parameter names are ``nn.Conv2d``'s. Elsewhere (CUDA,
    autograd, tracing, ONNX export, torch.compile, a PyTorch without these ops, bf16 where oneDNN runs no
    bf16) it runs ``F.conv2d`` and ``F.relu``. Same results either way up to the summation order.
    """

    ACTIVATIONS = ('none', 'relu')
    MAX_CACHED_SHAPES = 4

    def __init__(self, *args, activation: str = 'none', **kwargs):
        super().__init__(*args, **kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f'activation must be one of {self.ACTIVATIONS}, got {activation!r}')
        self.activation = activation
        self._packed = {}

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, activation: str = 'none') -> 'DeployConv2d':
        """``conv`` (same parameters, on the same device and dtype) followed by ``activation``."""
        deploy = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                     padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                     padding_mode=conv.padding_mode, device=conv.weight.device, dtype=conv.weight.dtype,
                     activation=activation)
        deploy.load_state_dict(conv.state_dict())
        return deploy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _pointwise_ok(self, x):
            return torch.ops.mkldnn._convolution_pointwise(x, self._packed_weight(x), self.bias, list(self.padding),
                                                           list(self.stride), list(self.dilation), self.groups,
                                                           self.activation, [], '')
        out = super().forward(x)
        return F.relu(out, inplace=True) if self.activation == 'relu' else out

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        if not hasattr(torch.ops.mkldnn, '_reorder_convolution_weight'):
            return self.weight
        key = (tuple(x.shape), x.dtype, x.is_contiguous(memory_format=torch.channels_last),
               self.weight.data_ptr(), self.weight.dtype, self.weight._version)
        packed = self._packed.get(key)
        if packed is None:
            if len(self._packed) >= self.MAX_CACHED_SHAPES:
                self._packed.clear()
            packed = self._packed[key] = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight.detach(), list(self.padding), list(self.stride), list(self.dilation), self.groups,
                list(x.shape))
        return packed

    def _apply(self, fn, recurse=True):
        self._packed.clear()  # .to(), .half(), ...: the weight changes
        return super()._apply(fn, recurse)

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), '__getstate__') else self.__dict__
        return dict(state, _packed={})  # copies and pickles carry no oneDNN tensors

    def extra_repr(self) -> str:
        return super().extra_repr() + (f', activation={self.activation}' if self.activation != 'none' else '')


def _pointwise_ok(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    return (x.device.type == 'cpu' and not torch.is_grad_enabled() and conv.padding_mode == 'zeros'
            and isinstance(conv.padding, tuple) and hasattr(torch.ops.mkldnn, '_convolution_pointwise')
            and torch.backends.mkldnn.is_available() and not torch.jit.is_tracing()
            and not torch.jit.is_scripting() and not torch.onnx.is_in_onnx_export()
            and not torch.compiler.is_compiling()
            and x.dtype == conv.weight.dtype and x.dtype in (torch.float32, torch.bfloat16)
            and (x.dtype != torch.bfloat16 or _onednn_bf16()))


@functools.lru_cache(maxsize=None)
def _onednn_bf16() -> bool:
    """Whether oneDNN runs bf16 here (AVX512-BW/VL/DQ or AVX-NE-CONVERT, and not capped by ONEDNN_MAX_CPU_ISA);
    otherwise PyTorch's own bf16 convolution is used, followed by a ReLU."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fuse_conv_bn(module: nn.Module) -> int:
    """Fold, in place, every BatchNorm of ``module`` that directly follows a conv; the number folded.

    Handles :class:`ConvModule` with the norm right after the conv (the norm is removed and the conv
    gains a bias; a ReLU right after the norm joins the conv as a :class:`DeployConv2d`) and ``nn.Sequential`` with a BatchNorm right after a ``Conv2d`` or after a
    ``ConvModule`` ending with its conv (the BatchNorm becomes ``nn.Identity``). The results equal those of the eval-mode module up to float rounding.
    """
    count = 0
    for child in module.children():
        count += fuse_conv_bn(child)
    if isinstance(module, ConvModule):
        count += _fuse_conv_module(module)
    elif isinstance(module, nn.Sequential):
        count += _fuse_sequential(module)
    return count


def _fuse_conv_module(m: ConvModule) -> int:
    if not (m.with_norm and isinstance(m.norm, _BN)):
        return 0
    if m.order.index('norm') != m.order.index('conv') + 1:
        return 0  # pre-activation (norm first) or conv → act → norm: nothing to fold into
    m.conv = fold_bn_into_conv(m.conv, m.norm)
    delattr(m, m.norm_name)
    m.norm_name, m.with_norm = None, False
    act = m.order.index('act')
    if m.with_activation and type(m.activate) is nn.ReLU and act == m.order.index('conv') + 2:
        m.conv = DeployConv2d.from_conv(m.conv, 'relu')  # conv → (folded norm) → ReLU: the ReLU joins the conv
        del m.activate
        m.with_activation = False
    return 1


def _fuse_sequential(seq: nn.Sequential) -> int:
    count = 0
    names = list(seq._modules)
    for prev, name in zip(names, names[1:]):
        conv, bn = seq._modules[prev], seq._modules[name]
        if not isinstance(bn, _BN):
            continue
        if type(conv) is nn.Conv2d:
            seq._modules[prev] = fold_bn_into_conv(conv, bn)
        elif isinstance(conv, ConvModule) and conv.order[-1] == 'conv':  # e.g. DDRHead: pre-act module, BN
            conv.conv = fold_bn_into_conv(conv.conv, bn)
        else:
            continue
        seq._modules[name] = nn.Identity()
        count += 1
    return count


def to_deploy_convs(module: nn.Module) -> int:
    """Replace, in place, every plain ``nn.Conv2d`` (zero padding) of ``module`` by a :class:`DeployConv2d`
    with the same parameters; the number replaced."""
    count = 0
    for name, child in module.named_children():
        if type(child) is nn.Conv2d and child.padding_mode == 'zeros':
            setattr(module, name, DeployConv2d.from_conv(child))
            count += 1
        else:
            count += to_deploy_convs(child)
    return count
