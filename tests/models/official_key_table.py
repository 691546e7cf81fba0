"""Where each module of the official DDRNet (ydhongHIT/DDRNet, segmentation/DDRNet_23*.py and DDRNet_39.py) lives
in our model: written by hand from the official ``DualResNet.__init__``/``forward`` and our backbone, independently
of ``mmseg_ddrnet.models.backbones.ddrnet_keys`` (no shared rules), to check the converter tensor by tensor.

Official modules (``DualResNet``): ``conv1`` = Sequential(Conv+bias, BN, ReLU, Conv+bias, BN, ReLU); ``layer1``,
``layer2`` (shared stages); the low-resolution (context) branch ``layer3`` (DDRNet-39: ``layer3_1``, ``layer3_2``),
``layer4``, ``layer5`` (one Bottleneck); the high-resolution (spatial) branch ``layer3_`` (-39: ``layer3_1_``,
``layer3_2_``), ``layer4_``, ``layer5_``; fusions ``compression3`` / ``down3`` (-39: ``compression3_1``,
``compression3_2``, ``down3_1``, ``down3_2``) and ``compression4`` / ``down4`` (Sequential(Conv, BN, ReLU, Conv,
BN)); ``spp`` (DAPPM: ``scale0`` = Sequential(BN, ReLU, Conv), ``scale1-4`` = Sequential(pool, BN, ReLU, Conv),
``process1-4``, ``compression``, ``shortcut`` = Sequential(BN, ReLU, Conv)); heads ``final_layer`` and
``seghead_extra`` (``segmenthead``: bn1, conv1, bn2, conv2). Blocks: BasicBlock ``conv1 bn1 conv2 bn2``,
Bottleneck ``conv1 bn1 conv2 bn2 conv3 bn3``, projection ``downsample`` = Sequential(Conv, BN).

Ours: ``backbone.stem`` = [ConvModule, ConvModule, layer1, ReLU, layer2, ReLU]; ``context_branch_layers[i]`` and
``spatial_branch_layers[i]`` in stage order (stage-3 halves, stage 4, stage 5); ``compression_<i>`` /
``down_<i>`` per fusion (the last ``down`` is a Sequential of two ConvModules); ConvModule = ``.conv`` + ``.bn``;
block ``convK`` -> ``convK.conv`` and ``bnK`` -> ``convK.bn``.
"""
from typing import Dict, Sequence

BLOCK_CONVS = {'basic': (1, 2), 'bottleneck': (1, 2, 3)}


def _block(official: str, ours: str, block: str) -> Dict[str, str]:
    table = {}
    for k in BLOCK_CONVS[block]:
        table[f'{official}.conv{k}'] = f'{ours}.conv{k}.conv'
        table[f'{official}.bn{k}'] = f'{ours}.conv{k}.bn'
    table[f'{official}.downsample.0'] = f'{ours}.downsample.0'
    table[f'{official}.downsample.1'] = f'{ours}.downsample.1'
    return table


def _layer(official: str, ours: str, num_blocks: int, block: str = 'basic') -> Dict[str, str]:
    table = {}
    for i in range(num_blocks):
        table.update(_block(f'{official}.{i}', f'{ours}.{i}', block))
    return table


def _pre_act(official: str, ours: str, bn_index: int) -> Dict[str, str]:
    """DAPPM/head Sequential(BN, ReLU, Conv) (``bn_index`` 0) or Sequential(pool, BN, ReLU, Conv) (1)."""
    return {f'{official}.{bn_index}': f'{ours}.bn', f'{official}.{bn_index + 2}': f'{ours}.conv'}


def official_module_table(layers: Sequence[int]) -> Dict[str, str]:
    """Official module name -> our module name, for ``DualResNet(BasicBlock, layers, ..., augment=True)``.

    Modules the official model has at a given width but not at another (a block's ``downsample``) may be listed
    though absent; every module present must be listed.
    """
    layers = list(layers)
    deep = layers == [3, 4, 6, 3]  # DDRNet_39.py: stage 3 in two halves, each followed by a fusion
    bb = 'backbone'
    table = {'conv1.0': f'{bb}.stem.0.conv', 'conv1.1': f'{bb}.stem.0.bn',
             'conv1.3': f'{bb}.stem.1.conv', 'conv1.4': f'{bb}.stem.1.bn'}
    table.update(_layer('layer1', f'{bb}.stem.2', layers[0]))
    table.update(_layer('layer2', f'{bb}.stem.4', layers[1]))
    if deep:
        stage3 = [('layer3_1', 'layer3_1_', layers[2] // 2), ('layer3_2', 'layer3_2_', layers[2] // 2)]
        fusions = ['3_1', '3_2', '4']
    else:
        stage3 = [('layer3', 'layer3_', layers[2])]
        fusions = ['3', '4']
    stages = stage3 + [('layer4', 'layer4_', layers[3])]
    for i, (context, spatial, blocks) in enumerate(stages):
        table.update(_layer(context, f'{bb}.context_branch_layers.{i}', blocks))
        # official: layer3_ (and -39's halves) has 2 blocks in DDRNet-23, layers[2] // 2 in -39; layer4_ 2 / layers[3]
        table.update(_layer(spatial, f'{bb}.spatial_branch_layers.{i}', blocks if deep else 2))
    last = len(stages)
    table.update(_layer('layer5', f'{bb}.context_branch_layers.{last}', 1, 'bottleneck'))
    table.update(_layer('layer5_', f'{bb}.spatial_branch_layers.{last}', 1, 'bottleneck'))
    for i, name in enumerate(fusions, start=1):
        table[f'compression{name}.0'] = f'{bb}.compression_{i}.conv'
        table[f'compression{name}.1'] = f'{bb}.compression_{i}.bn'
        if i < len(fusions):
            table[f'down{name}.0'] = f'{bb}.down_{i}.conv'
            table[f'down{name}.1'] = f'{bb}.down_{i}.bn'
        else:  # down4: Conv, BN, ReLU, Conv, BN
            table.update({f'down{name}.0': f'{bb}.down_{i}.0.conv', f'down{name}.1': f'{bb}.down_{i}.0.bn',
                          f'down{name}.3': f'{bb}.down_{i}.1.conv', f'down{name}.4': f'{bb}.down_{i}.1.bn'})
    table.update(_pre_act('spp.scale0', f'{bb}.spp.scales.0', 0))
    for i in range(1, 5):
        table.update(_pre_act(f'spp.scale{i}', f'{bb}.spp.scales.{i}.1', 1))
        table.update(_pre_act(f'spp.process{i}', f'{bb}.spp.processes.{i - 1}', 0))
    table.update(_pre_act('spp.compression', f'{bb}.spp.compression', 0))
    table.update(_pre_act('spp.shortcut', f'{bb}.spp.shortcut', 0))
    for official, head in (('final_layer', 'decode_head'), ('seghead_extra', 'auxiliary_head')):
        table.update({f'{official}.bn1': f'{head}.head.0.bn', f'{official}.conv1': f'{head}.head.0.conv',
                      f'{official}.bn2': f'{head}.head.1', f'{official}.conv2': f'{head}.conv_seg'})
    return table


def our_key(official_key: str, table: Dict[str, str]) -> str:
    """Our name of an official parameter/buffer key (``<module>.<tensor>``)."""
    module, tensor = official_key.rsplit('.', 1)
    return f'{table[module]}.{tensor}'
