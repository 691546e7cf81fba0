"""Random state dicts in the layout of the official ydhongHIT/DDRNet models (segmentation and ImageNet).

Written from the official architecture (``segmentation/DDRNet_*.py``, ``classification/DDRNet_*.py``):
module names and tensor shapes only, no official code. The values are random but valid (positive BN
variances), so converted weights can be loaded and run. Being self-written, this layout cannot catch a
misreading of the official code: test_official_goldens.py checks the converter against weights and outputs of
the official model itself (goldens/make_official_goldens.py) and a key table written from the official code.
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch

VARIANTS = {  # planes, layers, head_planes, ImageNet last_planes
    'slim': (32, (2, 2, 2, 2), 64, 1024),
    '23': (64, (2, 2, 2, 2), 128, 2048),
    '39': (64, (3, 4, 6, 3), 256, 2048),
}


class _Builder:
    def __init__(self, seed: int):
        self.sd: Dict[str, torch.Tensor] = OrderedDict()
        self.gen = torch.Generator().manual_seed(seed)

    def conv(self, name: str, cin: int, cout: int, k: int, bias: bool = False) -> None:
        self.sd[f'{name}.weight'] = torch.randn(cout, cin, k, k, generator=self.gen) * (2 / (cin * k * k)) ** 0.5
        if bias:
            self.sd[f'{name}.bias'] = torch.randn(cout, generator=self.gen) * 0.5

    def bn(self, name: str, c: int) -> None:
        self.sd[f'{name}.weight'] = 0.8 + 0.4 * torch.rand(c, generator=self.gen)
        self.sd[f'{name}.bias'] = 0.1 * torch.randn(c, generator=self.gen)
        self.sd[f'{name}.running_mean'] = 0.1 * torch.randn(c, generator=self.gen)
        self.sd[f'{name}.running_var'] = 0.5 + torch.rand(c, generator=self.gen)
        self.sd[f'{name}.num_batches_tracked'] = torch.tensor(7)

    def conv_bn(self, conv: str, bn: str, cin: int, cout: int, k: int, bias: bool = False) -> None:
        self.conv(conv, cin, cout, k, bias)
        self.bn(bn, cout)

    def layer(self, name: str, bottleneck: bool, cin: int, planes: int, blocks: int, stride: int = 1) -> None:
        expansion = 2 if bottleneck else 1
        for i in range(blocks):
            block_in = cin if i == 0 else planes * expansion
            p = f'{name}.{i}'
            if bottleneck:
                self.conv_bn(f'{p}.conv1', f'{p}.bn1', block_in, planes, 1)
                self.conv_bn(f'{p}.conv2', f'{p}.bn2', planes, planes, 3)
                self.conv_bn(f'{p}.conv3', f'{p}.bn3', planes, planes * expansion, 1)
            else:
                self.conv_bn(f'{p}.conv1', f'{p}.bn1', block_in, planes, 3)
                self.conv_bn(f'{p}.conv2', f'{p}.bn2', planes, planes, 3)
            if i == 0 and (stride != 1 or cin != planes * expansion):
                self.conv_bn(f'{p}.downsample.0', f'{p}.downsample.1', cin, planes * expansion, 1)

    def pre_act(self, name: str, bn: int, conv: int, cin: int, cout: int, k: int) -> None:
        self.bn(f'{name}.{bn}', cin)
        self.conv(f'{name}.{conv}', cin, cout, k)

    def seg_head(self, name: str, cin: int, mid: int, num_classes: int) -> None:
        self.bn(f'{name}.bn1', cin)
        self.conv(f'{name}.conv1', cin, mid, 3)
        self.bn(f'{name}.bn2', mid)
        self.conv(f'{name}.conv2', mid, num_classes, 1, bias=True)
        self.sd[f'{name}.conv2.weight'] *= 0.1  # logits of order 1-10


def official_state_dict(variant: str, num_classes: int = 19, augment: bool = True, imagenet: bool = False,
                        seed: int = 0, prefix: str = '', extra: Optional[Sequence[str]] = ()
                        ) -> Dict[str, torch.Tensor]:
    """An official DDRNet state dict (segmentation, or ImageNet classification with ``imagenet``)."""
    planes, layers, head_planes, last_planes = VARIANTS[variant]
    high = planes * 2
    b = _Builder(seed)
    b.conv_bn('conv1.0', 'conv1.1', 3, planes, 3, bias=True)
    b.conv_bn('conv1.3', 'conv1.4', planes, planes, 3, bias=True)
    b.layer('layer1', False, planes, planes, layers[0])
    b.layer('layer2', False, planes, planes * 2, layers[1], stride=2)
    if variant == '39':
        half = layers[2] // 2
        b.layer('layer3_1', False, planes * 2, planes * 4, half, stride=2)
        b.layer('layer3_2', False, planes * 4, planes * 4, half)
        stages, spatial_blocks = ('3_1', '3_2', '4'), (half, half, layers[3])
    else:
        b.layer('layer3', False, planes * 2, planes * 4, layers[2], stride=2)
        stages, spatial_blocks = ('3', '4'), (2, 2)
    b.layer('layer4', False, planes * 4, planes * 8, layers[3], stride=2)
    for stage in stages:
        low = planes * 8 if stage == '4' else planes * 4
        b.conv_bn(f'compression{stage}.0', f'compression{stage}.1', low, high, 1)
        if stage == '4':
            b.conv_bn('down4.0', 'down4.1', high, planes * 4, 3)
            b.conv_bn('down4.3', 'down4.4', planes * 4, planes * 8, 3)
        else:
            b.conv_bn(f'down{stage}.0', f'down{stage}.1', high, planes * 4, 3)
    spatial_in = planes * 2
    for stage, blocks in zip(stages, spatial_blocks):
        b.layer(f'layer{stage}_', False, spatial_in, high, blocks)
        spatial_in = high
    b.layer('layer5_', True, high, high, 1)
    b.layer('layer5', True, planes * 8, planes * 8, 1, stride=1 if imagenet else 2)
    if imagenet:
        b.conv_bn('down5.0', 'down5.1', planes * 4, planes * 8, 3)
        b.conv_bn('down5.3', 'down5.4', planes * 8, planes * 16, 3)
        b.conv_bn('last_layer.0', 'last_layer.1', planes * 16, last_planes, 1)
        b.sd['linear.weight'] = torch.randn(1000, last_planes, generator=b.gen) * 0.01
        b.sd['linear.bias'] = torch.zeros(1000)
    else:
        _dappm(b, planes * 16, 128, planes * 4)
        if augment:
            b.seg_head('seghead_extra', high, head_planes, num_classes)
        b.seg_head('final_layer', planes * 4, head_planes, num_classes)
    out = OrderedDict((prefix + key, value) for key, value in b.sd.items())
    for key in extra or ():
        out[key] = torch.ones(num_classes)
    return out


def _dappm(b: _Builder, cin: int, branch: int, cout: int) -> None:
    b.pre_act('spp.scale0', 0, 2, cin, branch, 1)
    for i in range(1, 5):
        b.pre_act(f'spp.scale{i}', 1, 3, cin, branch, 1)
        b.pre_act(f'spp.process{i}', 0, 2, branch, branch, 3)
    b.pre_act('spp.compression', 0, 2, branch * 5, cout, 1)
    b.pre_act('spp.shortcut', 0, 2, cin, cout, 1)
