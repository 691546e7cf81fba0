"""``DualResNet``: the official DDRNet constructor (ydhongHIT/DDRNet) as an mmseg 0.x backbone.

Many mmseg 0.x forks register the official ``segmentation/DDRNet_*.py`` class as ``type='DualResNet'`` with its
own arguments: ``DualResNet(block, layers, num_classes=19, planes=64, spp_planes=128, head_planes=128,
augment=False)``. This class takes those arguments and builds the same network as :class:`DDRNet`:

============================  ==========================================================================
official argument             here
============================  ==========================================================================
``block``                     ``'BasicBlock'`` (or omitted, or the ``BasicBlock`` class); others refused
``layers``                    ``layers`` (``[2, 2, 2, 2]``: DDRNet-23(-slim); ``[3, 4, 6, 3]``: DDRNet-39,
                              stage 3 in two halves); the fork spelling ``[2, 2, (3, 3), 2]`` gives the halves
``planes``                    ``channels`` (32: slim, 64: DDRNet-23/-39)
``spp_planes``                ``ppm_channels``
``num_classes``, ``head_planes``, ``augment``
                              the official model's heads (``final_layer``, ``seghead_extra``), which here are
                              ``decode_head`` (``num_classes``, ``channels=head_planes``) and an
                              ``auxiliary_head`` on ``in_index=0`` (``augment=True``); given explicitly they are
                              checked against the segmentor's heads (:meth:`check_heads`: a warning names both)
============================  ==========================================================================

Forward contract (what the heads read): ``(aux_feat, out)`` as :class:`DDRNet`, both at 1/8 of the input:
``aux_feat`` is the high-resolution feature after stage 3 that the official ``seghead_extra`` reads
(``2 * planes`` channels, ``in_index=0``); ``out`` is ``x + x_`` that the official ``final_layer`` reads
(``4 * planes`` channels, ``in_index=-1`` or ``1``). The official model returns the logits of its heads
instead; here ``DDRHead``/``FCNHead`` produce them. The official code resizes to ``floor(H/8)``; here the
feature size is ``ceil(H/8)`` (the same for inputs divisible by 8).

``pretrained`` (or ``init_cfg=dict(type='Pretrained', ...)``) may point at an official checkpoint: the ImageNet
backbones (``DDRNet23s_imagenet.pth``...) or a segmentation model (its heads are left out, with a warning).
Such files are converted on load with the key map of :mod:`.ddrnet_keys`; checkpoints in this package's
format load as they are.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn

from ...registry import MODELS
from ...utils import ConfigError, warn_once
from ...utils.checks import describe, is_int
from .ddrnet import _RELU, DDRNet

_DDRNET_39 = [3, 4, 6, 3]


@MODELS.register_module()
class DualResNet(DDRNet):
    """The official DDRNet constructor arguments on :class:`DDRNet` (see the module docstring).

    Args:
        block: ``'BasicBlock'`` (the only block of the official stages 1-4).
        layers: blocks of stages 1-4 (default ``[2, 2, 2, 2]``).
        num_classes, head_planes, augment: the official heads' settings; None (default): not given.
        planes: base width (official default 64). spp_planes: DAPPM width (128).
        in_channels, norm_cfg, act_cfg, align_corners, norm_eval, pretrained, init_cfg: as :class:`DDRNet`.
    """

    def __init__(self, block='BasicBlock', layers: Sequence = (2, 2, 2, 2), num_classes: Optional[int] = None,
                 planes: int = 64, spp_planes: int = 128, head_planes: Optional[int] = None,
                 augment: Optional[bool] = None, in_channels: int = 3,
                 norm_cfg: dict = dict(type='BN', requires_grad=True), act_cfg: dict = _RELU,
                 align_corners: bool = False, norm_eval: bool = False, pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        _check_block(block)
        flat_layers, splits = _official_layers(layers)
        super().__init__(in_channels=in_channels, channels=planes, ppm_channels=spp_planes, layers=flat_layers,
                         stage3_splits=splits, norm_cfg=norm_cfg, act_cfg=act_cfg, align_corners=align_corners,
                         norm_eval=norm_eval, pretrained=pretrained, init_cfg=init_cfg)
        self.official_head_args = _head_args(num_classes, head_planes, augment)

    # ---------------------------------------------------------------------------------- heads
    def check_heads(self, decode_head: nn.Module, auxiliary_heads: List[nn.Module]) -> None:
        """Warn where the official head arguments given to the backbone disagree with the segmentor's heads."""
        args = self.official_head_args
        where = 'the heads are the segmentor\'s decode_head / auxiliary_head here'
        if 'num_classes' in args and args['num_classes'] != decode_head.num_classes:
            warn_once(f'DualResNet: num_classes={args["num_classes"]} is ignored; decode_head.num_classes='
                      f'{decode_head.num_classes} is used ({where})')
        if 'head_planes' in args and args['head_planes'] != decode_head.channels:
            warn_once(f'DualResNet: head_planes={args["head_planes"]} is ignored; decode_head.channels='
                      f'{decode_head.channels} is used ({where})')
        if args.get('augment') and not auxiliary_heads:
            warn_once('DualResNet: augment=True but the model has no auxiliary_head, so no auxiliary loss is '
                      f"trained; add auxiliary_head=dict(type='DDRHead', in_index=0, in_channels="
                      f'{self.out_channels[0]}, channels=..., num_classes=...) ({where})')


