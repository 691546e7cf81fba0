"""EncoderDecoder: training losses, test-time resizing/padding/flip/multi-scale, slide inference, config errors."""
import numpy as np
import pytest
import torch

from mmseg_ddrnet.models import build_segmentor, parse_losses
from mmseg_ddrnet.utils import ConfigError, DataError, RegistryError

from ddrnet_test_cfgs import slim_cfg


def _meta(ori, img=None, pad=None, flip=False, direction='horizontal'):
    img = img or ori
    return dict(ori_shape=(*ori, 3), img_shape=(*img, 3), pad_shape=(*(pad or img), 3), flip=flip,
                flip_direction=direction, scale_factor=1.0, filename='x.png', ori_filename='x.png')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_segmentor(slim_cfg(num_classes=5)).eval()


def _train(model, n=2, size=(48, 64), num_classes=5):
    model.train()
    gt = torch.randint(0, num_classes, (n, 1, *size))
    gt[:, :, :4] = 255
    return model(torch.randn(n, 3, *size), [{}] * n, gt_semantic_seg=gt)


def test_forward_train_loss_names_with_and_without_aux():
    with_aux = _train(build_segmentor(slim_cfg()))
    assert sorted(with_aux) == ['aux.acc_seg', 'aux.loss_ce', 'decode.acc_seg', 'decode.loss_ce']
    without = _train(build_segmentor(slim_cfg(aux=False)))
    assert sorted(without) == ['decode.acc_seg', 'decode.loss_ce']
    cfg = slim_cfg()
    cfg['auxiliary_head'] = [cfg['auxiliary_head'], dict(cfg['auxiliary_head'], loss_decode=dict(
        type='OhemCrossEntropy', thres=0.9, min_kept=100, loss_weight=0.4))]
    assert sorted(_train(build_segmentor(cfg))) == ['aux_0.acc_seg', 'aux_0.loss_ce', 'aux_1.acc_seg',
                                                    'aux_1.loss_ohem', 'decode.acc_seg', 'decode.loss_ce']


def test_aux_loss_weight_scales_the_aux_loss():
    torch.manual_seed(0)
    cfg = slim_cfg()
    cfg['auxiliary_head']['loss_decode'] = [dict(type='CrossEntropyLoss', loss_weight=0.4),
                                            dict(type='CrossEntropyLoss', loss_weight=0.6)]
    m = build_segmentor(cfg)
    torch.manual_seed(1)
    losses = _train(m)
    m.auxiliary_head.loss_decode = m.auxiliary_head.loss_decode[:1]
    m.auxiliary_head.loss_decode[0].loss_weight = 1.0
    torch.manual_seed(1)
    single = _train(m)
    assert losses['aux.loss_ce'].item() == pytest.approx(single['aux.loss_ce'].item(), rel=1e-5)


def test_mmseg1x_ddrhead_config_becomes_decode_plus_aux_head():
    ohem = dict(type='OhemCrossEntropy', thres=0.9, min_kept=1000)
    cfg = dict(type='EncoderDecoder', data_preprocessor=dict(type='SegDataPreProcessor'),
               backbone=dict(type='DDRNet', in_channels=3, channels=32, ppm_channels=128, align_corners=False),
               decode_head=dict(type='DDRHead', in_channels=128, channels=64, dropout_ratio=0., num_classes=5,
                                loss_decode=[ohem, dict(ohem, loss_weight=0.4)]),
               train_cfg=dict(), test_cfg=dict(mode='whole'))
    m = build_segmentor(cfg)
    assert m.auxiliary_head.in_channels == 64 and m.auxiliary_head.in_index == 0
    assert m.auxiliary_head.loss_decode[0].loss_weight == 0.4
    assert sorted(_train(m)) == ['aux.acc_seg', 'aux.loss_ohem', 'decode.acc_seg', 'decode.loss_ohem']


