"""DDRNet: Deep Dual-Resolution Networks (Hong et al., 2021, https://arxiv.org/abs/2101.06085).

The file follows the paper's figure top-down: the residual blocks, the Deep Aggregation Pyramid
Pooling Module (DAPPM), then the network. A shared stem takes the image to 1/8; from stage 3 on a
high-resolution *spatial* branch stays at 1/8 while a low-resolution *context* branch goes to 1/16,
1/32 and 1/64; after each stage the branches exchange information (bilateral fusion); DAPPM
enlarges the context branch's receptive field before the two are summed at 1/8.

Parameter and buffer names are those of mmsegmentation 1.x's ``DDRNet`` (``stem``,
``context_branch_layers``, ``spatial_branch_layers``, ``compression_<i>``, ``down_<i>``, ``spp``),
so its checkpoints load unchanged; DDRNet-39's extra stage-3 fusion extends the same scheme.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...utils import ConfigError, DataError, print_log, warn_once
from ...utils.checks import check_bool, check_int, check_str, check_type_cfg, describe, is_int
from ..utils import (BaseModule, ConvModule, build_activation_layer, build_norm_layer, kaiming_init_,
                     uses_local_batch_stats)

_RELU = dict(type='ReLU', inplace=True)
_PRE_ACT = ('norm', 'act', 'conv')

# The order of the modules inside the stem and inside each pooled DAPPM scale (``nn.Sequential``s, so their state-dict
# names are these positions). The checkpoint key maps (``ddrnet_keys.py``) find every position here.
STEM_PARTS = ('conv1', 'conv2', 'layer1', 'relu1', 'layer2', 'relu2')
POOLED_SCALE_PARTS = ('pool', 'conv')


# ----------------------------------------------------------------------------------- blocks
class BasicBlock(nn.Module):
    """Two 3×3 convs with a residual connection (ResNet's basic block)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _RELU, act_out: bool = True):
        super().__init__()
        self.conv1 = ConvModule(in_channels, channels, 3, stride, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(channels, channels, 3, 1, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.downsample = downsample
        self.act = build_activation_layer(act_cfg) if act_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        out += x if self.downsample is None else self.downsample(x)
        return out if self.act is None else self.act(out)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3, 1×1 expand (×2) with a residual connection; no output activation by default."""

    expansion = 2

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _RELU, act_out: bool = False):
        super().__init__()
        self.conv1 = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(channels, channels, 3, stride, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv3 = ConvModule(channels, channels * self.expansion, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.downsample = downsample
        self.act = build_activation_layer(act_cfg) if act_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        out += x if self.downsample is None else self.downsample(x)
        return out if self.act is None else self.act(out)


Block = Type[Union[BasicBlock, Bottleneck]]


def make_res_layer(block: Block, in_channels: int, channels: int, num_blocks: int, stride: int = 1,
                   norm_cfg: Optional[dict] = None, act_cfg: dict = _RELU) -> nn.Sequential:
    """``num_blocks`` residual blocks; the first may stride and project, the last has no output ReLU."""
    out_channels = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])
    first_act = block is BasicBlock  # the official code: only a lone Bottleneck ends without ReLU
    layers = [block(in_channels, channels, stride, downsample, norm_cfg, act_cfg, act_out=first_act)]
    for i in range(1, num_blocks):
        layers.append(block(out_channels, channels, 1, None, norm_cfg, act_cfg,
                            act_out=i < num_blocks - 1))
    return nn.Sequential(*layers)


# ------------------------------------------------------------------------------------ DAPPM
class DAPPM(nn.Module):
    """Deep Aggregation Pyramid Pooling Module.

    Five scales: the input itself, average pools (kernel/stride 5/2, 9/4, 17/8) and a global pool.
    Each pooled scale is upsampled back, added to the previous scale's output and refined by a 3×3
    conv (hierarchical residual fusion); the concatenation is compressed by a 1×1 conv and added to a
    1×1 shortcut. All convs are pre-activation (norm → ReLU → conv).
    """

    def __init__(self, in_channels: int, branch_channels: int, out_channels: int,
                 kernel_sizes: Sequence[int] = (5, 9, 17), strides: Sequence[int] = (2, 4, 8),
                 paddings: Sequence[int] = (2, 4, 8), norm_cfg: Optional[dict] = None,
                 act_cfg: dict = _RELU):
        super().__init__()

        def conv(cin: int, cout: int, k: int = 1) -> ConvModule:
            return ConvModule(cin, cout, k, padding=k // 2, norm_cfg=norm_cfg, act_cfg=act_cfg, order=_PRE_ACT)

        pools = [nn.AvgPool2d(k, s, p) for k, s, p in zip(kernel_sizes, strides, paddings)]
        pools.append(nn.AdaptiveAvgPool2d((1, 1)))
        self.scales = nn.ModuleList([conv(in_channels, branch_channels)])
        for pool in pools:
            self.scales.append(nn.Sequential(*_ordered(POOLED_SCALE_PARTS, pool=pool,
                                                       conv=conv(in_channels, branch_channels))))
        self.processes = nn.ModuleList(conv(branch_channels, branch_channels, 3) for _ in pools)
        self.compression = conv(branch_channels * len(self.scales), out_channels)
        self.shortcut = conv(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.scales[0](x)]
        for scale, process in zip(self.scales[1:], self.processes):
            pooled = F.interpolate(scale(x), size=x.shape[2:], mode='bilinear', align_corners=False)
            feats.append(process(_sum_into(pooled, feats[-1])))
        return _sum_into(self.compression(torch.cat(feats, dim=1)), self.shortcut(x))


# ---------------------------------------------------------------------------------- network
PRETRAINED_HINT = (
    'download the ImageNet-pretrained DDRNet weights (the official ones: https://github.com/ydhongHIT/DDRNet, '
    'e.g. DDRNet23s_imagenet.pth) and point the backbone\'s pretrained (or init_cfg checkpoint) at the file: '
    'official files are converted on load (or once, with '
    '`python tools/convert_checkpoint.py --src-format official-imagenet <downloaded.pth> <converted.pth>`)')


@MODELS.register_module()
class DDRNet(BaseModule):
    """The DDRNet backbone.

    DDRNet-23-slim: ``channels=32``; DDRNet-23: ``channels=64``; DDRNet-39: ``channels=64,
    layers=(3, 4, 6, 3)`` (stage 3 split in two, each half followed by a bilateral fusion, as in the
    official code). ``ppm_channels`` is 128 for all three.

    Args:
        in_channels: image channels.
        channels: base width ``C`` (the spatial branch has ``2C`` channels, the output ``4C``).
        ppm_channels: DAPPM branch width.
        layers: residual blocks of stages 1-4 (stage 5 is one Bottleneck per branch).
        stage3_splits: bilateral fusions in stage 3; None: 2 for ``layers=(3, 4, 6, 3)``, else 1.
        extra: the mmseg-0.x spelling ``dict(layers=..., planes=C, spp_planes=..., head_planes=...)``;
            ``head_planes`` belongs to the head (``channels`` of ``DDRHead``) and is ignored here.
        norm_cfg, act_cfg: norm and activation of every layer.
        align_corners: of the bilinear upsampling in the fusions.
        norm_eval: keep the norm layers in eval mode (frozen statistics) while training.
        pretrained: a checkpoint (path or URL) to load in :meth:`init_weights`; the mmseg 0.x spelling of
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)`` (set one of the two).
        init_cfg: mmcv initializer config(s) applied by :meth:`init_weights` on top of the default
            initialisation (Kaiming-normal fan_out convs, norm layers 1/0), e.g.
            ``dict(type='Pretrained', checkpoint=...)``; see :class:`~mmseg_ddrnet.models.utils.BaseModule`.
            Without ``prefix``, a whole-segmentor checkpoint's ``backbone.`` prefix is dropped.

    ``forward`` returns ``(aux_feat, out)``: the 1/8 spatial-branch feature after stage 3 (``2C``
    channels, for the auxiliary head; ``in_index=0``) and the final 1/8 feature (``4C`` channels;
    ``in_index=-1``). Any input size works; the outputs are ``ceil(H/8) × ceil(W/8)``.
    """

    pretrained_revise_keys = ((r'^backbone\.', ''),)  # a whole segmentor's checkpoint loads too
    pretrained_hint = PRETRAINED_HINT

    def __init__(self, in_channels: int = 3, channels: Optional[int] = None, ppm_channels: Optional[int] = None,
                 layers: Optional[Sequence[int]] = None, stage3_splits: Optional[int] = None,
                 extra: Optional[dict] = None, norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = _RELU, align_corners: bool = False, norm_eval: bool = False,
                 pretrained: Optional[str] = None, init_cfg: Optional[dict] = None):
        super().__init__(_resolve_init_cfg(pretrained, init_cfg))
        c, ppm_channels, layers = _resolve_arch(channels, ppm_channels, layers, extra)
        splits = _resolve_splits(stage3_splits, layers)
        in_channels = check_int('DDRNet', 'in_channels', in_channels, minimum=1)
        norm_cfg = check_type_cfg('DDRNet', 'norm_cfg', norm_cfg)
        act_cfg = check_type_cfg('DDRNet', 'act_cfg', act_cfg)
        self.align_corners = check_bool('DDRNet', 'align_corners', align_corners)
        self.norm_eval = check_bool('DDRNet', 'norm_eval', norm_eval)
        self.num_fusions = splits + 1
        self.aux_fusion = splits - 1  # the spatial feature after the last stage-3 fusion feeds the aux head
        self.out_channels = (2 * c, 4 * c)
        norm = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        # stages 1-2 (shared): two stride-2 convs, then residual layers to 1/8
        self.stem = nn.Sequential(*_ordered(
            STEM_PARTS,
            conv1=ConvModule(in_channels, c, 3, 2, 1, **norm),
            conv2=ConvModule(c, c, 3, 2, 1, **norm),
            layer1=make_res_layer(BasicBlock, c, c, layers[0], **norm),
            relu1=nn.ReLU(),
            layer2=make_res_layer(BasicBlock, c, 2 * c, layers[1], stride=2, **norm),
            relu2=nn.ReLU()))
        self.relu = nn.ReLU()

        # stages 3-5 of both branches
        self.context_branch_layers = nn.ModuleList()
        self.spatial_branch_layers = nn.ModuleList()
        for k in range(splits):
            self.context_branch_layers.append(make_res_layer(
                BasicBlock, 2 * c if k == 0 else 4 * c, 4 * c, layers[2] // splits, 2 if k == 0 else 1, **norm))
            self.spatial_branch_layers.append(make_res_layer(BasicBlock, 2 * c, 2 * c, layers[2] // splits, **norm))
        self.context_branch_layers.append(make_res_layer(BasicBlock, 4 * c, 8 * c, layers[3], 2, **norm))
        self.spatial_branch_layers.append(make_res_layer(BasicBlock, 2 * c, 2 * c, layers[3], **norm))
        self.context_branch_layers.append(make_res_layer(Bottleneck, 8 * c, 8 * c, 1, 2, **norm))
        self.spatial_branch_layers.append(make_res_layer(Bottleneck, 2 * c, 2 * c, 1, **norm))

        # bilateral fusions: low→high 1×1 compression, high→low strided 3×3 convs
        for i in range(1, self.num_fusions + 1):
            last = i == self.num_fusions
            low_channels = 8 * c if last else 4 * c
            self.add_module(f'compression_{i}', ConvModule(low_channels, 2 * c, 1, norm_cfg=norm_cfg, act_cfg=None))
            self.add_module(f'down_{i}', _down(2 * c, low_channels, 2 if last else 1, norm_cfg, act_cfg))

        self.spp = DAPPM(16 * c, ppm_channels, 4 * c, norm_cfg=norm_cfg, act_cfg=act_cfg)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        self._check_batch(x)
        x_s = x_c = self.stem(x)  # stages 1-2, 1/8
        aux_feat = x_s
        for i in range(self.num_fusions):  # stage 3 (two halves in DDRNet-39) and stage 4
            x_c = self.context_branch_layers[i](x_c if i == 0 else F.relu(x_c, inplace=True))
            x_s = self.spatial_branch_layers[i](x_s if i == 0 else self._relu_fused(x_s, aux_feat))
            x_c, x_s = self.bilateral_fusion(i, x_c, x_s)
            if i == self.aux_fusion:
                aux_feat = x_s
        # stage 5: a bottleneck per branch, DAPPM on the 1/64 context, summed at 1/8
        x_s = self.spatial_branch_layers[-1](self._relu_fused(x_s, aux_feat))
        x_c = self.spp(self.context_branch_layers[-1](F.relu(x_c, inplace=True)))
        return aux_feat, _sum_into(self._upsample(x_c, x_s), x_s)

    def bilateral_fusion(self, i: int, x_c: torch.Tensor, x_s: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fusion ``i`` (0-based): context += down(spatial); spatial += upsample(compress(context))."""
        compression = getattr(self, f'compression_{i + 1}')
        down = getattr(self, f'down_{i + 1}')
        low_to_high = self._upsample(compression(self.relu(x_c)), x_s)
        return _sum_into(down(self.relu(x_s)), x_c), _sum_into(low_to_high, x_s)

    def _relu_fused(self, x_s: torch.Tensor, aux_feat: torch.Tensor) -> torch.Tensor:
        # a fused spatial feature feeds only the next stage (ReLU in place), unless it is also the aux output
        return self.relu(x_s) if x_s is aux_feat else F.relu(x_s, inplace=True)

    def convert_pretrained(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """An official DDRNet checkpoint's backbone weights in our names (``ddrnet_keys``); any other state dict
        unchanged. Called on ``pretrained`` / ``init_cfg=Pretrained`` files before loading."""
        from .ddrnet_keys import convert_official_backbone, is_official_state_dict  # it reads this file's layout
        if not is_official_state_dict(state_dict):
            return state_dict
        name = type(self).__name__
        converted, heads = convert_official_backbone(state_dict)
        print_log(f'{name}: pretrained is an official DDRNet checkpoint; converted {len(converted)} tensors')
        if heads:
            warn_once(f'{name}: the {len(heads)} head tensors of the official checkpoint (final_layer, '
                      'seghead_extra) are not loaded by the backbone; to load them too, convert the file with '
                      '`python tools/convert_checkpoint.py --src-format official` and set load_from')
        return converted

    def _check_batch(self, x: torch.Tensor) -> None:
        # batch-normalises one pooled value per image
        global_norm = self.spp.scales[-1][POOLED_SCALE_PARTS.index('conv')].norm
        if self.training and x.shape[0] < 2 and uses_local_batch_stats(global_norm, x):
            raise DataError('DDRNet: training with BN needs at least 2 images per process: the global-pooling '
                            'branch of DAPPM normalises one value per image over the batch; raise '
                            'samples_per_gpu, use SyncBN on several GPUs, or set norm_eval=True')

    def _upsample(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[2:], mode='bilinear', align_corners=self.align_corners)

    def train(self, mode: bool = True) -> 'DDRNet':
        """Set train/eval mode; with ``norm_eval`` the BN layers stay in eval mode."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self


def _sum_into(fresh: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``fresh + other``, written into ``fresh``: a tensor just computed for this sum alone (an upsampled
    or convolved branch, which autograd does not keep), so the sum costs no new buffer and one pass less."""
    return fresh.add_(other)


def _ordered(order: Sequence[str], **parts: nn.Module) -> List[nn.Module]:
    """``parts`` in the order ``order`` names them (every part named exactly once)."""
    if sorted(order) != sorted(parts):
        raise ValueError(f'module order {order} does not name the parts {sorted(parts)}')
    return [parts[name] for name in order]


def _down(channels: int, out_channels: int, halvings: int, norm_cfg: dict, act_cfg: dict) -> nn.Module:
    """Strided 3×3 convs taking the 1/8 spatial branch to the context branch's resolution."""
    if halvings == 1:
        return ConvModule(channels, out_channels, 3, 2, 1, norm_cfg=norm_cfg, act_cfg=None)
    return nn.Sequential(
        ConvModule(channels, out_channels // 2, 3, 2, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
        ConvModule(out_channels // 2, out_channels, 3, 2, 1, norm_cfg=norm_cfg, act_cfg=None))


_EXTRA_KEYS = {'layers': 'layers', 'planes': 'channels', 'spp_planes': 'ppm_channels', 'head_planes': None}


def _resolve_arch(channels: Optional[int], ppm_channels: Optional[int], layers: Optional[Sequence[int]],
                  extra: Optional[dict]) -> Tuple[int, int, List[int]]:
    """Merge the mmseg-1.x flat arguments with the mmseg-0.x ``extra`` dict; defaults: DDRNet-23-slim."""
    flat = dict(channels=channels, ppm_channels=ppm_channels, layers=layers)
    if extra is not None:
        if not isinstance(extra, dict):
            raise ConfigError(f'DDRNet: extra must be a dict, got {describe(extra)}')
        unknown = set(extra) - set(_EXTRA_KEYS)
        if unknown:
            raise ConfigError(f'DDRNet: unknown key(s) {sorted(unknown)} in extra (allowed: {sorted(_EXTRA_KEYS)})')
        for key, value in extra.items():
            name = _EXTRA_KEYS[key]
            if name is None:
                continue
            if flat[name] is not None and flat[name] != value:
                raise ConfigError(f'DDRNet: extra.{key}={value!r} contradicts {name}={flat[name]!r}; set one')
            flat[name] = value
    c = 32 if flat['channels'] is None else flat['channels']
    ppm = 128 if flat['ppm_channels'] is None else flat['ppm_channels']
    stages = [2, 2, 2, 2] if flat['layers'] is None else flat['layers']
    for name, value in (('channels', c), ('ppm_channels', ppm)):
        if not is_int(value) or value <= 0:
            raise ConfigError(f'DDRNet: {name} must be a positive int, got {describe(value)}')
    if (not isinstance(stages, (list, tuple)) or len(stages) != 4
            or not all(is_int(n) and n > 0 for n in stages)):
        raise ConfigError(f'DDRNet: layers must be 4 positive ints (blocks of stages 1-4), got {stages!r}')
    return c, ppm, list(stages)


def _resolve_splits(stage3_splits: Optional[int], layers: List[int]) -> int:
    if stage3_splits is None:
        return 2 if layers == [3, 4, 6, 3] else 1
    if not is_int(stage3_splits) or stage3_splits <= 0 or layers[2] % stage3_splits:
        raise ConfigError(f'DDRNet: stage3_splits must be a positive int dividing layers[2]={layers[2]}, '
                          f'got {stage3_splits!r}')
    return stage3_splits


def _resolve_init_cfg(pretrained: Optional[str], init_cfg):
    """``init_cfg``, or the ``Pretrained`` config of the mmseg 0.x ``pretrained`` argument."""
    check_str('DDRNet', 'pretrained', pretrained, optional=True)
    if pretrained is None:
        return init_cfg
    if init_cfg is not None:
        raise ConfigError('DDRNet: set either pretrained or init_cfg, not both')
    return dict(type='Pretrained', checkpoint=pretrained)
