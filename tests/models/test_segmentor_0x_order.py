"""Test-time label maps equal mmseg 0.x's, whose order of resizes is re-implemented literally below.

0.x (``mmseg/models/segmentors/encoder_decoder.py``, v0.30.0): ``encode_decode`` resizes the head's logits to the
input size; ``whole_inference``/``slide_inference`` with ``rescale`` crop the padding (``img_shape``) and resize
to ``ori_shape``; ``inference`` takes the softmax and undoes the flip; ``simple_test`` argmaxes; ``aug_test``
sums the augmentations' probabilities, divides by their number and argmaxes.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg_ddrnet import ops
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.models.segmentors import encoder_decoder

from ddrnet_test_cfgs import slim_cfg

SLIDE = dict(mode='slide', crop_size=(32, 40), stride=(16, 24))


# ------------------------------------------------------------------ mmseg 0.x, literally (pure F.interpolate)
def _resize(x, size, align_corners):
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=align_corners)


def _0x_encode_decode(model, img):
    return _resize(model.decode_logits(img), img.shape[2:], model.align_corners)


def _0x_rescale(seg, meta, align_corners):
    h, w = meta['img_shape'][:2]
    return _resize(seg[:, :, :h, :w], meta['ori_shape'][:2], align_corners)


def _0x_slide(model, img):
    (h_crop, w_crop), (h_stride, w_stride) = SLIDE['crop_size'], SLIDE['stride']
    n, _, h_img, w_img = img.shape
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    preds = img.new_zeros((n, model.num_classes, h_img, w_img))
    count = img.new_zeros((n, 1, h_img, w_img))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2, x2 = min(h_idx * h_stride + h_crop, h_img), min(w_idx * w_stride + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            crop_seg = _0x_encode_decode(model, img[:, :, y1:y2, x1:x2])
            preds += F.pad(crop_seg, (x1, preds.shape[3] - x2, y1, preds.shape[2] - y2))
            count[:, :, y1:y2, x1:x2] += 1
    return preds / count


def _0x_inference(model, img, metas, rescale):
    seg = _0x_slide(model, img) if model.test_cfg['mode'] == 'slide' else _0x_encode_decode(model, img)
    if rescale:
        seg = _0x_rescale(seg, metas[0], model.align_corners)
    out = F.softmax(seg, dim=1)
    if metas[0]['flip']:
        out = out.flip(dims=(3,) if metas[0]['flip_direction'] == 'horizontal' else (2,))
    return out


def _0x_simple_test(model, img, metas, rescale=True):
    return list(_0x_inference(model, img, metas, rescale).argmax(dim=1).numpy())


def _0x_aug_test(model, imgs, metas):
    seg = _0x_inference(model, imgs[0], metas[0], True)
    for img, meta in zip(imgs[1:], metas[1:]):
        seg += _0x_inference(model, img, meta, True)
    seg /= len(imgs)
    return list(seg.argmax(dim=1).numpy())


# --------------------------------------------------------------------------------------------------- tests
def _meta(ori, img=None, pad=None, flip=False, direction='horizontal'):
    img = img or ori
    return dict(ori_shape=(*ori, 3), img_shape=(*img, 3), pad_shape=(*(pad or img), 3), flip=flip,
                flip_direction=direction, scale_factor=1.0)


INPUT = (48, 64)
METAS = {
    'input=ori': _meta(INPUT),                                       # one fused pass
    'upscaled': _meta((120, 160), img=INPUT),                        # the pipeline shrank the image
    'downscaled': _meta((30, 43), img=INPUT),                        # the pipeline enlarged the image
    'resized+padded': _meta((100, 150), img=(40, 60), pad=INPUT),    # img_shape < pad shape
    'padded only': _meta((45, 59), img=(45, 59), pad=INPUT),         # size_divisor padding, no resize
    'hflip': _meta((120, 160), img=INPUT, flip=True),
    'vflip+padded': _meta((100, 150), img=(40, 60), pad=INPUT, flip=True, direction='vertical'),
}


def _build(mode: str, align_corners: bool = False):
    torch.manual_seed(0)
    cfg = slim_cfg(num_classes=5, aux=False, align_corners=align_corners)
    if mode == 'slide':
        cfg['test_cfg'] = dict(SLIDE)
    return build_segmentor(cfg).eval()


@pytest.fixture(scope='module', params=[('whole', False), ('slide', False), ('whole', True), ('slide', True)],
                ids=['whole', 'slide', 'whole-align', 'slide-align'])
def model(request):
    """A segmentor whose network is a cheap stand-in: a fixed 1x1 projection of the 8x8-pooled image (the
    head's 1/8 logits); the test-time code around it is the real one."""
    m = _build(*request.param)
    weight = torch.randn(5, 3, 1, 1, generator=torch.Generator().manual_seed(0)) * 4
    m.decode_logits = lambda img, img_metas=None: F.conv2d(F.avg_pool2d(img, 8, ceil_mode=True), weight)
    return m


@pytest.fixture(params=[True, False], ids=['ext', 'reference'])
def use_ext(request):
    with ops.use_ext(request.param):
        yield


def _assert_labels_equal(ours, expected):
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        assert a.dtype == np.int64 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@torch.no_grad()
@pytest.mark.parametrize('rescale', [True, False], ids=['rescale', 'no-rescale'])
@pytest.mark.parametrize('case', list(METAS))
def test_simple_test_labels_equal_0x(model, use_ext, case, rescale):
    torch.manual_seed(1)
    img, metas = torch.randn(2, 3, *INPUT), [METAS[case]] * 2
    _assert_labels_equal(model.simple_test(img, metas, rescale=rescale), _0x_simple_test(model, img, metas, rescale))


@torch.no_grad()
@pytest.mark.parametrize('case', ['upscaled', 'resized+padded', 'hflip'])
def test_inference_probabilities_equal_0x(model, case):
    torch.manual_seed(2)
    img, metas = torch.randn(1, 3, *INPUT), [METAS[case]]
    torch.testing.assert_close(model.inference(img, metas, rescale=True), _0x_inference(model, img, metas, True),
                               rtol=0, atol=0)


@torch.no_grad()
@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_the_real_network_gives_0x_labels(mode):
    torch.manual_seed(4)
    model, img, metas = _build(mode), torch.randn(1, 3, *INPUT), [METAS['vflip+padded']]
    _assert_labels_equal(model.simple_test(img, metas), _0x_simple_test(model, img, metas))


@torch.no_grad()
def test_aug_test_over_scales_and_flips_equals_0x(model, use_ext):
    torch.manual_seed(3)
    ori, imgs, metas = (60, 80), [], []
    for size in ((32, 40), (48, 64)):
        base = torch.randn(1, 3, *size)
        for flip in (False, True):
            imgs.append(base.flip(3) if flip else base)
            metas.append([_meta(ori, img=size, flip=flip)])
    _assert_labels_equal(model.forward_test(imgs, metas), _0x_aug_test(model, imgs, metas))


def _collapsing_pair(n: int):
    """Adjacent float32 values a < b with a / n == b / n (0.x's division by the number of augmentations ties them)."""
    for b in torch.linspace(0.5, 1.0, 4097):
        a = torch.nextafter(b, torch.tensor(0.0))
        if a / n == b / n:
            return float(a), float(b)
    raise AssertionError('no pair found')


def test_aug_test_divides_the_summed_probabilities_by_the_number_of_augmentations(model, monkeypatch):
    a, b = _collapsing_pair(3)
    outputs = iter([torch.tensor([a, b]).view(1, 2, 1, 1)] + [torch.zeros(1, 2, 1, 1)] * 2)
    monkeypatch.setattr(model, 'inference', lambda img, metas, rescale=True: next(outputs))
    # sum (a, b) / 3 ties: argmax takes the first class, as 0.x; the undivided sum would give class 1
    assert model.aug_test([torch.zeros(1, 3, 8, 8)] * 3, [[_meta((1, 1))]] * 3)[0].item() == 0


@torch.no_grad()
@pytest.mark.parametrize('case,fused_input', [('input=ori', 'head'), ('padded only', (45, 59)),
                                              ('upscaled', INPUT), ('resized+padded', (40, 60))])
def test_the_last_resize_is_fused_with_the_argmax(model, monkeypatch, case, fused_input):
    """No full-size logits at ori_shape; input size == ori_shape: one fused pass from the head's logits."""
    seen = []

    def spy(logits, size, align_corners=False):
        seen.append((tuple(logits.shape[2:]), tuple(size)))
        return ops.resize_argmax(logits, size, align_corners)

    monkeypatch.setattr(encoder_decoder, 'resize_argmax', spy)
    meta = METAS[case]
    model.simple_test(torch.randn(1, 3, *INPUT), [meta])
    head = INPUT if model.test_cfg['mode'] == 'slide' else (INPUT[0] // 8, INPUT[1] // 8)
    assert seen == [(head if fused_input == 'head' else fused_input, meta['ori_shape'][:2])]
