"""Weight initialisation: mmcv 1.x's init functions and the ``init_cfg`` initializers (``INITIALIZERS``).

The initializers are mmcv 1.7's (``mmcv.cnn.utils.weight_init``): ``Constant``, ``Xavier``, ``Normal``,
``TruncNormal``, ``Uniform``, ``Kaiming``, ``Caffe2Xavier`` and ``Pretrained``, with the same arguments and
defaults. Each initializer (but ``Pretrained``) touches the sub-modules whose class name, or the name of one of
whose direct base classes, is in ``layer``; inside an ``override`` (``wholemodule``) it touches every
sub-module of the named attribute that has a ``weight`` or ``bias``. Wrong arguments are :class:`ConfigError`
naming the initializer and the key; :func:`initialize` (in ``base_module.py``) applies configs to a module.
"""
import math
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ...registry import INITIALIZERS
from ...utils import ConfigError, warn_once
from ...utils.checks import check_number, check_str, describe
from .norm import is_norm
from .pretrained import load_pretrained

_DISTRIBUTIONS = ('normal', 'uniform')


# ------------------------------------------------------------------------- init functions (mmcv 1.x)
def constant_init(module: nn.Module, val: float, bias: float = 0) -> None:
    """Fill ``module.weight`` with ``val`` and ``module.bias`` with ``bias`` (where they exist)."""
    if getattr(module, 'weight', None) is not None:
        nn.init.constant_(module.weight, val)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def xavier_init(module: nn.Module, gain: float = 1, bias: float = 0, distribution: str = 'normal') -> None:
    """Glorot initialisation of ``module.weight`` (``'normal'`` or ``'uniform'``), constant bias."""
    if getattr(module, 'weight', None) is not None:
        init = nn.init.xavier_uniform_ if distribution == 'uniform' else nn.init.xavier_normal_
        init(module.weight, gain=gain)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def normal_init(module: nn.Module, mean: float = 0, std: float = 1, bias: float = 0) -> None:
    """``N(mean, std²)`` weight, constant bias."""
    if getattr(module, 'weight', None) is not None:
        nn.init.normal_(module.weight, mean, std)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def trunc_normal_(tensor: torch.Tensor, mean: float = 0., std: float = 1., a: float = -2., b: float = 2.
                  ) -> torch.Tensor:
    """Fill ``tensor`` from ``N(mean, std²)`` truncated to ``[a, b]`` by inverse-CDF sampling (mmcv 1.7's method).

    ``u ~ U(2Φ(α) - 1, 2Φ(β) - 1)`` with ``α, β = (a - mean) / std, (b - mean) / std``, then
    ``x = mean + std·√2·erfinv(u)``, clamped to ``[a, b]`` (torch 2.13's ``nn.init.trunc_normal_`` samples by
    rejection instead, which draws other values from the same seed).
    """
    def norm_cdf(x: float) -> float:
        return (1. + math.erf(x / math.sqrt(2.))) / 2.

    if mean < a - 2 * std or mean > b + 2 * std:
        warn_once('TruncNormal: mean is more than 2 std from [a, b]; the distribution may be incorrect')
    with torch.no_grad():
        low, high = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)
        tensor.uniform_(2 * low - 1, 2 * high - 1)
        tensor.erfinv_()
        tensor.mul_(std * math.sqrt(2.))
        tensor.add_(mean)
        tensor.clamp_(min=a, max=b)
    return tensor


