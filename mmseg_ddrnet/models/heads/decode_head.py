"""The base class of decode heads, with mmseg 0.x's ``BaseDecodeHead`` arguments and API."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...utils import ConfigError, warn_once
from ...utils.checks import check_bool, check_int, check_type_cfg, describe, is_int, is_number
from ..losses import accuracy
from ..samplers import build_pixel_sampler
from ..utils import BaseModule

Features = Union[torch.Tensor, Sequence[torch.Tensor]]
_TRANSFORMS = (None, 'resize_concat', 'multiple_select')


class BaseDecodeHead(BaseModule, metaclass=ABCMeta):
    """Selects backbone features, predicts per-pixel logits and computes its losses.

    Args:
        in_channels: channels of the selected input (a list with ``input_transform``).
        channels: channels before the final 1×1 classifier ``conv_seg``.
        num_classes: number of classes.
        dropout_ratio: dropout before ``conv_seg``.
        conv_cfg: None, ``dict(type='Conv2d')`` or ``dict(type='Conv')`` (all a plain ``nn.Conv2d``).
        norm_cfg, act_cfg: of the head's layers.
        in_index: which backbone output(s) the head reads.
        input_transform: None, ``'resize_concat'`` or ``'multiple_select'`` (mmseg 0.x).
        loss_decode: a loss config or a list of them; losses with the same ``loss_name`` are summed.
        ignore_index: label ignored by the losses and the accuracy.
        sampler: a pixel sampler config (``PIXEL_SAMPLERS``, e.g. ``dict(type='OHEMPixelSampler',
            thresh=0.7, min_kept=100000)``), built with ``context=self``; None: every pixel counts.
        align_corners: of the bilinear upsampling of the logits.
        init_cfg: mmcv initializer config(s) applied by ``init_weights()`` on top of the head's own
            initialisation, e.g. ``dict(type='Normal', std=0.01, override=dict(name='conv_seg'))``
            (see :class:`~mmseg_ddrnet.models.utils.BaseModule`).
        out_channels: None or ``num_classes`` (mmseg 0.x's sigmoid binary mode, 1 channel, is refused).
        threshold: only for that binary mode; ignored with a warning otherwise.

    ``train_cfg`` and ``test_cfg`` (the segmentor's) reach :meth:`forward_train` and :meth:`forward_test`;
    a head that reads keys of them lists them in ``train_cfg_keys`` / ``test_cfg_keys`` (the built-in
    heads read none), so that the segmentor warns only about keys no head reads.

    How :meth:`losses` calls each loss (the loss contract):

    - a loss class with ``accepts_low_res_logits = True`` (the built-in ``CrossEntropyLoss`` and
      ``OhemCrossEntropy``; set it on yours to opt in) gets the head's low-resolution logits and
      upsamples them itself: ``loss(seg_logit, label, ignore_index=..., align_corners=...)``;
    - every other loss gets mmseg 0.x's call, the logits resized (bilinear, ``align_corners``) to the
      label size: ``loss(seg_logit_full, label, weight=seg_weight, ignore_index=...)``;
    - with a ``sampler``, every loss gets the 0.x call with ``weight=sampler.sample(seg_logit_full,
      seg_label)`` (N×H×W); losses with ``accepts_pixel_weight = False`` are refused.
    """

    train_cfg_keys: frozenset = frozenset()
    test_cfg_keys: frozenset = frozenset()

    def __init__(self, in_channels: Union[int, Sequence[int]], channels: int, *, num_classes: int,
                 dropout_ratio: float = 0.1, conv_cfg: Optional[dict] = None, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'), in_index: Union[int, Sequence[int]] = -1,
                 input_transform: Optional[str] = None,
                 loss_decode: Union[dict, Sequence[dict]] = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 ignore_index: int = 255, sampler: Optional[dict] = None, align_corners: bool = False,
                 init_cfg: Optional[dict] = None, out_channels: Optional[int] = None,
                 threshold: Optional[float] = None):
        super().__init__(init_cfg)
        name = type(self).__name__
        self.in_channels = _check_inputs(name, in_channels, in_index, input_transform)
        self.in_index = in_index
        self.input_transform = input_transform
        self.channels = _positive_int(name, 'channels', channels)
        self.num_classes = _positive_int(name, 'num_classes', num_classes)
        _check_conv_cfg(name, conv_cfg)
        _check_out_channels(name, out_channels, threshold, self.num_classes)
        if not is_number(dropout_ratio) or not 0 <= dropout_ratio < 1:
            raise ConfigError(f'{name}: dropout_ratio must be a number in [0, 1), got {describe(dropout_ratio)}')
        self.norm_cfg = check_type_cfg(name, 'norm_cfg', norm_cfg, optional=True)
        self.act_cfg = check_type_cfg(name, 'act_cfg', act_cfg, optional=True)
        self.ignore_index = check_int(name, 'ignore_index', ignore_index)
        self.align_corners = check_bool(name, 'align_corners', align_corners)
        self.loss_decode = _build_losses(name, loss_decode)
        self.sampler = None if sampler is None else _build_sampler(name, sampler, self)
        self.conv_seg = nn.Conv2d(channels, self.num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    def extra_repr(self) -> str:
        return (f'input_transform={self.input_transform}, ignore_index={self.ignore_index}, '
                f'align_corners={self.align_corners}')

    @abstractmethod
    def forward(self, inputs: Features) -> torch.Tensor:
        """Logits (N×num_classes×h×w) from the backbone's outputs."""

    def forward_train(self, inputs: Features, img_metas: List[dict], gt_semantic_seg: torch.Tensor,
                      train_cfg: Optional[dict] = None) -> Dict[str, torch.Tensor]:
        """Losses (and ``acc_seg``) of the head's logits against N×1×H×W labels."""
        return self.losses(self.forward(inputs), gt_semantic_seg)

    def forward_test(self, inputs: Features, img_metas: List[dict], test_cfg: Optional[dict] = None) -> torch.Tensor:
        """Low-resolution logits; the segmentor resizes them."""
        return self.forward(inputs)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Classify each pixel (dropout, then the 1×1 ``conv_seg``)."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def losses(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{loss_name: loss, ..., 'acc_seg': accuracy}`` of low-resolution logits and N×1×H×W labels.

        Each loss is called as its contract says (see the class docstring); losses with the same
        ``loss_name`` are summed.
        """
        label = seg_label[:, 0] if seg_label.dim() == 4 else seg_label
        full, seg_weight = None, None
        if self.sampler is not None:
            full = self._resize_to_label(seg_logit, label)
            seg_weight = self.sampler.sample(full, label.unsqueeze(1))
        loss: Dict[str, torch.Tensor] = {}
        for loss_module in self.loss_decode:
            if self.sampler is None and _accepts_low_res(loss_module):
                value = loss_module(seg_logit, label, ignore_index=self.ignore_index,
                                    align_corners=self.align_corners)
            else:
                full = self._resize_to_label(seg_logit, label) if full is None else full
                value = loss_module(full, label, weight=seg_weight, ignore_index=self.ignore_index)
            name = loss_module.loss_name
            loss[name] = loss[name] + value if name in loss else value
        loss['acc_seg'] = accuracy(seg_logit, label, self.ignore_index, self.align_corners)
        return loss

    def _resize_to_label(self, seg_logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The logits resized (bilinear, the head's ``align_corners``) to the N×H×W label's size."""
        if seg_logit.shape[-2:] == label.shape[-2:]:
            return seg_logit
        return F.interpolate(seg_logit, size=label.shape[-2:], mode='bilinear', align_corners=self.align_corners)

    def _transform_inputs(self, inputs: Features) -> Union[torch.Tensor, List[torch.Tensor]]:
        """The feature(s) ``in_index`` selects, transformed by ``input_transform``."""
        if isinstance(inputs, torch.Tensor):
            inputs = [inputs]
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return selected
        size = selected[0].shape[2:]
        return torch.cat([F.interpolate(x, size=size, mode='bilinear', align_corners=self.align_corners)
                          for x in selected], dim=1)


def _positive_int(owner: str, name: str, value) -> int:
    return check_int(owner, name, value, minimum=1)


def _check_inputs(owner: str, in_channels, in_index, input_transform) -> int:
    """The channels the head sees after ``input_transform``, checking the three agree."""
    if input_transform not in _TRANSFORMS:
        raise ConfigError(f'{owner}: input_transform must be one of {_TRANSFORMS}, got {input_transform!r}')
    if input_transform is None:
        _positive_int(owner, 'in_channels', in_channels)
        if not is_int(in_index):
            raise ConfigError(f'{owner}: in_index must be an int without input_transform, got {describe(in_index)}')
        return in_channels
    if not isinstance(in_channels, (list, tuple)) or not isinstance(in_index, (list, tuple)) \
            or len(in_channels) != len(in_index):
        raise ConfigError(f'{owner}: with input_transform={input_transform!r}, in_channels and in_index must be '
                          f'lists of the same length, got {in_channels!r} and {in_index!r}')
    if not all(is_int(c) and c > 0 for c in in_channels) or not all(is_int(i) for i in in_index):
        raise ConfigError(f'{owner}: in_channels must be positive ints and in_index ints, got {in_channels!r} '
                          f'and {in_index!r}')
    return sum(in_channels) if input_transform == 'resize_concat' else list(in_channels)


def _build_losses(owner: str, loss_decode) -> nn.ModuleList:
    cfgs = [loss_decode] if isinstance(loss_decode, dict) else loss_decode
    if not isinstance(cfgs, (list, tuple)) or not cfgs or not all(isinstance(c, dict) for c in cfgs):
        raise ConfigError(f'{owner}: loss_decode must be a loss config dict or a non-empty list of them, '
                          f'got {loss_decode!r}')
    return nn.ModuleList(MODELS.build(cfg) for cfg in cfgs)


def _accepts_low_res(loss_module: nn.Module) -> bool:
    """Whether the loss declares it upsamples low-resolution logits itself (``accepts_low_res_logits``)."""
    return bool(getattr(loss_module, 'accepts_low_res_logits', False))


def _build_sampler(owner: str, sampler, head: nn.Module):
    """The head's pixel sampler, refusing losses that take no pixel weight."""
    if not isinstance(sampler, dict):
        raise ConfigError(f'{owner}: sampler must be a pixel sampler config dict or None, got {sampler!r}')
    refused = [type(m).__name__ for m in head.loss_decode if getattr(m, 'accepts_pixel_weight', True) is False]
    if refused:
        raise ConfigError(f'{owner}: sampler={sampler!r} cannot be combined with {", ".join(refused)} '
                          '(it takes no pixel weight); use CrossEntropyLoss with the sampler')
    return build_pixel_sampler(sampler, context=head)


_CONV_TYPES = ('Conv2d', 'Conv')  # mmcv's names of a plain nn.Conv2d


def _check_conv_cfg(name: str, conv_cfg: Optional[dict]) -> None:
    if conv_cfg is None or (isinstance(conv_cfg, dict) and conv_cfg.get('type') in _CONV_TYPES
                            and set(conv_cfg) == {'type'}):
        return
    raise ConfigError(f'{name}: conv_cfg={conv_cfg!r} is not supported: the heads use plain 2-D convolutions '
                      f"(None, dict(type='Conv2d') or dict(type='Conv')); other mmcv conv layers (DCN, "
                      'weight-standardised, ...) are not implemented')


def _check_out_channels(name: str, out_channels: Optional[int], threshold: Optional[float],
                        num_classes: int) -> None:
    if out_channels is not None and out_channels != num_classes:
        raise ConfigError(f'{name}: out_channels={out_channels!r} is not supported: mmseg 0.x\'s binary mode '
                          '(out_channels=1 with a sigmoid loss and a threshold) is not implemented; the heads '
                          f'predict num_classes={num_classes} softmax channels (leave out_channels unset)')
    if threshold is not None:
        warn_once(f'{name}: threshold={threshold!r} is ignored: it applies to the binary mode (out_channels=1) '
                  'only, as in mmseg 0.x')
