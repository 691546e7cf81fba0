"""Decode heads: DDRHead and FCNHead layouts, input selection, summed losses with the same name."""
import pytest
import torch
import torch.nn.functional as F

from mmseg_ddrnet.models import DDRHead, FCNHead, build_head, build_segmentor
from mmseg_ddrnet.utils import ConfigError


def _feats(n=2):
    return torch.randn(n, 64, 6, 8), torch.randn(n, 128, 6, 8)


def test_ddrhead_reads_its_in_index_and_has_mmseg_names():
    head = DDRHead(in_channels=64, channels=32, num_classes=4, in_index=0).eval()
    assert head(_feats()).shape == (2, 4, 6, 8)
    assert sorted(k for k in head.state_dict() if not k.endswith(('running_mean', 'running_var', 'tracked'))) == [
        'conv_seg.bias', 'conv_seg.weight', 'head.0.bn.bias', 'head.0.bn.weight', 'head.0.conv.weight',
        'head.1.bias', 'head.1.weight']
    assert head.dropout is None  # none by default, as in the official DDRNet


def test_losses_with_the_same_name_are_summed():
    torch.manual_seed(0)
    feats, label = _feats(), torch.randint(0, 4, (2, 1, 48, 64))
    ce = dict(type='CrossEntropyLoss')
    single = DDRHead(in_channels=128, channels=32, num_classes=4, loss_decode=ce)
    double = DDRHead(in_channels=128, channels=32, num_classes=4,
                     loss_decode=[ce, dict(ce, loss_weight=2.0), dict(ce, loss_name='loss_other')])
    double.load_state_dict(single.state_dict())
    one, three = single.forward_train(feats, [], label), double.forward_train(feats, [], label)
    assert sorted(three) == ['acc_seg', 'loss_ce', 'loss_other']
    assert three['loss_ce'].item() == pytest.approx(3 * one['loss_ce'].item(), rel=1e-5)
    assert three['acc_seg'].item() == pytest.approx(one['acc_seg'].item())


