"""DDRNet backbone: sizes, parameter counts, outputs for any input size, norm layers, pretrained weights."""
import json
import logging
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from mmseg_ddrnet.models import DDRNet, SyncBatchNorm, build_segmentor
from mmseg_ddrnet.models.utils.norm import SYNC_BN_FALLBACK_WARNING
from mmseg_ddrnet.utils import CheckpointError, ConfigError, DataError


def _inference_params(channels, head_channels, layers=None):
    model = build_segmentor(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet', channels=channels, ppm_channels=128, layers=layers),
        decode_head=dict(type='DDRHead', in_channels=channels * 4, channels=head_channels, num_classes=19)))
    return sum(p.numel() for p in model.parameters())


OFFICIAL_COUNTS = Path(__file__).resolve().parent / 'goldens' / 'official_param_counts.json'


@pytest.mark.parametrize('name,channels,head_channels,layers,expected', [
    ('ddrnet_23_slim', 32, 64, None, 5_695_923),            # as mmseg 1.2.2's DDRNet-23-slim
    ('ddrnet_23', 64, 128, None, 20_148_819),               # as mmseg 1.2.2's DDRNet-23
    ('ddrnet_39', 64, 256, (3, 4, 6, 3), 32_360_147),       # no mmseg model: checked against the official one
])
def test_parameter_counts_match_mmseg_and_the_official_models(name, channels, head_channels, layers, expected):
    assert _inference_params(channels, head_channels, layers) == expected
    # the official models (counted from ydhongHIT/DDRNet's code by tests/models/goldens/make_official_goldens.py)
    # have two more bias vectors of `channels` values: the stem convs' biases, which we fold into BatchNorm
    official = json.loads(OFFICIAL_COUNTS.read_text())[name]
    assert expected == official - 2 * channels


def test_mmseg0x_extra_spelling_builds_the_same_network():
    flat = DDRNet(channels=64, ppm_channels=128, layers=(3, 4, 6, 3))
    extra = DDRNet(extra=dict(layers=(3, 4, 6, 3), planes=64, spp_planes=128, head_planes=256))
    assert [(k, v.shape) for k, v in flat.state_dict().items()] == [(k, v.shape) for k, v in extra.state_dict().items()]
    assert extra.num_fusions == 3  # DDRNet-39: stage 3 in two halves, each fused, then stage 4


def test_state_dict_names_follow_mmseg():
    keys = DDRNet().state_dict().keys()
    for key in ('stem.0.conv.weight', 'stem.4.0.downsample.1.running_var', 'context_branch_layers.2.0.conv3.bn.weight',
                'spatial_branch_layers.2.0.downsample.0.weight', 'compression_2.conv.weight', 'down_2.1.bn.bias',
                'spp.scales.4.1.conv.weight', 'spp.processes.3.bn.weight', 'spp.shortcut.conv.weight'):
        assert key in keys
    assert not any(k.startswith(('compression_3', 'down_3')) for k in keys)


@pytest.mark.parametrize('shape', [(1, 3, 500, 750), (2, 3, 97, 131), (1, 3, 37, 45), (3, 3, 64, 64)])
def test_outputs_for_any_input_size(shape):
    model = DDRNet().eval()
    h8, w8 = -(-shape[2] // 8), -(-shape[3] // 8)
    with torch.no_grad():
        aux, out = model(torch.randn(*shape))
    assert aux.shape == (shape[0], 64, h8, w8)
    assert out.shape == (shape[0], 128, h8, w8)


def test_training_output_backpropagates_through_both_features():
    model = DDRNet().train()
    aux, out = model(torch.randn(2, 3, 40, 56))
    (aux.mean() + out.mean()).backward()
    assert model.stem[0].conv.weight.grad is not None
    assert model.spp.compression.conv.weight.grad.abs().sum() > 0


def test_norm_eval_keeps_bn_statistics_frozen():
    model = DDRNet(norm_eval=True).train()
    assert model.training and all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    before = model.stem[0].bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(model.stem[0].bn.running_mean, before)
    moving = DDRNet(norm_eval=False).train()
    moving(torch.randn(2, 3, 32, 32))
    assert not torch.equal(moving.stem[0].bn.running_mean, torch.zeros_like(before))


def test_requires_grad_false_freezes_norm_parameters():
    model = DDRNet(norm_cfg=dict(type='BN', requires_grad=False))
    assert not model.stem[0].bn.weight.requires_grad and model.stem[0].conv.weight.requires_grad


def test_gn_norm_cfg():
    model = DDRNet(norm_cfg=dict(type='GN', num_groups=16)).train()
    assert isinstance(model.stem[0].gn, nn.GroupNorm) and model.stem[0].gn.num_groups == 16
    assert model(torch.randn(1, 3, 32, 32))[1].shape == (1, 128, 4, 4)


def test_syncbn_trains_on_cpu_with_exactly_one_warning(fresh_warnings, caplog):
    model = build_segmentor(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet', norm_cfg=dict(type='SyncBN', requires_grad=True)),
        decode_head=dict(type='DDRHead', in_channels=128, channels=64, num_classes=3,
                         norm_cfg=dict(type='SyncBN', requires_grad=True))))
    assert isinstance(model.backbone.stem[0].bn, nn.SyncBatchNorm)
    assert isinstance(model.backbone.stem[0].bn, SyncBatchNorm)
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(caplog.handler)
    try:
        for _ in range(2):
            losses = model(torch.randn(2, 3, 32, 48), [{}] * 2, gt_semantic_seg=torch.randint(0, 3, (2, 1, 32, 48)))
            losses['decode.loss_ce'].backward()
    finally:
        logger.removeHandler(caplog.handler)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and 'SyncBN' in r.getMessage()]
    assert [r.getMessage() for r in warnings] == [SYNC_BN_FALLBACK_WARNING]
    assert int(model.backbone.stem[0].bn.num_batches_tracked) == 2
    assert model.backbone.stem[0].bn.running_mean.abs().sum() > 0


