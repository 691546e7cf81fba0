"""Transforms against hand-computed expectations."""
import cv2
import numpy as np
import pytest
import torch

from mmseg_ddrnet.datasets.pipelines import (Collect, Compose, DefaultFormatBundle, ImageToTensor, MultiScaleFlipAug,
                                             Normalize, Pad, PhotoMetricDistortion, RandomCrop, RandomFlip, Resize)
from mmseg_ddrnet.datasets.pipelines.formatting import DEFAULT_META_KEYS
from mmseg_ddrnet.utils import ConfigError


def sample(h=20, w=40, seg=None):
    img = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    seg = np.arange(h * w).reshape(h, w).astype(np.uint8) % 5 if seg is None else seg
    return dict(img=img, gt_semantic_seg=seg, seg_fields=['gt_semantic_seg'], img_shape=img.shape,
                ori_shape=img.shape, pad_shape=img.shape, scale_factor=1.0, filename='a.png', ori_filename='a.png',
                img_norm_cfg=dict(mean=np.zeros(3), std=np.ones(3), to_rgb=False))


def test_resize_keep_ratio_fits_long_and_short_edge():
    # 20x40 (h x w) into (long 100, short 30): factor min(100/40, 30/20) = 1.5 -> 30x60
    s = sample()
    img, seg = s['img'].copy(), s['gt_semantic_seg'].copy()
    out = Resize(img_scale=(100, 30), keep_ratio=True)(s)
    assert out['img'].shape == (30, 60, 3) and out['gt_semantic_seg'].shape == (30, 60)
    # mmcv.imresize: cv2 bilinear for the image, nearest for the label map
    np.testing.assert_array_equal(out['img'], cv2.resize(img, (60, 30), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_array_equal(out['gt_semantic_seg'], cv2.resize(seg, (60, 30), interpolation=cv2.INTER_NEAREST))
    assert out['scale'] == (100, 30) and out['keep_ratio'] is True
    np.testing.assert_allclose(out['scale_factor'], [1.5] * 4)
    assert out['img_shape'] == out['pad_shape'] == (30, 60, 3)


def test_resize_rounds_like_mmcv():
    # factor = min(64/40, 64/20)=1.6 -> w = int(40*1.6+.5)=64, h=int(20*1.6+.5)=32
    out = Resize(img_scale=(64, 64))(sample())
    assert out['img'].shape[:2] == (32, 64)


def test_resize_no_keep_ratio_is_exact_w_h():
    out = Resize(img_scale=(30, 10), keep_ratio=False)(sample())
    assert out['img'].shape == (10, 30, 3)
    np.testing.assert_allclose(out['scale_factor'], [30 / 40, 10 / 20] * 2)


def test_resize_seg_is_nearest():
    seg = np.array([[0, 1], [2, 3]], np.uint8)
    s = sample(2, 2, seg)
    out = Resize(img_scale=(4, 4), keep_ratio=False)(s)
    np.testing.assert_array_equal(out['gt_semantic_seg'], np.kron(seg, np.ones((2, 2), np.uint8)))


def test_resize_ratio_range_draws_from_numpy_rng():
    np.random.seed(3)
    ratio = np.random.random_sample() * (2.0 - 0.5) + 0.5
    np.random.seed(3)
    out = Resize(img_scale=(80, 40), ratio_range=(0.5, 2.0))(sample())
    assert out['scale'] == (int(80 * ratio), int(40 * ratio))


def test_resize_multiscale_value_and_range():
    np.random.seed(0)
    scales = {Resize(img_scale=[(40, 20), (80, 40)], multiscale_mode='value')(sample())['scale'] for _ in range(20)}
    assert scales == {(40, 20), (80, 40)}
    for _ in range(10):
        long_edge, short_edge = Resize(img_scale=[(40, 20), (80, 40)], multiscale_mode='range')(sample())['scale']
        assert 40 <= long_edge <= 80 and 20 <= short_edge <= 40


def test_resize_bad_config():
    with pytest.raises(ConfigError):
        Resize(img_scale=[(1, 2), (3, 4)], ratio_range=(0.5, 2))
    with pytest.raises(ConfigError):
        Resize(img_scale=(1, 2), multiscale_mode='bogus')


def test_random_crop_shapes_and_alignment():
    np.random.seed(0)
    y, x = np.random.randint(0, 20 - 8 + 1), np.random.randint(0, 40 - 16 + 1)
    np.random.seed(0)
    s = sample()
    img0, seg0 = s['img'].copy(), s['gt_semantic_seg'].copy()
    out = RandomCrop((8, 16))(s)
    assert out['img'].shape == (8, 16, 3) and out['img_shape'] == (8, 16, 3)
    np.testing.assert_array_equal(out['img'], img0[y:y + 8, x:x + 16])
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg0[y:y + 8, x:x + 16])


def test_random_crop_larger_than_image_keeps_image():
    out = RandomCrop((50, 50))(sample())
    assert out['img'].shape == (20, 40, 3)


def test_random_crop_cat_max_ratio_rejects_dominated_windows():
    # Left half all class 1; right half alternating 0/2 columns: a 10x10 window is accepted only when
    # no class covers >= 0.75 of its labelled pixels, i.e. it must reach well into the right half.
    seg = np.ones((10, 40), np.uint8)
    seg[:, 20:] = np.tile([0, 2], 10)
    accepted = 0
    for seed in range(30):
        np.random.seed(seed)
        out = RandomCrop((10, 10), cat_max_ratio=0.75)(sample(10, 40, seg.copy()))
        counts = np.bincount(out['gt_semantic_seg'].ravel(), minlength=3)
        accepted += counts.max() / counts.sum() < 0.75
    assert accepted == 30  # 10 tries per sample: a non-dominated window is always found here


def test_random_crop_cat_max_ratio_ignores_ignore_index():
    seg = np.full((10, 10), 255, np.uint8)
    seg[0, 0] = 1
    seg[0, 1] = 2
    np.random.seed(0)
    rc = RandomCrop((10, 10), cat_max_ratio=0.75)
    assert not rc._dominated(seg)  # 1 and 2 each 50% of labelled pixels
    seg[0, 2] = 1
    seg[0, 3] = 1
    assert rc._dominated(seg)  # class 1 is 75%


def test_random_flip_flips_img_and_seg_together():
    s = sample()
    img0, seg0 = s['img'].copy(), s['gt_semantic_seg'].copy()
    out = RandomFlip(prob=1.0)(s)
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(out['img'], img0[:, ::-1])
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg0[:, ::-1])
    out = RandomFlip(prob=1.0, direction='vertical')(sample())
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg0[::-1])
    out = RandomFlip(prob=0.0)(sample())
    assert out['flip'] is False
    np.testing.assert_array_equal(out['img'], img0)


