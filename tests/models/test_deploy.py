"""The deploy model: BatchNorm folding (``fuse``), ``prepare_for_inference`` (precision, layout)."""
import copy
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmseg_ddrnet.models import build_segmentor, prepare_for_inference
from mmseg_ddrnet.models.utils import ConvModule
from mmseg_ddrnet.models.utils.fuse import DeployConv2d, fold_bn_into_conv, fuse_conv_bn
from mmseg_ddrnet.utils import ConfigError

from ddrnet_test_cfgs import slim_cfg

SIZES = {'23-slim': dict(channels=32), '23': dict(channels=64), '39': dict(channels=64, layers=(3, 4, 6, 3))}


def _model(size: str, num_classes: int = 5, seed: int = 0) -> nn.Module:
    """A DDRNet with random BatchNorm statistics and affines (fresh ones are nearly the identity)."""
    torch.manual_seed(seed)
    cfg = slim_cfg(num_classes=num_classes)
    cfg['backbone'].update(SIZES[size])
    c = cfg['backbone']['channels']
    cfg['decode_head'].update(in_channels=4 * c, channels=2 * c)
    cfg['auxiliary_head'].update(in_channels=2 * c, channels=2 * c)
    model = build_segmentor(cfg)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


def _metas(n, h, w):
    return [dict(ori_shape=(h, w, 3), img_shape=(h, w, 3), pad_shape=(h, w, 3), flip=False, scale_factor=1.0)
            for _ in range(n)]


def _count_bn(module: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in module.modules())


@pytest.mark.parametrize('size', list(SIZES))
def test_fused_logits_equal_unfused(size):
    model = _model(size)
    img = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ref = model.forward_dummy(img)
        bn_before = _count_bn(model.backbone) + _count_bn(model.decode_head)
        assert model.fuse() is model
        fused = model.forward_dummy(img)
    # only pre-activation norms (DAPPM: 5 scales + 4 processes + compression + shortcut; head: 1) remain
    assert _count_bn(model.backbone) + _count_bn(model.decode_head) == 12 < bn_before
    assert model.auxiliary_head is None and not model.training
    diff = (fused - ref).abs().max() / ref.abs().max()
    assert diff <= 1e-5, f'DDRNet-{size}: fused logits differ by {diff:.2e} of the largest logit'


def test_fuse_folds_conv_bn_pairs_and_refuses_training():
    model = _model('23-slim')
    folded = fuse_conv_bn(model.backbone)
    # stem 11 (2 convs, 4 in layer 1, 4 + a projection in layer 2), stages 3 and 4: 9 each, stage 5: 8
    # (two bottlenecks with projections), fusions 5 (2 compressions, 1 + 2 down convs)
    assert folded == 42
    assert fuse_conv_bn(model.decode_head) == 1
    with pytest.raises(ConfigError, match='fused'):
        model.fuse().train()


def test_fold_bn_into_conv_matches_eval_bn():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(4, 6, 3, padding=1, bias=True), nn.BatchNorm2d(6).eval()
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.1, 3)
    x = torch.randn(2, 4, 9, 7)
    torch.testing.assert_close(fold_bn_into_conv(conv, bn)(x), bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_pre_activation_norm_is_kept():
    m = ConvModule(4, 4, 3, padding=1, norm_cfg=dict(type='BN'), order=('norm', 'act', 'conv'))
    assert fuse_conv_bn(m) == 0 and m.with_norm


def test_bf16_model_returns_float32_logits_close_to_fp32():
    model = _model('23-slim')
    img = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref = model.forward_dummy(img)
        ref_labels = model.simple_test(img, _metas(1, 64, 96))[0]
        prepare_for_inference(model, precision='bf16', fuse_conv_bn=True)
        out = model.forward_dummy(img)
        labels = model.simple_test(img, _metas(1, 64, 96))[0]
    assert next(model.parameters()).dtype == torch.bfloat16 and out.dtype == torch.float32
    assert model.backbone.stem[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert ((out - ref).abs().max() / ref.abs().max()).item() < 0.1
    assert labels.dtype == np.int64 and (labels == ref_labels).mean() > 0.9


def test_prepare_for_inference_rejects_bad_arguments():
    model = _model('23-slim')
    with pytest.raises(ConfigError, match='precision'):
        prepare_for_inference(model, precision='int8')
    with pytest.raises(ConfigError, match='memory_format'):
        prepare_for_inference(model, memory_format='nhwc')
    with pytest.raises(ConfigError, match='fp16 is for CUDA'):
        prepare_for_inference(model, precision='fp16')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_fp16_deploy_model_on_cuda():
    model = _model('23-slim').cuda()
    img = torch.randn(1, 3, 128, 256, device='cuda')
    with torch.no_grad():
        ref = model.predict_labels(img)
        prepare_for_inference(model, precision='fp16', fuse_conv_bn=True)
        labels = model.predict_labels(img)
        logits = model.forward_dummy(img)
    assert next(model.parameters()).dtype == torch.float16 and logits.dtype == torch.float32
    assert labels.shape == ref.shape and (labels == ref).float().mean().item() > 0.9


# ------------------------------------------------------------------------------ DeployConv2d
def _reference(conv: nn.Conv2d, x: torch.Tensor, relu: bool) -> torch.Tensor:
    out = nn.functional.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    return out.relu() if relu else out


@pytest.mark.parametrize('activation', ['none', 'relu'])
def test_deploy_conv_equals_conv_and_caches_its_packed_weight_per_shape(activation):
    torch.manual_seed(0)
    conv = DeployConv2d.from_conv(nn.Conv2d(8, 16, 3, stride=2, padding=1), activation)
    with torch.no_grad():
        for shape in ((1, 8, 20, 30), (1, 8, 20, 30), (2, 8, 11, 17)):
            x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(conv(x), _reference(conv, x, activation == 'relu'), rtol=1e-5, atol=1e-5)
    assert len(conv._packed) == (2 if hasattr(torch.ops.mkldnn, '_reorder_convolution_weight') else 0)


def test_deploy_conv_sees_new_weights_after_load_state_dict_and_casts():
    torch.manual_seed(0)
    conv = DeployConv2d.from_conv(nn.Conv2d(8, 8, 3, padding=1), 'relu')
    x = torch.randn(1, 8, 16, 16).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        conv(x)
        other = nn.Conv2d(8, 8, 3, padding=1)
        conv.load_state_dict(other.state_dict())  # in place: a stale packed weight would give other results
        torch.testing.assert_close(conv(x), _reference(other, x, True), rtol=1e-5, atol=1e-5)
        conv.to(torch.float64)
        assert not conv._packed
        torch.testing.assert_close(conv(x.double()), _reference(other.double(), x.double(), True))


def test_fused_model_runs_every_conv_as_deploy_conv_and_copies_cleanly():
    model = _model('23-slim')
    img = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref = model.forward_dummy(img)
        model.fuse()
        fused = model.forward_dummy(img)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        assert convs and all(type(m) is DeployConv2d for m in convs)
        assert sum(m.activation == 'relu' for m in convs) == 19  # every conv → BN → ReLU of the backbone
        twin = copy.deepcopy(model)
        assert all(not m._packed for m in twin.modules() if isinstance(m, DeployConv2d))
        torch.testing.assert_close(twin.forward_dummy(img), fused)
        restored = pickle.loads(pickle.dumps(model))
        torch.testing.assert_close(restored.forward_dummy(img), fused)
    assert ((fused - ref).abs().max() / ref.abs().max()).item() <= 1e-5