def _check_block(block) -> None:
    name = block if isinstance(block, str) else getattr(block, '__name__', None)
    if name != 'BasicBlock':
        raise ConfigError(f"DualResNet: block={block!r} is not supported: the official DDRNet stages 1-4 "
                          "use BasicBlock (the Bottleneck of stage 5 is fixed); leave block out or set 'BasicBlock'")


def _official_layers(layers) -> Tuple[List[int], Optional[int]]:
    """``(layers for DDRNet, stage3_splits)``; ``layers[2]`` may be a tuple of the stage-3 halves."""
    if not isinstance(layers, (list, tuple)) or len(layers) != 4:
        raise ConfigError(f'DualResNet: layers must be 4 block counts (stages 1-4), got {layers!r}')
    stage3 = layers[2]
    if isinstance(stage3, (list, tuple)):
        if not stage3 or len(set(stage3)) != 1 or not all(is_int(n) and n > 0 for n in stage3):
            raise ConfigError(f'DualResNet: layers[2]={stage3!r} must be equal positive block counts per stage-3 part')
        flat, splits = [layers[0], layers[1], sum(stage3), layers[3]], len(stage3)
    else:
        flat, splits = list(layers), None
    if not all(is_int(n) and n > 0 for n in flat):
        raise ConfigError(f'DualResNet: layers must be positive ints, got {layers!r}')
    if splits is None and flat != _DDRNET_39 and flat[2:] != [2, 2]:
        raise ConfigError(f'DualResNet: layers={layers!r} cannot be reproduced: the official DDRNet-23 code keeps '
                          '2 blocks in the high-resolution stages 3-4 whatever layers[2:] says; use [2, 2, 2, 2] '
                          "(DDRNet-23/-23-slim), [3, 4, 6, 3] (DDRNet-39), or type='DDRNet' for other depths")
    return flat, splits


def _head_args(num_classes, head_planes, augment) -> Dict[str, object]:
    """The official head arguments that were given, checked."""
    args: Dict[str, object] = {}
    for name, value in (('num_classes', num_classes), ('head_planes', head_planes)):
        if value is not None:
            if not is_int(value) or value <= 0:
                raise ConfigError(f'DualResNet: {name} must be a positive int, got {describe(value)}')
            args[name] = value
    if augment is not None:
        if not isinstance(augment, bool):
            raise ConfigError(f'DualResNet: augment must be True or False, got {describe(augment)}')
        args['augment'] = augment
    return args
