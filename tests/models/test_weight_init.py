"""init_cfg initializers against mmcv 1.7's documented behaviour (``mmcv.cnn.utils.weight_init``).

Random initializers are checked on large seeded tensors against the distributions' closed forms (the
PyTorch ``nn.init`` docs that mmcv defers to): the tolerances are 10+ standard errors of the estimate, so
they hold for any kernel that draws from the right distribution. Constant values are checked exactly, and
every test checks which layers are touched and which are left alone.
"""
import logging
import math

import pytest
import torch
import torch.nn as nn

from mmseg_ddrnet.models.utils import SyncBatchNorm, bias_init_with_prob, initialize
from mmseg_ddrnet.models.utils.weight_init import layer_names
from mmseg_ddrnet.utils import CheckpointError, ConfigError, RegistryError


class MyConv(nn.Conv2d):
    pass


class SubConv(MyConv):
    pass


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.my_conv = MyConv(4, 4, 1)
        self.sub_conv = SubConv(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.sync_bn = SyncBatchNorm(4)
        self.fc = nn.Linear(4, 2)
        self.head = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def changed(before, module):
    return sorted(k for k, v in module.state_dict().items() if not torch.equal(before[k], v))


def test_constant_fills_exactly_the_named_layers():
    net = Net()
    before = snapshot(net)
    initialize(net, dict(type='Constant', layer=['Conv2d', 'Linear'], val=0.5, bias=-2))
    # Conv2d matches nn.Conv2d and MyConv (a direct base) but not SubConv (a grandchild, as mmcv 1.7)
    assert changed(before, net) == ['conv.bias', 'conv.weight', 'fc.bias', 'fc.weight', 'head.0.bias',
                                    'head.0.weight', 'my_conv.bias', 'my_conv.weight']
    for m in (net.conv, net.my_conv, net.fc, net.head[0]):
        assert torch.equal(m.weight, torch.full_like(m.weight, 0.5))
        assert torch.equal(m.bias, torch.full_like(m.bias, -2.0))


def test_layer_names_are_the_class_and_its_direct_bases():
    assert layer_names(nn.BatchNorm2d(2)) == ['BatchNorm2d', '_BatchNorm']
    assert layer_names(SubConv(1, 1, 1)) == ['SubConv', 'MyConv']
    # this package's SyncBatchNorm stands in for torch's: it matches what nn.SyncBatchNorm matches in mmcv
    assert set(layer_names(SyncBatchNorm(2))) == {'SyncBatchNorm', '_BatchNorm'}
    net = Net()
    before = snapshot(net)
    initialize(net, dict(type='Constant', layer='_BatchNorm', val=3, bias=1))
    assert {k.rsplit('.', 1)[0] for k in changed(before, net)} == {'bn', 'sync_bn', 'head.1'}
    assert torch.equal(net.sync_bn.weight, torch.full((4,), 3.0))
    before = snapshot(net)
    initialize(net, dict(type='Constant', layer='SubConv', val=0))
    assert changed(before, net) == ['sub_conv.bias', 'sub_conv.weight']


def test_bias_prob_sets_the_bias_whose_sigmoid_is_the_prior():
    conv = nn.Conv2d(2, 3, 1)
    initialize(conv, dict(type='Normal', layer='Conv2d', std=0.01, bias_prob=0.01))
    expected = -math.log(0.99 / 0.01)  # mmcv: bias_init_with_prob(p) = -log((1 - p) / p)
    assert bias_init_with_prob(0.01) == pytest.approx(expected, abs=1e-12)
    assert torch.allclose(conv.bias, torch.full((3,), expected))
    assert torch.sigmoid(conv.bias).sub(0.01).abs().max() < 1e-7


def _big_conv(cin=256, cout=512, k=3):
    torch.manual_seed(0)
    return nn.Conv2d(cin, cout, k)  # 1.18M weights


def _check_normal(w, mean, std, rel=0.01):
    n = w.numel()
    assert abs(w.mean().item() - mean) < 10 * std / math.sqrt(n) + 1e-12
    assert w.std().item() == pytest.approx(std, rel=rel)


@pytest.mark.parametrize('cfg,std', [
    (dict(type='Normal', mean=0.3, std=0.02), 0.02),
    (dict(type='Xavier', gain=2.0), 2.0 * math.sqrt(2.0 / (256 * 9 + 512 * 9))),
    (dict(type='Kaiming'), math.sqrt(2.0) / math.sqrt(512 * 9)),  # mmcv defaults: fan_out, relu, normal
    (dict(type='Kaiming', mode='fan_in', nonlinearity='leaky_relu', a=0.2),
     math.sqrt(2.0 / (1 + 0.2 ** 2)) / math.sqrt(256 * 9)),
])
def test_normal_family_statistics(cfg, std):
    conv = _big_conv()
    initialize(conv, dict(cfg, layer='Conv2d', bias=0.25))
    _check_normal(conv.weight, cfg.get('mean', 0.0), std)
    assert torch.equal(conv.bias, torch.full_like(conv.bias, 0.25))


@pytest.mark.parametrize('cfg,bound', [
    (dict(type='Uniform', a=-0.3, b=0.1), None),
    (dict(type='Xavier', distribution='uniform'), math.sqrt(6.0 / (256 * 9 + 512 * 9))),
    (dict(type='Kaiming', distribution='uniform'), math.sqrt(2.0) * math.sqrt(3.0 / (512 * 9))),
    # Caffe2's XavierFill: Kaiming uniform, a=1, fan_in, leaky_relu: gain 1, bound sqrt(3 / fan_in)
    (dict(type='Caffe2Xavier'), math.sqrt(3.0 / (256 * 9))),
])
def test_uniform_family_statistics(cfg, bound):
    conv = _big_conv()
    initialize(conv, dict(cfg, layer='Conv2d'))
    lo, hi = (cfg['a'], cfg['b']) if bound is None else (-bound, bound)
    w = conv.weight
    assert lo <= w.min().item() and w.max().item() <= hi
    assert w.min().item() < lo + 0.001 * (hi - lo) and w.max().item() > hi - 0.001 * (hi - lo)
    assert w.mean().item() == pytest.approx((lo + hi) / 2, abs=10 * (hi - lo) / math.sqrt(12 * w.numel()))
    assert w.std().item() == pytest.approx((hi - lo) / math.sqrt(12), rel=0.01)
    assert torch.equal(conv.bias, torch.zeros_like(conv.bias))


def test_trunc_normal_statistics():
    conv = _big_conv()
    mean, std, a, b = 0.5, 1.0, -1.0, 1.5
    initialize(conv, dict(type='TruncNormal', layer='Conv2d', mean=mean, std=std, a=a, b=b))
    w = conv.weight
    assert a <= w.min().item() and w.max().item() <= b
    # moments of N(mean, std²) truncated to [a, b]
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    t_mean = mean + std * (pdf(alpha) - pdf(beta)) / z
    t_var = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    _check_normal(w, t_mean, math.sqrt(t_var))


def test_override_by_name_initialises_the_whole_submodule():
    net = Net()
    before = snapshot(net)
    # only the name: the outer config (without its layer) is used on every weight/bias under `head`
    initialize(net, dict(type='Constant', val=2, bias=3, layer='Linear', override=dict(name='head')))
    assert changed(before, net) == ['fc.bias', 'fc.weight', 'head.0.bias', 'head.0.weight', 'head.1.bias',
                                    'head.1.weight']
    assert torch.equal(net.head[1].weight, torch.full((4,), 2.0))  # the BN inside too
    before = snapshot(net)
    initialize(net, dict(type='Constant', val=2, layer='Linear',
                         override=[dict(type='Constant', name='conv', val=7), dict(name='bn', type='Constant', val=5)]))
    # fc: weight 2 again, bias 3 -> 0 (the default bias); overrides with their own type and values
    assert changed(before, net) == ['bn.weight', 'conv.bias', 'conv.weight', 'fc.bias']
    assert torch.equal(net.conv.weight, torch.full_like(net.conv.weight, 7.0))
    assert torch.equal(net.bn.weight, torch.full((4,), 5.0))


def test_override_of_a_missing_attribute_is_a_config_error():
    with pytest.raises(ConfigError, match="Net: init_cfg override name='cls': Net has no sub-module 'cls'"):
        initialize(Net(), dict(type='Constant', val=1, override=dict(name='cls')))


def test_init_cfg_without_layer_warns_and_changes_nothing(fresh_warnings, caplog):
    net = Net()
    before = snapshot(net)
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(caplog.handler)
    try:
        initialize(net, dict(type='Kaiming', mode='fan_in'))
    finally:
        logger.removeHandler(caplog.handler)
    assert changed(before, net) == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert 'Net: init_cfg' in warning and 'neither "layer" nor "override"' in warning


def test_a_list_applies_in_order():
    net = Net()
    initialize(net, [dict(type='Constant', layer='Conv2d', val=1), dict(type='Constant', layer='MyConv', val=4)])
    assert torch.equal(net.conv.weight, torch.ones_like(net.conv.weight))
    assert torch.equal(net.my_conv.weight, torch.full_like(net.my_conv.weight, 4.0))
    assert torch.equal(net.sub_conv.weight, torch.full_like(net.sub_conv.weight, 4.0))  # SubConv's base is MyConv


@pytest.mark.parametrize('cfg,match', [
    (dict(type='Constant', val='1', layer='Conv2d'), 'init_cfg Constant: val must be a number'),
    (dict(type='Constant', layer='Conv2d'), "missing 1 required positional argument: 'val'"),
    (dict(type='Normal', bias='0', layer='Conv2d'), 'init_cfg Normal: bias must be a number'),
    (dict(type='Normal', bias_prob=1, layer='Conv2d'), 'bias_prob must be a float in \\(0, 1\\)'),
    (dict(type='Normal', bias_prob=1.5, layer='Conv2d'), 'bias_prob must be a float in \\(0, 1\\)'),
    (dict(type='Normal', layer=3), 'layer must be a class name or a list of them'),
    (dict(type='Xavier', distribution='gauss', layer='Conv2d'), "distribution must be one of 'normal', 'uniform'"),
    (dict(type='Kaiming', mode='fan', layer='Conv2d'), "mode must be one of 'fan_in', 'fan_out'"),
    (dict(type='Kaiming', nonlinearity='swish2', layer='Conv2d'), "nonlinearity='swish2'"),
    (dict(type='Caffe2Xavier', mode='fan_out', layer='Conv2d'), 'Caffe2Xavier: mode cannot be set'),
    (dict(type='TruncNormal', a=1, b=0, layer='Conv2d'), 'a must be below b'),
    (dict(type='Uniform', a='0', layer='Conv2d'), 'init_cfg Uniform: a must be a number'),
    (dict(type='Uniform', layer='Conv2d', sigma=1), "unexpected keyword argument 'sigma'"),
    (dict(type='Pretrained', checkpoint='x.pth', layer='Conv2d'), "unexpected keyword argument 'layer'"),
    (dict(type='Pretrained', checkpoint='x.pth', prefix=1), 'init_cfg Pretrained: prefix must be a str or None'),
    (dict(layer='Conv2d'), 'needs a "type" key'),
    ('Kaiming', 'init_cfg must be a dict or a list of dicts'),
])
def test_bad_initializer_configs_are_config_errors(cfg, match):
    with pytest.raises(ConfigError, match=match):
        initialize(Net(), cfg)


def test_unknown_initializer_is_a_registry_error_with_suggestions():
    with pytest.raises(RegistryError, match="Net: unknown initializer type 'Kaimin'; did you mean Kaiming"):
        initialize(Net(), dict(type='Kaimin', layer='Conv2d'))


# ------------------------------------------------------------------------------------------ Pretrained
def _save(path, state):
    torch.save(state, path)
    return str(path)


def test_pretrained_loads_a_prefix_through_the_safe_loader(tmp_path):
    source = Net()
    for p in source.parameters():
        p.data.uniform_()
    whole = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    whole['decode_head.w'] = torch.zeros(1)
    path = _save(tmp_path / 'seg.pth', {'state_dict': whole, 'meta': {'iter': 3}})
    for prefix in ('backbone.', 'backbone'):  # mmcv appends the dot
        net = Net()
        initialize(net, dict(type='Pretrained', checkpoint=path, prefix=prefix, map_location='cpu'))
        for key, value in source.state_dict().items():
            assert torch.equal(net.state_dict()[key], value), key
    with pytest.raises(CheckpointError, match="no entry of .*seg.pth starts with prefix 'neck.'"):
        initialize(Net(), dict(type='Pretrained', checkpoint=path, prefix='neck'))


def test_pretrained_without_prefix_is_non_strict_and_drops_module_prefix(tmp_path):
    source = Net()
    state = {f'module.{k}': v + 1 for k, v in source.state_dict().items() if not k.startswith('fc.')}
    net = Net()
    fc_before = net.fc.weight.clone()
    initialize(net, dict(type='Pretrained', checkpoint=_save(tmp_path / 'ddp.pth', state)))
    assert torch.equal(net.conv.weight, source.conv.weight + 1)
    assert torch.equal(net.fc.weight, fc_before)  # missing from the checkpoint: left alone (non-strict)


def test_pretrained_refuses_pickled_objects_and_missing_files(tmp_path):
    path = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': Net().state_dict(), 'obj': logging.getLogger('x')}, path)
    with pytest.raises(CheckpointError, match='refused to load checkpoint .*unsafe.pth: unpickling it would call '
                                              'logging.getLogger'):
        initialize(Net(), dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CheckpointError, match='pretrained checkpoint of Net not found: .*nope.pth'):
        initialize(Net(), dict(type='Pretrained', checkpoint=str(tmp_path / 'nope.pth')))


def test_a_user_initializer_registered_in_initializers_is_used_as_mmcv_would():
    from mmseg_ddrnet.registry import INITIALIZERS

    class OnesInit:  # mmcv's contract: built from the config, ``wholemodule`` set, then called on the module
        def __init__(self, scale=1.0):
            self.scale = scale

        def __call__(self, module):
            for m in module.modules():
                if self.wholemodule and getattr(m, 'weight', None) is not None:
                    torch.nn.init.constant_(m.weight, self.scale)

    INITIALIZERS.register_module(name='TestOnes', module=OnesInit)
    try:
        net = Net()
        before = snapshot(net)
        initialize(net, dict(type='Constant', val=0, override=dict(type='TestOnes', name='fc', scale=3.0)))
        assert changed(before, net) == ['fc.weight']
        assert torch.equal(net.fc.weight, torch.full_like(net.fc.weight, 3.0))
    finally:
        INITIALIZERS._module_dict.pop('TestOnes')


def test_every_case_matches_mmengine_s_initialize_bit_for_bit(mmseg_reference_python, tmp_path):
    """mmengine 0.10's ``initialize`` (mmcv 1.7's weight_init, moved) on the same seeds gives the same tensors."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    import init_cfg_reference as cases
    out = tmp_path / 'ref.pth'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    subprocess.run([mmseg_reference_python, str(Path(cases.__file__)), str(out)], check=True, env=env,
                   capture_output=True, timeout=300)
    reference = torch.load(out, weights_only=True)
    ours = cases.apply_all(initialize)
    assert len(reference) == len(ours) == len(cases.CASES)
    for cfg, ref_state, our_state in zip(cases.CASES, reference, ours):
        for key, value in ref_state.items():
            assert torch.equal(our_state[key], value), (cfg, key)
