"""The DDRNet segmentation head (mmseg 1.x ``DDRHead`` layout, mmseg 0.x decode-head API)."""
from typing import Optional

import torch
import torch.nn as nn

from ...registry import MODELS
from ..utils import ConvModule, build_activation_layer, build_norm_layer, kaiming_init_
from .decode_head import BaseDecodeHead, Features


@MODELS.register_module()
class DDRHead(BaseDecodeHead):
    """norm → ReLU → 3×3 conv → norm → ReLU → 1×1 classifier, on one backbone output.

    As ``decode_head`` it reads the final DDRNet feature (``in_index=-1``, ``in_channels=4C``); as
    ``auxiliary_head`` the 1/8 spatial feature after stage 3 (``in_index=0``, ``in_channels=2C``).
    Parameter names (``head``, ``conv_seg``) are mmseg 1.x's. Without dropout by default, as in the
    official DDRNet. Other arguments: :class:`BaseDecodeHead`.
    """

    def __init__(self, in_channels: int, channels: int, num_classes: int,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True), dropout_ratio: float = 0.0,
                 **kwargs):
        super().__init__(in_channels, channels, num_classes=num_classes, norm_cfg=norm_cfg, act_cfg=act_cfg,
                         dropout_ratio=dropout_ratio, **kwargs)
        self.head = nn.Sequential(
            ConvModule(self.in_channels, channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg,
                       order=('norm', 'act', 'conv')),
            build_norm_layer(norm_cfg, channels)[1],
            build_activation_layer(act_cfg))
        kaiming_init_(self)

    def forward(self, inputs: Features) -> torch.Tensor:
        return self.cls_seg(self.head(self._transform_inputs(inputs)))