def test_syncbn_fallback_equals_batchnorm():
    torch.manual_seed(0)
    sync, plain = SyncBatchNorm(4, momentum=0.3), nn.BatchNorm2d(4, momentum=0.3)
    x = torch.randn(3, 4, 5, 5)
    assert torch.allclose(sync(x), plain(x), atol=1e-6)
    assert torch.allclose(sync.running_var, plain.running_var)
    sync.eval(), plain.eval()
    assert torch.allclose(sync(x), plain(x), atol=1e-6)


@pytest.mark.parametrize('kwargs,match', [
    (dict(extra=dict(planes=32, layers=(2, 2, 2, 2), blocks=3)), 'unknown key'),
    (dict(channels=64, extra=dict(planes=32)), 'contradicts'),
    (dict(channels='32'), 'channels must be a positive int'),
    (dict(layers=(2, 2, 2)), 'layers must be 4'),
    (dict(stage3_splits=4), 'stage3_splits'),
    (dict(norm_cfg=dict(type='LN')), 'not supported'),
    (dict(norm_cfg=dict(type='BN', momentun=0.1)), 'unknown key'),
    (dict(act_cfg=dict(type='Mish2')), 'not supported'),
    (dict(init_cfg=dict(type='Kaiming', mode='fan_up')), "mode must be one of 'fan_in', 'fan_out'"),
    (dict(init_cfg='Kaiming'), 'init_cfg must be a dict or a list of dicts'),
    (dict(pretrained=1), 'pretrained must be a str or None'),
    (dict(in_channels='3'), 'in_channels must be an int > 0'),
    (dict(align_corners='False'), 'align_corners must be a bool'),
    (dict(norm_eval=1), 'norm_eval must be a bool'),
    (dict(norm_cfg='BN'), 'norm_cfg must be a dict with a "type" key'),
    (dict(norm_cfg=dict(type='BN', requires_grad='yes')), 'requires_grad must be a bool'),
    (dict(norm_cfg=dict(type='BN', eps='1e-5')), 'eps must be a number'),
    (dict(norm_cfg=dict(type='BN', momentum='0.1')), 'momentum must be a number or None'),
    (dict(norm_cfg=dict(type='GN', num_groups='8')), 'num_groups must be an int'),
    (dict(act_cfg=dict(type='ReLU', inplace='True')), 'act_cfg ReLU: inplace must be a bool'),
    (dict(act_cfg=dict(type='LeakyReLU', negative_slope='0.1')), 'negative_slope must be a number'),
    (dict(pretrained='a.pth', init_cfg=dict(type='Pretrained', checkpoint='b.pth')), 'not both'),
])
def test_bad_backbone_configs_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DDRNet(**kwargs)


def test_missing_pretrained_file_says_how_to_get_it(tmp_path):
    model = DDRNet(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'ddrnet23s_imagenet.pth')))
    with pytest.raises(CheckpointError, match='convert_checkpoint.py --src-format official-imagenet') as err:
        model.init_weights()
    assert 'ddrnet23s_imagenet.pth' in str(err.value)


@pytest.mark.parametrize('channels, variant', [(32, 'slim'), (64, '23')])
def test_an_official_imagenet_file_loads_as_pretrained_without_conversion(tmp_path, channels, variant):
    """The official DDRNet23s_imagenet.pth / DDRNet23_imagenet.pth as released (DDP 'module.' prefix)."""
    from official_layout import official_state_dict
    official = official_state_dict(variant, imagenet=True, prefix='module.')
    torch.save(official, tmp_path / 'imagenet.pth')
    model = DDRNet(channels=channels, pretrained=str(tmp_path / 'imagenet.pth'))
    model.init_weights()
    assert torch.equal(model.spatial_branch_layers[-1][0].conv3.conv.weight, official['module.layer5_.0.conv3.weight'])
    assert torch.equal(model.compression_1.conv.weight, official['module.compression3.0.weight'])


def test_pretrained_weights_load_with_or_without_backbone_prefix(tmp_path):
    source = DDRNet()
    with torch.no_grad():
        source.stem[0].conv.weight.fill_(0.5)
    bare, prefixed = tmp_path / 'bare.pth', tmp_path / 'prefixed.pth'
    torch.save(source.state_dict(), bare)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}, prefixed)
    for path in (bare, prefixed):
        model = build_segmentor(dict(type='EncoderDecoder', pretrained=str(path), backbone=dict(type='DDRNet'),
                                     decode_head=dict(type='DDRHead', in_channels=128, channels=64, num_classes=2)))
        assert not torch.equal(model.backbone.stem[0].conv.weight, source.stem[0].conv.weight)
        model.init_weights()
        assert torch.equal(model.backbone.stem[0].conv.weight, source.stem[0].conv.weight)


def test_training_on_a_single_image_with_bn_is_a_clear_error():
    with pytest.raises(DataError, match='at least 2 images'):
        DDRNet().train()(torch.randn(1, 3, 32, 32))
    assert DDRNet(norm_eval=True).train()(torch.randn(1, 3, 32, 32))[1].shape == (1, 128, 4, 4)
    assert DDRNet(norm_cfg=dict(type='GN', num_groups=8)).train()(torch.randn(1, 3, 32, 32))[1].shape == (1, 128, 4, 4)