def test_train_step_and_parse_losses():
    m = build_segmentor(slim_cfg())
    batch = dict(img=torch.randn(2, 3, 32, 32), img_metas=[{}, {}], gt_semantic_seg=torch.randint(0, 5, (2, 1, 32, 32)))
    out = m.train_step(batch, None)
    assert out['num_samples'] == 2 and out['loss'].requires_grad
    assert out['log_vars']['loss'] == pytest.approx(out['log_vars']['decode.loss_ce'] + out['log_vars']['aux.loss_ce'])
    loss, log_vars = parse_losses({'decode.loss_a': torch.tensor([1.0, 3.0]), 'decode.acc_seg': torch.tensor(50.0),
                                   'aux.loss_b': [torch.tensor(1.0), torch.tensor([2.0, 4.0])]})
    assert loss.item() == 6.0
    assert dict(log_vars) == {'decode.loss_a': 2.0, 'decode.acc_seg': 50.0, 'aux.loss_b': 4.0, 'loss': 6.0}


def test_aux_head_is_not_run_at_test_time(model):
    calls = []
    handle = model.auxiliary_head.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        model.simple_test(torch.randn(1, 3, 32, 32), [_meta((32, 32))])
    handle.remove()
    assert calls == []


@torch.no_grad()
def test_forward_dummy_and_encode_decode_are_at_input_size(model):
    assert model.forward_dummy(torch.randn(1, 3, 37, 45)).shape == (1, 5, 37, 45)


@torch.no_grad()
@pytest.mark.parametrize('meta', [
    _meta((48, 64)),                                   # nothing to undo
    _meta((120, 160), img=(48, 64)),                   # resized by the pipeline
    _meta((100, 150), img=(40, 60), pad=(48, 64)),     # resized and padded
])
def test_simple_test_matches_the_probability_path(model, meta):
    img = torch.randn(2, 3, 48, 64)
    metas = [meta, meta]
    labels = model.simple_test(img, metas)
    probs = model.inference(img, metas, rescale=True)
    assert [l.shape for l in labels] == [meta['ori_shape'][:2]] * 2 and labels[0].dtype == np.int64
    # both resize as mmseg 0.x (to the input size, crop, to ori_shape); the fast path fuses the last resize
    for label, prob in zip(labels, probs.argmax(1).numpy()):
        np.testing.assert_array_equal(label, prob)


@torch.no_grad()
def test_simple_test_per_image_sizes_and_rescale_false(model):
    img = torch.randn(2, 3, 48, 64)
    labels = model.simple_test(img, [_meta((96, 128)), _meta((30, 40), img=(24, 32), pad=(48, 64))])
    assert [l.shape for l in labels] == [(96, 128), (30, 40)]
    assert [l.shape for l in model.simple_test(img, [_meta((96, 128))] * 2, rescale=False)] == [(48, 64)] * 2


@torch.no_grad()
@pytest.mark.parametrize('direction,axis', [('horizontal', 1), ('vertical', 0)])
def test_flip_is_undone(model, direction, axis):
    img = torch.randn(1, 3, 40, 56)
    plain = model.simple_test(img, [_meta((80, 112))])[0]
    flipped = model.simple_test(img, [_meta((80, 112), flip=True, direction=direction)])[0]
    np.testing.assert_array_equal(flipped, np.flip(plain, axis))


@torch.no_grad()
def test_aug_test_over_scales_and_flips(model):
    ori = (60, 80)
    imgs, metas = [], []
    for scale in (0.5, 1.0):
        h, w = int(ori[0] * scale), int(ori[1] * scale)
        base = torch.randn(2, 3, h, w)
        for flip in (False, True):
            imgs.append(base.flip(3) if flip else base)
            metas.append([_meta(ori, img=(h, w), flip=flip)] * 2)
    out = model.forward_test(imgs, metas)
    assert len(out) == 2 and all(o.shape == ori and o.dtype == np.int64 for o in out)
    # one augmentation: aug_test's averaged probabilities give the same maps as the simple test
    single = model.aug_test(imgs[2:3] * 2, metas[2:3] * 2)
    np.testing.assert_array_equal(single[0], model.simple_test(imgs[2], metas[2])[0])


@torch.no_grad()
@pytest.mark.parametrize('crop', [(48, 64), (64, 96)])
def test_slide_equals_whole_when_the_crop_covers_the_image(crop):
    torch.manual_seed(0)
    whole = build_segmentor(slim_cfg()).eval()
    slide = build_segmentor(dict(slim_cfg(), test_cfg=dict(mode='slide', crop_size=crop, stride=(16, 16)))).eval()
    slide.load_state_dict(whole.state_dict())
    img, metas = torch.randn(1, 3, 48, 64), [_meta((96, 128))]
    torch.testing.assert_close(slide.inference(img, metas), whole.inference(img, metas))
    np.testing.assert_array_equal(slide.simple_test(img, metas)[0], whole.simple_test(img, metas)[0])


