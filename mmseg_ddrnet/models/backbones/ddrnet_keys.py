"""DDRNet's checkpoint key maps: the official code's (ydhongHIT/DDRNet) and mmsegmentation 1.x's names to ours.

The official stem convolutions have a bias followed by BatchNorm; ours have none. The bias is folded into
the BN running mean, ``BN(conv(x) + b) == BN'(conv(x))`` with ``running_mean' = running_mean - b``, which is
exact in eval mode and irrelevant in train mode (batch statistics absorb any constant).
"""
import re
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import torch

from ...checkpoint.io import StateDict
from ...utils import CheckpointError
from .ddrnet import POOLED_SCALE_PARTS, STEM_PARTS

_HEADS = ('decode_head.', 'auxiliary_head.')
_POOLED_CONV = POOLED_SCALE_PARTS.index('conv')


def _stem(part: str) -> str:
    """Our key prefix of a stem part (its position in ``DDRNet.stem``, see ``ddrnet.STEM_PARTS``)."""
    return f'stem.{STEM_PARTS.index(part)}.'


def _strip_wrappers(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """Drop DDP ``module.`` / HRNet ``model.`` prefixes and the wrapper's loss weights."""
    out = OrderedDict()
    for key, value in state_dict.items():
        key = re.sub(r'^(module\.)?(model\.)?', '', key)
        if not key.startswith('loss.'):
            out[key] = value
    return out


def _stage_names(state_dict: StateDict) -> List[str]:
    """Official names of the fusion stages: ``['3', '4']`` (DDRNet-23) or ``['3_1', '3_2', '4']`` (-39)."""
    return ['3_1', '3_2', '4'] if any(k.startswith('layer3_1.') for k in state_dict) else ['3', '4']


def _official_rules(stages: Sequence[str]) -> List[Tuple[str, str]]:
    """``(pattern, replacement)`` pairs mapping official module prefixes to ours (backbone-relative)."""
    conv1, conv2, layer1, layer2 = (_stem(part) for part in ('conv1', 'conv2', 'layer1', 'layer2'))
    rules = [(r'conv1\.0\.', f'{conv1}conv.'), (r'conv1\.1\.', f'{conv1}bn.'),
             (r'conv1\.3\.', f'{conv2}conv.'), (r'conv1\.4\.', f'{conv2}bn.'),
             (r'layer1\.', layer1), (r'layer2\.', layer2)]
    for i, stage in enumerate(list(stages) + ['5']):
        rules += [(rf'layer{stage}\.', f'context_branch_layers.{i}.'),
                  (rf'layer{stage}_\.', f'spatial_branch_layers.{i}.')]
    last = len(stages)
    for i, stage in enumerate(stages, start=1):
        rules.append((rf'compression{stage}\.0\.', f'compression_{i}.conv.'))
        rules.append((rf'compression{stage}\.1\.', f'compression_{i}.bn.'))
        if i < last:
            rules += [(rf'down{stage}\.0\.', f'down_{i}.conv.'), (rf'down{stage}\.1\.', f'down_{i}.bn.')]
        else:
            rules += [(rf'down{stage}\.0\.', f'down_{i}.0.conv.'), (rf'down{stage}\.1\.', f'down_{i}.0.bn.'),
                      (rf'down{stage}\.3\.', f'down_{i}.1.conv.'), (rf'down{stage}\.4\.', f'down_{i}.1.bn.')]
    rules += [(r'spp\.scale0\.0\.', 'spp.scales.0.bn.'), (r'spp\.scale0\.2\.', 'spp.scales.0.conv.')]
    for i in range(1, 5):
        rules += [(rf'spp\.scale{i}\.1\.', f'spp.scales.{i}.{_POOLED_CONV}.bn.'),
                  (rf'spp\.scale{i}\.3\.', f'spp.scales.{i}.{_POOLED_CONV}.conv.'),
                  (rf'spp\.process{i}\.0\.', f'spp.processes.{i - 1}.bn.'),
                  (rf'spp\.process{i}\.2\.', f'spp.processes.{i - 1}.conv.')]
    for name in ('compression', 'shortcut'):
        rules += [(rf'spp\.{name}\.0\.', f'spp.{name}.bn.'), (rf'spp\.{name}\.2\.', f'spp.{name}.conv.')]
    for official, head in (('final_layer', 'decode_head'), ('seghead_extra', 'auxiliary_head')):
        rules += [(rf'{official}\.bn1\.', f'{head}.head.0.bn.'), (rf'{official}\.conv1\.', f'{head}.head.0.conv.'),
                  (rf'{official}\.bn2\.', f'{head}.head.1.'), (rf'{official}\.conv2\.', f'{head}.conv_seg.')]
    return rules


_BLOCK_RULES = [(r'\.(\d+)\.conv(\d)\.', r'.\1.conv\2.conv.'), (r'\.(\d+)\.bn(\d)\.', r'.\1.conv\2.bn.')]
_BLOCK_OWNERS = (_stem('layer1'), _stem('layer2'), 'context_branch_layers.', 'spatial_branch_layers.')


def _rename_official(key: str, rules: Sequence[Tuple[str, str]]) -> Optional[str]:
    """Our name for an official key, or None when no rule covers it."""
    for pattern, replacement in rules:
        if re.match(pattern, key):
            key = re.sub('^' + pattern, replacement, key)
            break
    else:
        return None
    if key.startswith(_BLOCK_OWNERS):
        for pattern, replacement in _BLOCK_RULES:
            key = re.sub(pattern, replacement, key)
    return key if key.startswith(_HEADS) else f'backbone.{key}'


def fold_conv_bias_into_bn(bias: torch.Tensor, running_mean: torch.Tensor) -> torch.Tensor:
    """The running mean that makes ``BN(conv(x))`` equal the original ``BN(conv(x) + bias)``."""
    return running_mean - bias


def _fold_stem_biases(state_dict: 'OrderedDict[str, torch.Tensor]') -> None:
    for conv, bn in (('conv1.0', 'conv1.1'), ('conv1.3', 'conv1.4')):
        bias = state_dict.pop(f'{conv}.bias', None)
        if bias is None:
            continue
        mean_key = f'{bn}.running_mean'
        if mean_key not in state_dict:
            raise CheckpointError(f'official checkpoint has {conv}.bias but no {mean_key} to fold it into')
        state_dict[mean_key] = fold_conv_bias_into_bn(bias, state_dict[mean_key])


def convert_official(state_dict: StateDict, imagenet: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an official DDRNet state dict to ours, folding the stem biases into BN.

    Segmentation checkpoints give full-model keys (``backbone.*``, ``decode_head.*``); with ``imagenet``
    the classification head (``down5``, ``last_layer``, ``linear``) is dropped and the keys are relative
    to the backbone, as ``pretrained=`` expects. Unknown keys raise :class:`CheckpointError`.
    """
    state = _strip_wrappers(state_dict)
    if imagenet:
        state = OrderedDict((k, v) for k, v in state.items()
                            if not k.startswith(('down5.', 'last_layer.', 'linear.')))
    _fold_stem_biases(state)
    rules = _official_rules(_stage_names(state))
    out, unknown = OrderedDict(), []
    for key, value in state.items():
        new_key = _rename_official(key, rules)
        if new_key is None or (imagenet and new_key.startswith(_HEADS)):
            unknown.append(key)
        else:
            out[new_key] = value
    if unknown:
        what = 'an official ImageNet DDRNet backbone' if imagenet else 'an official DDRNet segmentation model'
        raise CheckpointError(f'{len(unknown)} key(s) are not those of {what}: {", ".join(unknown[:8])}'
                              f'{", ..." if len(unknown) > 8 else ""} (check --src-format)')
    if imagenet:
        out = OrderedDict((k[len('backbone.'):], v) for k, v in out.items())
    return out


_OFFICIAL_STEM = re.compile(r'^(module\.)?(model\.)?conv1\.0\.weight$')
_OFFICIAL_HEADS = ('final_layer.', 'seghead_extra.')


def is_official_state_dict(state_dict: StateDict) -> bool:
    """Whether the keys are the official code's (its stem ``conv1.0.weight``), DDP/HRNet-wrapped or not."""
    return any(_OFFICIAL_STEM.match(key) for key in state_dict)


def convert_official_backbone(state_dict: StateDict) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Backbone weights (our names, backbone-relative) of an official ImageNet or segmentation checkpoint.

    A segmentation checkpoint (it has ``final_layer``) is converted whole and its heads are left out;
    returns ``(backbone_state_dict, official names of the head tensors left out)``.
    """
    stripped = _strip_wrappers(state_dict)
    heads = [key for key in stripped if key.startswith(_OFFICIAL_HEADS)]
    if not heads:
        return convert_official(state_dict, imagenet=True), []
    converted = convert_official(state_dict)
    backbone = OrderedDict((k[len('backbone.'):], v) for k, v in converted.items() if k.startswith('backbone.'))
    return backbone, heads


# -------------------------------------------------------------------------------------- mmseg → ours
_DDRNET_PREFIXES = ('backbone.stem.', 'backbone.context_branch_layers.', 'backbone.spatial_branch_layers.',
                    'backbone.compression_', 'backbone.down_', 'backbone.spp.', 'decode_head.head.',
                    'decode_head.conv_seg.', 'decode_head.aux_head.', 'decode_head.aux_cls_seg.')
# mmseg 1.x keeps the auxiliary classifier inside DDRHead; here it is the 0.x-style auxiliary_head.
_MMSEG_AUX_RENAMES = ((r'^decode_head\.aux_head\.', 'auxiliary_head.head.'),
                      (r'^decode_head\.aux_cls_seg\.', 'auxiliary_head.conv_seg.'))


def convert_mmseg(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """An mmsegmentation 1.x DDRNet state dict in our naming.

    The backbone and main-head names are the same; DDRHead's ``aux_head``/``aux_cls_seg`` become
    ``auxiliary_head.head``/``auxiliary_head.conv_seg``; a DDP ``module.`` prefix is removed. Keys that
    are not DDRNet's (another model) raise :class:`CheckpointError` naming them.
    """
    state = OrderedDict((re.sub(r'^module\.', '', key), value) for key, value in state_dict.items())
    unknown = [key for key in state if not key.startswith(_DDRNET_PREFIXES)]
    if unknown:
        raise CheckpointError(f'{len(unknown)} key(s) are not those of an mmsegmentation DDRNet model: '
                              f'{", ".join(unknown[:8])}{", ..." if len(unknown) > 8 else ""} (check --src-format)')
    out = OrderedDict()
    for key, value in state.items():
        for pattern, replacement in _MMSEG_AUX_RENAMES:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out
