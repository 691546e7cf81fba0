"""``FCNHead`` (mmseg 0.x): stacked 3×3 convs, often the auxiliary head of mmseg configs."""
from typing import Optional

import torch
import torch.nn as nn

from ...registry import MODELS
from ...utils import ConfigError
from ...utils.checks import check_bool, check_int
from ..utils import ConvModule, kaiming_init_
from .decode_head import BaseDecodeHead, Features


@MODELS.register_module()
class FCNHead(BaseDecodeHead):
    """``num_convs`` conv-norm-act layers, optionally concatenated with the input, then ``conv_seg``.

    Args:
        num_convs: number of convs (0: the input goes straight to ``conv_seg``; needs
            ``in_channels == channels``).
        kernel_size: of the convs.
        concat_input: concatenate the input with the convs' output before ``conv_seg`` (through a
            ``conv_cat`` layer).
        dilation: of the convs.
        Other arguments: :class:`BaseDecodeHead` (``norm_cfg`` None means convs with bias, no norm).
    """

    def __init__(self, num_convs: int = 2, kernel_size: int = 3, concat_input: bool = True, dilation: int = 1,
                 norm_cfg: Optional[dict] = None, **kwargs):
        super().__init__(norm_cfg=norm_cfg, **kwargs)
        num_convs = check_int('FCNHead', 'num_convs', num_convs, minimum=0)
        kernel_size = check_int('FCNHead', 'kernel_size', kernel_size, minimum=1)
        dilation = check_int('FCNHead', 'dilation', dilation, minimum=1)
        check_bool('FCNHead', 'concat_input', concat_input)
        if num_convs == 0 and self.in_channels != self.channels:
            raise ConfigError(f'FCNHead: num_convs=0 needs in_channels == channels, got {self.in_channels} '
                              f'and {self.channels}')
        self.concat_input = concat_input and num_convs > 0
        padding = kernel_size // 2 * dilation
        convs = [ConvModule(self.in_channels if i == 0 else self.channels, self.channels, kernel_size,
                            padding=padding, dilation=dilation, norm_cfg=norm_cfg, act_cfg=self.act_cfg)
                 for i in range(num_convs)]
        self.convs = nn.Sequential(*convs) if convs else nn.Identity()
        if self.concat_input:
            self.conv_cat = ConvModule(self.in_channels + self.channels, self.channels, kernel_size,
                                       padding=kernel_size // 2, norm_cfg=norm_cfg, act_cfg=self.act_cfg)
        kaiming_init_(self)
        nn.init.normal_(self.conv_seg.weight, 0, 0.01)  # mmseg's decode-head classifier init

    def forward(self, inputs: Features) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        feat = self.convs(x)
        if self.concat_input:
            feat = self.conv_cat(torch.cat([x, feat], dim=1))
        return self.cls_seg(feat)