@torch.no_grad()
def test_slide_averages_overlapping_windows():
    m = build_segmentor(dict(slim_cfg(), test_cfg=dict(mode='slide', crop_size=32, stride=16))).eval()
    m.encode_decode = lambda img, metas: torch.ones(img.shape[0], 5, *img.shape[2:])  # count-independent logits
    logits = m.slide_inference(torch.randn(1, 3, 48, 64), [_meta((48, 64))], rescale=False)
    torch.testing.assert_close(logits, torch.ones(1, 5, 48, 64))


@pytest.mark.parametrize('change,error,match', [
    (dict(decode_head=dict(num_classes='19')), ConfigError, "num_classes must be an int > 0, got str '19'"),
    (dict(decode_head=dict(num_classes=0)), ConfigError, 'num_classes'),
    (dict(decode_head=dict(chanels=64)), ConfigError, 'chanels'),
    (dict(decode_head=dict(sampler=dict(type='OHEMPixelSampler', min_kept=1))), ConfigError, 'min_kept'),
    (dict(decode_head=dict(in_index=[0, 1])), ConfigError, 'in_index must be an int'),
    (dict(decode_head=dict(input_transform='concat')), ConfigError, 'input_transform'),
    (dict(decode_head=dict(loss_decode='ce')), ConfigError, 'loss_decode'),
    (dict(decode_head=dict(loss_decode=dict(type='DiceLos'))), RegistryError, 'DiceLos'),
    (dict(decode_head=dict(dropout_ratio=1.5)), ConfigError, 'dropout_ratio'),
    (dict(backbone=dict(type='DDRNet', chanels=32)), ConfigError, 'chanels'),
    (dict(test_cfg=dict(mode='sliding')), ConfigError, 'mode'),
    (dict(test_cfg=dict(mode='slide', crop_size=(512, 512))), ConfigError, 'stride'),
    (dict(test_cfg=dict(mode=1)), ConfigError, "test_cfg: mode must be one of 'whole', 'slide', got int 1"),
    (dict(init_cfg=dict(type='Pretrained')), ConfigError,
     "EncoderDecoder: init_cfg Pretrained: .*missing 1 required positional argument: 'checkpoint'"),
    (dict(init_cfg=dict(type='Pretrained', checkpoint=['a.pth'])), ConfigError,
     'init_cfg Pretrained: checkpoint must be a str'),
    (dict(train_cfg='{}'), ConfigError, "EncoderDecoder: train_cfg must be a dict or None, got str '{}'"),
    (dict(test_cfg='{}'), ConfigError, "EncoderDecoder: test_cfg must be a dict or None, got str '{}'"),
    (dict(backbone='DDRNet'), ConfigError, 'EncoderDecoder: backbone must be a dict with a "type" key'),
    (dict(decode_head=None), ConfigError, 'EncoderDecoder: decode_head must be a dict with a "type" key'),
    (dict(neck=[]), ConfigError, 'EncoderDecoder: neck must be a dict with a "type" key or None'),
    (dict(pretrained=1), ConfigError, 'EncoderDecoder: pretrained must be a str or None, got int 1'),
    (dict(memory_format=None), ConfigError, "memory_format must be one of 'auto'"),
    (dict(decode_head=dict(loss_decode=dict(type='CrossEntropyLoss', loss_weight='1.0'))), ConfigError,
     'CrossEntropyLoss: loss_weight must be a number'),
    (dict(decode_head=dict(loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore='True'))), ConfigError,
     'CrossEntropyLoss: avg_non_ignore must be a bool'),
    (dict(decode_head=dict(loss_decode=dict(type='OhemCrossEntropy', thres='0.7'))), ConfigError,
     'OhemCrossEntropy: thres must be a number'),
    (dict(decode_head=dict(loss_decode=dict(type='OhemCrossEntropy', ignore_label='255'))), ConfigError,
     'OhemCrossEntropy: ignore_label must be an int'),
    (dict(decode_head=dict(sampler=dict(type='OHEMPixelSampler', thresh='0.7'))), ConfigError,
     'OHEMPixelSampler: thresh must be a number'),
    (dict(auxiliary_head='DDRHead'), ConfigError, 'auxiliary_head'),
])
def test_bad_segmentor_configs_are_clear_errors(change, error, match):
    cfg = slim_cfg()
    for key, value in change.items():
        cfg[key] = dict(cfg[key], **value) if key == 'decode_head' and isinstance(value, dict) else value
    with pytest.raises(error, match=match):
        build_segmentor(cfg)


