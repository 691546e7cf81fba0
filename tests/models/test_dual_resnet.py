"""``DualResNet``: the official DDRNet constructor (ydhongHIT/DDRNet) as an mmseg 0.x fork's backbone."""
import os
import sys

import pytest
import torch

from mmseg_ddrnet.models import DDRNet, build_segmentor
from mmseg_ddrnet.models.backbones import DualResNet, ddrnet, dual_resnet
from mmseg_ddrnet.models.backbones.ddrnet_keys import convert_official
from mmseg_ddrnet.utils import CheckpointError, ConfigError

sys.path.insert(0, os.path.dirname(__file__))
from official_layout import official_state_dict  # noqa: E402

# the official builders (DualResNet_imagenet of segmentation/DDRNet_23_slim.py, DDRNet_23.py, DDRNet_39.py)
OFFICIAL = {
    'slim': (dict(block='BasicBlock', layers=[2, 2, 2, 2], num_classes=19, planes=32, spp_planes=128,
                  head_planes=64, augment=False), dict(channels=32)),
    '23': (dict(block='BasicBlock', layers=[2, 2, 2, 2], num_classes=19, planes=64, spp_planes=128,
                head_planes=128, augment=False), dict(channels=64)),
    '39': (dict(block='BasicBlock', layers=[3, 4, 6, 3], num_classes=19, planes=64, spp_planes=128,
                head_planes=256, augment=False), dict(channels=64, layers=(3, 4, 6, 3))),
}


def _shapes(module):
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


@pytest.mark.parametrize('variant', ['slim', '23', '39'])
def test_official_sizes_build_our_native_networks(variant):
    official_args, native_args = OFFICIAL[variant]
    dual, native = DualResNet(**official_args), DDRNet(**native_args)
    assert _shapes(dual) == _shapes(native)
    assert sum(p.numel() for p in dual.parameters()) == sum(p.numel() for p in native.parameters())
    assert dual.num_fusions == native.num_fusions == (3 if variant == '39' else 2)


def test_defaults_block_omitted_and_fork_spelling_of_stage3():
    assert _shapes(DualResNet()) == _shapes(DDRNet(channels=64))  # official defaults: planes=64, DDRNet-23
    halves = DualResNet(layers=[3, 4, (3, 3), 3], planes=64)  # forks' spelling of DDRNet-39's split stage 3
    assert _shapes(halves) == _shapes(DDRNet(channels=64, layers=(3, 4, 6, 3)))
    assert _shapes(DualResNet(layers=[2, 2, (2,), 2], planes=32)) == _shapes(DDRNet(channels=32))


