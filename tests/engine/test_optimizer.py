"""build_optimizer: torch.optim classes by name and mmcv's DefaultOptimizerConstructor paramwise rules."""
import pytest
import torch
from torch import nn

from mmseg_ddrnet.engine.optimizer import build_optimizer
from mmseg_ddrnet.utils import ConfigError, RegistryError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, groups=4))
        self.head = nn.Module()
        self.head.conv_seg = nn.Conv2d(4, 2, 1)
        self.head.gn = nn.GroupNorm(2, 4)
        self.frozen = nn.Linear(2, 2)
        self.frozen.weight.requires_grad = False


def _groups_by_name(model, optimizer):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g['params'][0])]: g for g in optimizer.param_groups}


def test_plain_optimizer_has_one_group():
    model = Net()
    opt = build_optimizer(model, dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
    assert isinstance(opt, torch.optim.SGD) and len(opt.param_groups) == 1
    assert len(opt.param_groups[0]['params']) == len(list(model.parameters()))
    opt = build_optimizer(model, dict(type='AdamW', lr=1e-3, betas=(0.9, 0.99)))
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults['betas'] == (0.9, 0.99)


def test_paramwise_multipliers():
    model = Net()
    cfg = dict(type='SGD', lr=0.01, weight_decay=1e-4, momentum=0.9,
               paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.5, bias_lr_mult=2., dwconv_decay_mult=0.1))
    groups = _groups_by_name(model, build_optimizer(model, cfg))
    assert len(groups) == len(list(model.parameters()))
    conv = groups['backbone.0.weight']
    assert conv['lr'] == 0.01 and conv['weight_decay'] == 1e-4
    assert groups['backbone.0.bias']['lr'] == 0.02 and groups['backbone.0.bias']['weight_decay'] == 5e-5
    for name in ('backbone.1.weight', 'backbone.1.bias', 'head.gn.weight', 'head.gn.bias'):
        assert groups[name]['weight_decay'] == 0.0, name
        assert groups[name]['lr'] == 0.01, name  # norm biases keep the base lr
    assert groups['backbone.2.weight']['weight_decay'] == pytest.approx(1e-5)  # depth-wise conv
    assert groups['backbone.2.bias']['weight_decay'] == pytest.approx(1e-5)
    assert groups['frozen.weight']['lr'] == 0.01 and not groups['frozen.weight']['params'][0].requires_grad


def test_custom_keys_longest_match_wins_and_override_the_rest():
    model = Net()
    cfg = dict(type='SGD', lr=0.1, weight_decay=1e-3,
               paramwise_cfg=dict(bias_lr_mult=3., custom_keys={
                   'head': dict(lr_mult=10.), 'head.conv_seg': dict(lr_mult=5., decay_mult=0.),
                   'backbone.1': dict(decay_mult=0.5)}))
    groups = _groups_by_name(model, build_optimizer(model, cfg))
    assert groups['head.conv_seg.weight']['lr'] == pytest.approx(0.5)
    assert groups['head.conv_seg.bias']['lr'] == pytest.approx(0.5)  # custom key beats bias_lr_mult
    assert groups['head.conv_seg.weight']['weight_decay'] == 0.0
    assert groups['head.gn.weight']['lr'] == pytest.approx(1.0) and groups['head.gn.weight']['weight_decay'] == 1e-3
    assert groups['backbone.1.weight']['weight_decay'] == pytest.approx(5e-4)
    assert groups['backbone.0.bias']['lr'] == pytest.approx(0.3)


def test_bad_optimizer_configs():
    with pytest.raises(RegistryError, match="did you mean SGD"):
        build_optimizer(Net(), dict(type='SDG', lr=0.1))
    with pytest.raises(ConfigError, match='unknown key'):
        build_optimizer(Net(), dict(type='SGD', lr=0.1, paramwise_cfg=dict(norm_decay=0.)))
    with pytest.raises(ConfigError, match='optimizer SGD'):
        build_optimizer(Net(), dict(type='SGD', lr=0.1, betas=(0.9, 0.9)))