def test_bad_test_inputs_are_data_errors(model):
    with pytest.raises(DataError, match='augmentation'):
        model.forward_test([torch.randn(1, 3, 32, 32)] * 2, [[_meta((32, 32))]])
    with pytest.raises(DataError, match='ori_shape'):
        model.forward_test([torch.randn(1, 3, 32, 32)] * 2, [[_meta((32, 32))], [_meta((64, 64))]])
    with pytest.raises(DataError, match='meta'):
        model.forward_test([torch.randn(2, 3, 32, 32)], [[_meta((32, 32))]])


def test_missing_meta_shapes_are_data_errors(model):
    with pytest.raises(DataError, match='ori_shape'):
        model.simple_test(torch.randn(1, 3, 32, 32), [dict(img_shape=(32, 32, 3))])


@pytest.mark.slow  # float64 convolutions: ~20-45 s on 2 shared AMD EPYC cores
def test_memory_format_channels_last_matches_nchw_and_reaches_the_backbone():
    """Same logits, loss and gradients in NHWC as in NCHW; in float64, where only the summation order differs."""
    torch.manual_seed(0)
    cfg = slim_cfg(num_classes=5)
    nchw = build_segmentor(dict(cfg, memory_format='contiguous')).double().eval()
    seen = {}
    for fmt in ('auto', 'channels_last'):
        model = build_segmentor(dict(cfg, memory_format=fmt)).double().eval()
        model.load_state_dict(nchw.state_dict())
        hook = model.backbone.register_forward_pre_hook(
            lambda mod, args: seen.__setitem__(fmt, args[0].is_contiguous(memory_format=torch.channels_last)))
        img = torch.randn(2, 3, 64, 96, dtype=torch.float64)
        with torch.no_grad():
            torch.testing.assert_close(model.forward_dummy(img), nchw.forward_dummy(img), rtol=1e-10, atol=1e-10)
        hook.remove()
    assert seen == {'auto': True, 'channels_last': True}  # 'auto' picks NHWC for CPU inference
    model.train()
    model.backbone.register_forward_pre_hook(lambda mod, args: seen.__setitem__('train', args[0].is_contiguous(
        memory_format=torch.channels_last)))
    auto = build_segmentor(dict(cfg, memory_format='auto')).train()
    auto.backbone.register_forward_pre_hook(lambda mod, args: seen.__setitem__('auto train', args[0].is_contiguous(
        memory_format=torch.channels_last)))
    auto(torch.randn(2, 3, 64, 96), [{}] * 2, gt_semantic_seg=torch.zeros(2, 1, 64, 96, dtype=torch.long))
    nchw.train()
    gt = torch.randint(0, 5, (2, 1, 64, 96))
    img = torch.randn(2, 3, 64, 96, dtype=torch.float64)
    a = sum(v for k, v in model(img, [{}] * 2, gt_semantic_seg=gt).items() if 'loss' in k)
    b = sum(v for k, v in nchw(img, [{}] * 2, gt_semantic_seg=gt).items() if 'loss' in k)
    a.backward()
    b.backward()
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    # every gradient, against the global gradient norm: some (a BN bias before another train-mode BN) are zero
    # up to rounding. Measured (AMD EPYC, float64): max |ga - gb| / total = 4.7e-12; bound 1e-9.
    total = torch.sqrt(sum(p.grad.pow(2).sum() for p in nchw.parameters()))
    for name, param in nchw.named_parameters():
        assert (model.get_parameter(name).grad - param.grad).norm() <= 1e-9 * total, name
    assert seen['train'] and not seen['auto train']  # training keeps NCHW unless channels_last is asked for


def test_memory_format_must_be_known():
    with pytest.raises(ConfigError, match="memory_format must be one of .*'nhwc'"):
        build_segmentor(dict(slim_cfg(), memory_format='nhwc'))