@pytest.mark.parametrize('shape', [(2, 3, 64, 96), (1, 3, 37, 45)])
def test_forward_gives_the_official_head_inputs_at_one_eighth(shape):
    model = DualResNet(**OFFICIAL['slim'][0]).eval()
    with torch.no_grad():
        aux, out = model(torch.randn(*shape))
    h8, w8 = -(-shape[2] // 8), -(-shape[3] // 8)
    assert aux.shape == (shape[0], 64, h8, w8)   # seghead_extra's input: 2 x planes
    assert out.shape == (shape[0], 128, h8, w8)  # final_layer's input: 4 x planes


@pytest.mark.parametrize('variant', ['slim', '39'])
def test_official_checkpoint_round_trip_through_pretrained(tmp_path, variant, monkeypatch):
    """An official segmentation checkpoint as ``pretrained``: the backbone gets exactly the converted weights."""
    seen = []
    monkeypatch.setattr(ddrnet, 'warn_once', seen.append)  # the conversion is DDRNet's (DualResNet inherits it)
    official_args, _ = OFFICIAL[variant]
    official = official_state_dict(variant, augment=True, prefix='model.')  # HRNet wrapper prefix, as released
    path = tmp_path / 'official.pth'
    torch.save({'state_dict': official}, path)
    model = DualResNet(**official_args, pretrained=str(path))
    model.init_weights()
    expected = {k[len('backbone.'):]: v for k, v in convert_official(official).items() if k.startswith('backbone.')}
    own = model.state_dict()
    assert set(expected) == {k for k in own if not k.endswith('num_batches_tracked')} | \
        {k for k in expected if k.endswith('num_batches_tracked')}
    for key, value in expected.items():
        assert torch.equal(own[key], value), key
    assert len(seen) == 1 and 'head tensors of the official checkpoint' in seen[0] and 'load_from' in seen[0]
    # the stem bias folded into BN: running_mean' = running_mean - bias
    assert torch.equal(own['stem.0.bn.running_mean'],
                       official['model.conv1.1.running_mean'] - official['model.conv1.0.bias'])


def test_official_imagenet_pretrained_and_own_format_both_load(tmp_path):
    imagenet = official_state_dict('slim', imagenet=True, prefix='module.')
    torch.save(imagenet, tmp_path / 'DDRNet23s_imagenet.pth')
    model = DualResNet(**OFFICIAL['slim'][0], pretrained=str(tmp_path / 'DDRNet23s_imagenet.pth'))
    model.init_weights()
    assert torch.equal(model.spatial_branch_layers[-1][0].conv3.conv.weight, imagenet['module.layer5_.0.conv3.weight'])
    # this package's format loads unchanged
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'ours.pth')
    again = DualResNet(**OFFICIAL['slim'][0], init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'ours.pth')))
    again.init_weights()
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_a_broken_official_checkpoint_is_one_line_naming_file_and_keys(tmp_path):
    bad = official_state_dict('slim', imagenet=True)
    bad['layer9.0.weight'] = torch.zeros(1)
    torch.save(bad, tmp_path / 'bad.pth')
    model = DualResNet(**OFFICIAL['slim'][0], pretrained=str(tmp_path / 'bad.pth'))
    with pytest.raises(CheckpointError, match=r'bad\.pth: .*layer9\.0\.weight'):
        model.init_weights()


@pytest.mark.parametrize('kwargs,match', [
    (dict(block='Bottleneck'), "block='Bottleneck' is not supported"),
    (dict(layers=[2, 2, 4, 4]), r'cannot be reproduced.*type=.DDRNet'),
    (dict(layers=[2, 2, 2]), 'layers must be 4 block counts'),
    (dict(layers=[3, 4, (2, 4), 3]), 'equal positive block counts'),
    (dict(augment='yes'), 'augment must be True or False'),
    (dict(head_planes=0), 'head_planes must be a positive int'),
    (dict(depth=18), "unexpected keyword argument 'depth'"),
])
def test_arguments_it_cannot_honour_are_one_line_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_segmentor(dict(type='EncoderDecoder', backbone=dict(type='DualResNet', **kwargs),
                             decode_head=dict(type='DDRHead', in_channels=256, channels=128, num_classes=19)))


def test_official_head_arguments_are_checked_against_the_heads(monkeypatch):
    seen = []
    monkeypatch.setattr(dual_resnet, 'warn_once', seen.append)
    cfg = dict(type='EncoderDecoder',
               backbone=dict(type='DualResNet', layers=[2, 2, 2, 2], planes=32, num_classes=19, head_planes=32,
                             augment=True),
               decode_head=dict(type='DDRHead', in_channels=128, channels=64, num_classes=11))
    build_segmentor(cfg)
    text = '\n'.join(seen)
    assert 'num_classes=19 is ignored; decode_head.num_classes=11' in text
    assert 'head_planes=32 is ignored; decode_head.channels=64' in text
    assert 'augment=True but the model has no auxiliary_head' in text and 'in_channels=64' in text
    seen.clear()
    cfg['backbone'].update(num_classes=11, head_planes=64)
    cfg['auxiliary_head'] = dict(type='DDRHead', in_channels=64, in_index=0, channels=64, num_classes=11)
    model = build_segmentor(cfg)
    assert not seen
    model.train()
    losses = model.forward_train(torch.randn(2, 3, 64, 64), [{}] * 2, torch.randint(0, 11, (2, 1, 64, 64)))
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