def test_input_transforms():
    """resize_concat: every selected input resized (bilinear, align_corners=False) to the first's size, then
    concatenated; the same head on the hand-made concatenation gives the same logits."""
    concat = DDRHead(in_channels=[64, 128], in_index=[0, 1], input_transform='resize_concat', channels=16,
                     num_classes=3).eval()
    single = DDRHead(in_channels=192, channels=16, num_classes=3, in_index=0).eval()
    single.load_state_dict(concat.state_dict())
    assert concat.in_channels == 192
    low, high = torch.randn(2, 64, 6, 8), torch.randn(2, 128, 3, 4)  # the second at another size
    by_hand = torch.cat([low, F.interpolate(high, size=(6, 8), mode='bilinear', align_corners=False)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(concat((low, high)), single((by_hand,)), rtol=0, atol=0)


@pytest.mark.parametrize('kwargs,params', [
    # 3x3 conv 64->32 + BN(32), conv_seg 32->4
    (dict(num_convs=1, concat_input=False), 64 * 32 * 9 + 64 + 32 * 4 + 4),
    # two convs, then conv_cat (64+32 -> 32)
    (dict(num_convs=2, concat_input=True), (64 * 32 + 32 * 32 + 96 * 32) * 9 + 3 * 64 + 32 * 4 + 4),
])
def test_fcnhead_layout(kwargs, params):
    head = FCNHead(in_channels=64, channels=32, num_classes=4, in_index=0, norm_cfg=dict(type='BN'), **kwargs)
    assert sum(p.numel() for p in head.parameters()) == params
    assert head.eval()(_feats()).shape == (2, 4, 6, 8)


def test_fcnhead_as_mmseg0x_auxiliary_head():
    model = build_segmentor(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet'),
        decode_head=dict(type='DDRHead', in_channels=128, channels=64, num_classes=3),
        auxiliary_head=dict(type='FCNHead', in_channels=64, in_index=0, channels=64, num_convs=1, concat_input=False,
                            num_classes=3, norm_cfg=dict(type='BN', requires_grad=True),
                            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))))
    img, label = torch.randn(2, 3, 32, 32), torch.randint(0, 3, (2, 1, 32, 32))
    torch.manual_seed(1)  # FCNHead's dropout (0.1) is the only random draw: the same mask below
    losses = model(img, [{}, {}], gt_semantic_seg=label)
    assert sorted(losses) == ['aux.acc_seg', 'aux.loss_ce', 'decode.acc_seg', 'decode.loss_ce']
    # the auxiliary FCN reads the 1/8 spatial feature (in_index=0) and weighs its cross-entropy by 0.4
    feats = model.extract_feat(img)  # train mode again: the same batch statistics
    torch.manual_seed(1)
    logits = model.auxiliary_head(feats)
    assert logits.shape == (2, 3, 4, 4)
    full = F.interpolate(logits, size=(32, 32), mode='bilinear', align_corners=False)
    expected = 0.4 * F.cross_entropy(full, label[:, 0], ignore_index=255)
    assert losses['aux.loss_ce'].item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize('cfg,match', [
    (dict(type='FCNHead', in_channels=64, channels=32, num_classes=2, num_convs=0), 'num_convs=0'),
    (dict(type='FCNHead', in_channels=64, channels=32, num_classes=2, num_convs=-1), 'num_convs'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, conv_cfg=dict(type='DCNv2')), 'conv_cfg.*plain 2-D'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, init_cfg=dict(type='Normal', std='1')),
     'init_cfg Normal: std must be a number'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, init_cfg=dict(type='Normal', override=1)),
     'override must be a dict or a list of dicts'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2,
          init_cfg=dict(type='Normal', override=dict(type='Constant', val=1))), 'needs a "name"'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2,
          init_cfg=dict(type='Normal', override=dict(name='conv_seg', std=2))), 'no "type"'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, init_cfg=dict(type='Normal', foo=1)),
     "DDRHead: init_cfg Normal: .*unexpected keyword argument 'foo'"),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, align_corners='False'),
     'DDRHead: align_corners must be a bool'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes='2'), 'num_classes must be an int > 0'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, ignore_index='255'),
     'ignore_index must be an int'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, dropout_ratio='0.1'),
     'dropout_ratio must be a number'),
    (dict(type='DDRHead', in_channels=64, channels=32, num_classes=2, norm_cfg='BN'), 'norm_cfg must be a dict'),
    (dict(type='FCNHead', in_channels=64, channels=32, num_classes=2, kernel_size='3'), 'kernel_size must be an int'),
    (dict(type='FCNHead', in_channels=64, channels=32, num_classes=2, concat_input='no'),
     'concat_input must be a bool'),
    (dict(type='FCNHead', in_channels=[64, '32'], in_index=[0, 1], input_transform='resize_concat', channels=32,
          num_classes=2), 'in_channels must be positive ints'),
    (dict(type='DDRHead', in_channels=[64], channels=32, num_classes=2), 'in_channels'),
])
def test_bad_head_configs(cfg, match):
    with pytest.raises(ConfigError, match=match):
        build_head(cfg)


@pytest.mark.parametrize('conv_cfg', [dict(type='Conv2d'), dict(type='Conv')])
def test_plain_conv_cfg_is_accepted_as_mmcv_builds_it(conv_cfg):
    from mmseg_ddrnet.registry import MODELS
    base = dict(type='FCNHead', in_channels=8, channels=4, num_classes=2)
    head, plain = MODELS.build(dict(base, conv_cfg=conv_cfg)), MODELS.build(base)
    shapes = {k: v.shape for k, v in head.state_dict().items()}
    assert shapes == {k: v.shape for k, v in plain.state_dict().items()}
    assert type(head.conv_seg) is torch.nn.Conv2d and type(head.convs[0].conv) is torch.nn.Conv2d
