"""The init_cfg parity cases and their network, shared by the test and the reference run.

Run with the mmsegmentation 1.2.2 reference python (``python init_cfg_reference.py OUT``), it applies each case
with mmengine's ``initialize`` (mmengine 0.10's ``weight_init`` is mmcv 1.7's, moved) and saves the resulting
state dicts; the test applies the same cases with ours on the same seeds and compares every tensor exactly.
Only torch is imported at the top, so both sides import this file.
"""
import sys

import torch
import torch.nn as nn


class MyConv(nn.Conv2d):
    pass


class SubConv(MyConv):
    pass


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 16, 3)
        self.my_conv = MyConv(16, 16, 1)
        self.sub_conv = SubConv(16, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 4)
        self.head = nn.Sequential(nn.Conv2d(16, 16, 1), nn.BatchNorm2d(16), nn.Linear(16, 16))


CASES = [
    dict(type='Constant', layer=['Conv2d', 'Linear'], val=0.5, bias=-2),
    dict(type='Xavier', layer='Conv2d', gain=2, distribution='uniform'),
    dict(type='Xavier', layer=['MyConv', 'Linear'], bias=0.1),
    dict(type='Normal', layer='Linear', mean=0.3, std=0.02, bias_prob=0.01),
    dict(type='TruncNormal', layer='Conv2d', mean=0.1, std=0.5, a=-1, b=1),
    dict(type='Uniform', layer='SubConv', a=-1, b=1),
    dict(type='Kaiming', layer='Conv2d'),
    dict(type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='leaky_relu', a=0.1, distribution='uniform'),
    dict(type='Caffe2Xavier', layer=['Conv2d', 'Linear']),
    dict(type='Constant', layer='_BatchNorm', val=3, bias=1),
    dict(type='Normal', std=0.1, override=dict(name='head')),
    dict(type='Constant', val=1, layer='Linear', override=[dict(name='conv', type='Xavier'), dict(name='bn')]),
    [dict(type='Kaiming', layer='Conv2d', mode='fan_in'), dict(type='Normal', layer='MyConv', std=3)],
]


def apply_all(initialize) -> list:
    """The state dict after each case, each case on a fresh ``Net`` (seed 0) initialised with seed 1."""
    out = []
    for cfg in CASES:
        torch.manual_seed(0)
        net = Net()
        torch.manual_seed(1)
        initialize(net, cfg)
        out.append(net.state_dict())
    return out


if __name__ == '__main__':
    from mmengine.model.weight_init import initialize as reference_initialize
    torch.save(apply_all(reference_initialize), sys.argv[1])