def test_normalize_matches_formula():
    s = sample(2, 3)
    img0 = s['img'].astype(np.float64)
    out = Normalize(mean=[1, 2, 3], std=[2, 4, 8], to_rgb=True)(s)
    expected = (img0[..., ::-1] - [1, 2, 3]) / [2, 4, 8]
    assert out['img'].dtype == np.float32
    np.testing.assert_allclose(out['img'], expected, rtol=1e-6)
    assert out['img_norm_cfg']['to_rgb'] is True
    np.testing.assert_array_equal(out['img_norm_cfg']['mean'], np.float32([1, 2, 3]))


def test_pad_to_size_and_divisor():
    out = Pad(size=(24, 48), pad_val=7, seg_pad_val=255)(sample())
    assert out['img'].shape == (24, 48, 3) and out['pad_shape'] == (24, 48, 3)
    assert (out['img'][20:] == 7).all() and (out['img'][:, 40:] == 7).all()
    assert (out['gt_semantic_seg'][20:] == 255).all() and (out['gt_semantic_seg'][:20, :40] < 5).all()
    out = Pad(size_divisor=32)(sample())
    assert out['img'].shape[:2] == (32, 64) and out['gt_semantic_seg'].shape == (32, 64)
    with pytest.raises(ConfigError):
        Pad(size=(10, 10))(sample())
    with pytest.raises(ConfigError):
        Pad()