def trunc_normal_init(module: nn.Module, mean: float = 0, std: float = 1, a: float = -2, b: float = 2,
                      bias: float = 0) -> None:
    """``N(mean, std²)`` truncated to ``[a, b]`` (:func:`trunc_normal_`), constant bias."""
    if getattr(module, 'weight', None) is not None:
        trunc_normal_(module.weight, mean, std, a, b)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def uniform_init(module: nn.Module, a: float = 0, b: float = 1, bias: float = 0) -> None:
    """``U(a, b)`` weight, constant bias."""
    if getattr(module, 'weight', None) is not None:
        nn.init.uniform_(module.weight, a, b)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def kaiming_init(module: nn.Module, a: float = 0, mode: str = 'fan_out', nonlinearity: str = 'relu',
                 bias: float = 0, distribution: str = 'normal') -> None:
    """He initialisation of ``module.weight`` (mmcv's defaults: fan_out, ReLU, normal), constant bias."""
    if getattr(module, 'weight', None) is not None:
        init = nn.init.kaiming_uniform_ if distribution == 'uniform' else nn.init.kaiming_normal_
        init(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def caffe2_xavier_init(module: nn.Module, bias: float = 0) -> None:
    """Caffe2's ``XavierFill``: Kaiming uniform with ``a=1``, fan_in, leaky_relu."""
    kaiming_init(module, a=1, mode='fan_in', nonlinearity='leaky_relu', bias=bias, distribution='uniform')


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias whose sigmoid is ``prior_prob``: ``-log((1 - p) / p)``."""
    return float(-np.log((1 - prior_prob) / prior_prob))


def kaiming_init_(module: nn.Module) -> None:
    """He-normal (fan_out, ReLU) convolutions with zero bias; norm layers weight 1, bias 0.

    The default initialisation of the DDRNet modules, in their constructors (the official DDRNet code's and
    mmseg's, also what mmcv's ``ConvModule`` does to itself).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            kaiming_init(m)
        elif is_norm(m) and m.weight is not None:
            constant_init(m, 1, 0)


def layer_names(module: nn.Module) -> List[str]:
    """The names an initializer's ``layer`` matches: the class's and its direct bases' (as mmcv 1.7).

    A base class of the same name (this package's ``SyncBatchNorm`` standing in for PyTorch's) is seen
    through: its own bases count too, so ``'_BatchNorm'`` matches SyncBN layers as it does in mmcv.
    """
    cls = type(module)
    names, bases = [cls.__name__], list(cls.__bases__)
    while bases:
        base = bases.pop(0)
        names.append(base.__name__)
        if base.__name__ == cls.__name__:
            bases.extend(base.__bases__)
    return names


# ----------------------------------------------------------------------------------- initializers
class BaseInit:
    """Arguments every initializer but ``Pretrained`` shares.

    Args:
        bias: the value of the biases.
        bias_prob: a probability ``p`` (float): the biases get ``bias_init_with_prob(p)`` instead.
        layer: a class name or a list of them: the sub-modules to initialise (none without it,
            except inside an ``override``).
    """

    def __init__(self, *, bias: float = 0, bias_prob: Optional[float] = None,
                 layer: Union[str, Sequence[str], None] = None):
        owner = f'init_cfg {self.init_name()}'
        self.wholemodule = False
        check_number(owner, 'bias', bias)
        if bias_prob is not None and (not isinstance(bias_prob, float) or not 0 < bias_prob < 1):
            raise ConfigError(f'{owner}: bias_prob must be a float in (0, 1), got {describe(bias_prob)}')
        if layer is None:
            layer = []
        elif isinstance(layer, str):
            layer = [layer]
        elif not isinstance(layer, (list, tuple)) or not all(isinstance(name, str) for name in layer):
            raise ConfigError(f'{owner}: layer must be a class name or a list of them, got {describe(layer)}')
        self.bias = bias_init_with_prob(bias_prob) if bias_prob is not None else bias
        self.layer = list(layer)

    @classmethod
    def init_name(cls) -> str:
        """The registered name (``Normal`` for ``NormalInit``)."""
        return cls.__name__[:-len('Init')] if cls.__name__.endswith('Init') else cls.__name__

    def init_layer(self, module: nn.Module) -> None:
        """Initialise one matching sub-module."""
        raise NotImplementedError

    def __call__(self, module: nn.Module) -> None:
        layers = set(self.layer)

        def init(m: nn.Module) -> None:
            if self.wholemodule or layers.intersection(layer_names(m)):
                self.init_layer(m)

        module.apply(init)


def _numbers(owner: str, **values: float) -> None:
    for key, value in values.items():
        check_number(f'init_cfg {owner}', key, value)


@INITIALIZERS.register_module(name='Constant')
class ConstantInit(BaseInit):
    """Weights ``val``, biases ``bias``."""

    def __init__(self, val: float, **kwargs):
        super().__init__(**kwargs)
        _numbers('Constant', val=val)
        self.val = val

    def init_layer(self, module: nn.Module) -> None:
        constant_init(module, self.val, self.bias)


@INITIALIZERS.register_module(name='Xavier')
class XavierInit(BaseInit):
    """Glorot weights (``gain``, ``distribution`` ``'normal'`` or ``'uniform'``)."""

    def __init__(self, gain: float = 1, distribution: str = 'normal', **kwargs):
        super().__init__(**kwargs)
        _numbers('Xavier', gain=gain)
        self.gain = gain
        self.distribution = check_str('init_cfg Xavier', 'distribution', distribution, _DISTRIBUTIONS)

    def init_layer(self, module: nn.Module) -> None:
        xavier_init(module, self.gain, self.bias, self.distribution)


@INITIALIZERS.register_module(name='Normal')
class NormalInit(BaseInit):
    """``N(mean, std²)`` weights."""

    def __init__(self, mean: float = 0, std: float = 1, **kwargs):
        super().__init__(**kwargs)
        _numbers('Normal', mean=mean, std=std)
        self.mean, self.std = mean, std

    def init_layer(self, module: nn.Module) -> None:
        normal_init(module, self.mean, self.std, self.bias)


@INITIALIZERS.register_module(name='TruncNormal')
class TruncNormalInit(BaseInit):
    """``N(mean, std²)`` weights truncated to ``[a, b]``."""

    def __init__(self, mean: float = 0, std: float = 1, a: float = -2, b: float = 2, **kwargs):
        super().__init__(**kwargs)
        _numbers('TruncNormal', mean=mean, std=std, a=a, b=b)
        if not a < b:
            raise ConfigError(f'init_cfg TruncNormal: a must be below b, got a={a}, b={b}')
        self.mean, self.std, self.a, self.b = mean, std, a, b

    def init_layer(self, module: nn.Module) -> None:
        trunc_normal_init(module, self.mean, self.std, self.a, self.b, self.bias)


@INITIALIZERS.register_module(name='Uniform')
class UniformInit(BaseInit):
    """``U(a, b)`` weights."""

    def __init__(self, a: float = 0., b: float = 1., **kwargs):
        super().__init__(**kwargs)
        _numbers('Uniform', a=a, b=b)
        self.a, self.b = a, b

    def init_layer(self, module: nn.Module) -> None:
        uniform_init(module, self.a, self.b, self.bias)


@INITIALIZERS.register_module(name='Kaiming')
class KaimingInit(BaseInit):
    """He weights: ``a`` (leaky_relu slope), ``mode`` (``'fan_in'``/``'fan_out'``), ``nonlinearity``,
    ``distribution`` (``'normal'``/``'uniform'``)."""

    def __init__(self, a: float = 0, mode: str = 'fan_out', nonlinearity: str = 'relu',
                 distribution: str = 'normal', **kwargs):
        super().__init__(**kwargs)
        owner = f'init_cfg {self.init_name()}'
        _numbers(self.init_name(), a=a)
        self.a = a
        self.mode = check_str(owner, 'mode', mode, ('fan_in', 'fan_out'))
        self.nonlinearity = check_str(owner, 'nonlinearity', nonlinearity)
        self.distribution = check_str(owner, 'distribution', distribution, _DISTRIBUTIONS)
        try:
            nn.init.calculate_gain(nonlinearity, a)
        except ValueError as err:
            raise ConfigError(f'{owner}: nonlinearity={nonlinearity!r} with a={a!r}: {err}') from err

    def init_layer(self, module: nn.Module) -> None:
        kaiming_init(module, self.a, self.mode, self.nonlinearity, self.bias, self.distribution)


@INITIALIZERS.register_module(name='Caffe2Xavier')
class Caffe2XavierInit(KaimingInit):
    """Caffe2's ``XavierFill`` (Kaiming uniform, ``a=1``, fan_in, leaky_relu); takes ``bias``,
    ``bias_prob`` and ``layer`` only."""

    def __init__(self, **kwargs):
        fixed = sorted(set(kwargs) & {'a', 'mode', 'nonlinearity', 'distribution'})
        if fixed:
            raise ConfigError(f'init_cfg Caffe2Xavier: {", ".join(fixed)} cannot be set (Caffe2Xavier is '
                              "Kaiming with a=1, mode='fan_in', nonlinearity='leaky_relu', distribution='uniform')")
        super().__init__(a=1, mode='fan_in', nonlinearity='leaky_relu', distribution='uniform', **kwargs)


@INITIALIZERS.register_module(name='Pretrained')
class PretrainedInit:
    """Load a checkpoint into the module (non-strict), through the safe ``weights_only`` loader.

    Args:
        checkpoint: a file path or an http(s) URL.
        prefix: load only the entries under this prefix (``'backbone.'``), with the prefix removed.
        map_location: where the tensors are loaded (None: the CPU; they are copied into the module).
    """

    def __init__(self, checkpoint: str, prefix: Optional[str] = None, map_location: Optional[str] = None):
        self.wholemodule = False
        check_str('init_cfg Pretrained', 'checkpoint', checkpoint)
        self.checkpoint = checkpoint
        self.prefix = check_str('init_cfg Pretrained', 'prefix', prefix, optional=True)
        self.map_location = check_str('init_cfg Pretrained', 'map_location', map_location, optional=True)

    def __call__(self, module: nn.Module) -> None:
        load_pretrained(module, self.checkpoint, self.prefix, self.map_location)