def _photometric_reference(img, seed, t):
    """mmseg 0.x's float arithmetic, step by step, with the same random draws."""
    import cv2
    rs = np.random.RandomState(seed)

    def convert(x, alpha=1, beta=0):
        return np.clip(x.astype(np.float32) * np.float32(alpha) + np.float32(beta), 0, 255).astype(np.uint8)
    if rs.randint(2):
        img = convert(img, beta=rs.uniform(-t.brightness_delta, t.brightness_delta))
    mode = rs.randint(2)

    def contrast(img):
        return convert(img, alpha=rs.uniform(0.5, 1.5)) if rs.randint(2) else img
    if mode == 1:
        img = contrast(img)
    if rs.randint(2):
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hsv[..., 1] = convert(hsv[..., 1], alpha=rs.uniform(0.5, 1.5))
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if rs.randint(2):
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + rs.randint(-18, 18)) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if mode == 0:
        img = contrast(img)
    return img


@pytest.mark.parametrize('seed', range(8))
def test_photometric_distortion_equals_float_reference(seed):
    img = np.random.RandomState(100 + seed).randint(0, 256, (16, 16, 3)).astype(np.uint8)
    t = PhotoMetricDistortion()
    expected = _photometric_reference(img.copy(), seed, t)
    np.random.seed(seed)
    out = t(dict(img=img.copy()))['img']
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_format_bundle_and_collect_meta_keys():
    s = sample()
    s.update(flip=False, flip_direction='horizontal')
    pixel = s['img'][1, 2].copy()
    out = Collect(keys=['img', 'gt_semantic_seg'])(DefaultFormatBundle()(s))
    assert set(out) == {'img', 'gt_semantic_seg', 'img_metas'}
    assert tuple(out['img_metas']) == DEFAULT_META_KEYS
    assert out['img'].shape == (3, 20, 40) and out['gt_semantic_seg'].shape == (1, 20, 40)
    assert out['gt_semantic_seg'].dtype == torch.int64
    np.testing.assert_array_equal(out['img'][:, 1, 2].numpy(), pixel)
    with pytest.raises(ConfigError, match='flip'):
        Collect(keys=['img'])(sample())


def test_image_to_tensor_is_chw():
    img = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    out = ImageToTensor(['img'])(dict(img=img))['img']
    np.testing.assert_array_equal(out.numpy(), img.transpose(2, 0, 1))


def test_multi_scale_flip_aug_outputs_every_combination():
    aug = MultiScaleFlipAug(img_scale=(80, 40), img_ratios=[0.5, 1.0], flip=True, transforms=[
        dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'), dict(type='ImageToTensor', keys=['img']),
        dict(type='Collect', keys=['img'], meta_keys=['scale', 'flip', 'img_shape'])])
    s = sample()
    s.pop('gt_semantic_seg')
    s['seg_fields'] = []
    out = aug(s)
    metas = out['img_metas']
    assert [(m['scale'], m['flip']) for m in metas] == [((40, 20), False), ((40, 20), True), ((80, 40), False),
                                                        ((80, 40), True)]
    assert [tuple(i.shape) for i in out['img']] == [(3, 20, 40)] * 2 + [(3, 40, 80)] * 2
    torch.testing.assert_close(out['img'][1], out['img'][0].flip(-1))


def test_multi_scale_flip_aug_ratios_of_image_size():
    aug = MultiScaleFlipAug(img_scale=None, img_ratios=[0.5, 2.0], transforms=[
        dict(type='Resize', keep_ratio=True), dict(type='Collect', keys=['img'], meta_keys=['img_shape'])])
    out = aug(sample())
    assert [m['img_shape'][:2] for m in out['img_metas']] == [(10, 20), (40, 80)]


def test_compose_builds_from_dicts_and_stops_on_none():
    pipe = Compose([dict(type='RandomFlip', prob=1.0), lambda r: None, lambda r: 1 / 0])
    assert pipe(sample()) is None
    with pytest.raises(ConfigError):
        Compose(dict(type='RandomFlip'))


def test_normalize_uint8_and_float_inputs_agree_and_bad_channels():
    img = np.random.RandomState(0).randint(0, 256, (4, 5, 3)).astype(np.uint8)
    n = Normalize(mean=[10, 20, 30], std=[1, 2, 4], to_rgb=False)
    np.testing.assert_allclose(n(dict(img=img))['img'], n(dict(img=img.astype(np.float32)))['img'], rtol=1e-6)
    with pytest.raises(ConfigError, match='3 and 3 values but the image x.png has 1 channels'):
        n(dict(img=img[..., 0].copy(), filename='x.png'))
