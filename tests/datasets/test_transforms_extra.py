"""The mmseg 0.x transforms of ``transforms_extra`` / ``transforms_mosaic``, ``MultiImageMixDataset`` and
``RandomFlip(flip_ratio=)``: hand-computed expectations, numpy-RNG draw order, errors, mmseg 1.2.2 parity."""
import os
import pickle
import subprocess

import cv2
import numpy as np
import pytest
import torch

from mmseg_ddrnet.datasets import MultiImageMixDataset, SeededIndex, build_dataloader, build_dataset, pipelines
from mmseg_ddrnet.datasets.pipelines import (CLAHE, AdjustGamma, Compose, RandomCutOut, RandomFlip, RandomMosaic,
                                             RandomRotate, Rerange, ResizeToMultiple, RGB2Gray, SegRescale,
                                             ToDataContainer, Transpose)
from mmseg_ddrnet.registry import DATASETS, PIPELINES
from mmseg_ddrnet.utils import ConfigError, DataError
from mmseg_goldens.mmseg_side import EXTRA_TRANSFORM_CALLS as PARITY_CALLS  # noqa: E402
from mmseg_goldens.mmseg_side import extra_transform_inputs as parity_inputs  # noqa: E402


def sample(h=4, w=6, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    seg = (np.arange(h * w).reshape(h, w) % 5).astype(np.uint8)
    return dict(img=img, gt_semantic_seg=seg, seg_fields=['gt_semantic_seg'], img_shape=img.shape,
                ori_shape=img.shape, pad_shape=img.shape, filename='a.png')


def constant_sample(value, label, h=2, w=2):
    return dict(img=np.full((h, w, 3), value, np.uint8), gt_semantic_seg=np.full((h, w), label, np.uint8),
                seg_fields=['gt_semantic_seg'])


# ----------------------------------------------------------------------------------- ResizeToMultiple

def test_resize_to_multiple_rounds_up_and_keeps_labels():
    s = sample(5, 7)
    out = ResizeToMultiple(size_divisor=4)(dict(s))
    assert out['img'].shape == (8, 8, 3) and out['img_shape'] == out['pad_shape'] == (8, 8, 3)
    # mmseg 0.x: the image bilinear (cv2), the label map always nearest
    np.testing.assert_array_equal(out['img'], cv2.resize(s['img'], (8, 8), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_array_equal(out['gt_semantic_seg'],
                                  cv2.resize(s['gt_semantic_seg'], (8, 8), interpolation=cv2.INTER_NEAREST))
    out = ResizeToMultiple(size_divisor=(4, 2), interpolation='nearest')(dict(s))  # (w, h) divisors
    assert out['img'].shape == (6, 8, 3)
    np.testing.assert_array_equal(out['img'], cv2.resize(s['img'], (8, 6), interpolation=cv2.INTER_NEAREST))
    same = sample(8, 8)
    np.testing.assert_array_equal(ResizeToMultiple(4)(dict(same))['img'], same['img'])


@pytest.mark.parametrize('kwargs, match', [(dict(size_divisor=0), 'ResizeToMultiple: size_divisor'),
                                           (dict(interpolation='cubic'), 'ResizeToMultiple: interpolation')])
def test_resize_to_multiple_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ResizeToMultiple(**kwargs)


# ---------------------------------------------------------------------------------- photometric ones

def test_rerange_maps_min_max_linearly():
    img = np.array([[0, 50], [100, 200]], np.uint8)[..., None]
    np.testing.assert_allclose(Rerange()(dict(img=img))['img'][..., 0], [[0, 63.75], [127.5, 255]])
    np.testing.assert_allclose(Rerange(-1, 1)(dict(img=img))['img'][..., 0], [[-1, -0.5], [0, 1]])
    with pytest.raises(DataError, match='Rerange: the image b.png is constant'):
        Rerange()(dict(img=np.full((2, 2, 3), 7, np.uint8), filename='b.png'))
    with pytest.raises(ConfigError, match=r'Rerange: min_value \(5\) must be less than max_value \(5\)'):
        Rerange(5, 5)


def test_clahe_equalises_each_channel_as_opencv():
    img = sample(32, 32)['img']
    out = CLAHE(clip_limit=2.0, tile_grid_size=(4, 4))(dict(img=img.copy()))['img']
    expected = np.stack([cv2.createCLAHE(2.0, (4, 4)).apply(img[..., c]) for c in range(3)], -1)
    np.testing.assert_array_equal(out, expected)
    t = CLAHE()
    t(dict(img=img.copy()))
    assert pickle.loads(pickle.dumps(t)).tile_grid_size == (8, 8)  # picklable for loader workers
    with pytest.raises(ConfigError, match='CLAHE: tile_grid_size'):
        CLAHE(tile_grid_size=8)


def test_rgb2gray_weighted_mean_repeated():
    img = np.array([[[10, 20, 30]]], np.uint8)
    out = RGB2Gray()(dict(img=img))
    np.testing.assert_allclose(out['img'], [[[18.15] * 3]])  # .299*10 + .587*20 + .114*30
    out = RGB2Gray(out_channels=1, weights=(1, 0, 0))(dict(img=img))
    assert out['img'].shape == out['img_shape'] == (1, 1, 1) and out['img'][0, 0, 0] == 10
    with pytest.raises(ConfigError, match='RGB2Gray: weights has 3 values but the image x.png'):
        RGB2Gray()(dict(img=img[..., :2], filename='x.png'))
    with pytest.raises(ConfigError, match='RGB2Gray: out_channels'):
        RGB2Gray(out_channels=0)


def test_adjust_gamma_table():
    img = np.array([[0, 1, 64, 255]], np.uint8)[..., None]
    # int((i / 255) ** (1 / 2) * 255): 1 -> sqrt(255) = 15.97, 64 -> 127.75
    np.testing.assert_array_equal(AdjustGamma(2)(dict(img=img))['img'].ravel(), [0, 15, 127, 255])
    np.testing.assert_array_equal(AdjustGamma()(dict(img=img))['img'].ravel(), img.ravel())
    with pytest.raises(ConfigError, match='AdjustGamma: gamma'):
        AdjustGamma(0)


# ------------------------------------------------------------------------------------- geometric ones

def test_seg_rescale_is_nearest_and_leaves_image():
    s = sample(4, 6)
    img, seg = s['img'].copy(), s['gt_semantic_seg'].copy()
    out = SegRescale(0.5)(s)
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg[::2, ::2])  # 6x4 -> int(3.5)x int(2.5)
    np.testing.assert_array_equal(out['img'], img)
    assert SegRescale()(dict(s))['gt_semantic_seg'] is out['gt_semantic_seg']
    with pytest.raises(ConfigError, match='SegRescale: scale_factor'):
        SegRescale(0)


def _rotated_clockwise(a, pad):
    """``a`` rotated 90 degrees clockwise about its centre, ``pad`` where nothing maps (nearest)."""
    h, w = a.shape[:2]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    out = np.full_like(a, pad)
    for yd in range(h):
        for xd in range(w):
            x, y = cx + (yd - cy), cy - (xd - cx)
            if 0 <= x < w and 0 <= y < h and x == int(x) and y == int(y):
                out[yd, xd] = a[int(y), int(x)]
    return out


def test_random_rotate_90_degrees_image_and_labels():
    img = np.arange(9, dtype=np.uint8).reshape(3, 3)
    out = RandomRotate(prob=1, degree=(90, 90))(dict(img=img, gt_semantic_seg=img.copy(),
                                                     seg_fields=['gt_semantic_seg']))
    np.testing.assert_array_equal(out['img'], np.rot90(img, -1))
    np.testing.assert_array_equal(out['gt_semantic_seg'], np.rot90(img, -1))
    seg = (np.arange(15).reshape(3, 5) % 7).astype(np.uint8)  # not square: corners leave the image
    out = RandomRotate(prob=1, degree=(90, 90), pad_val=9, seg_pad_val=255)(
        dict(img=seg.copy(), gt_semantic_seg=seg.copy(), seg_fields=['gt_semantic_seg']))
    np.testing.assert_array_equal(out['gt_semantic_seg'], _rotated_clockwise(seg, 255))
    assert (out['img'][:, 0] == 9).all() and (out['gt_semantic_seg'][:, 0] == 255).all()
    bound = RandomRotate(prob=1, degree=(90, 90), auto_bound=True)(dict(img=seg.copy(), seg_fields=[]))
    assert bound['img'].shape == (5, 3)


def test_random_rotate_draws_prob_then_angle_always():
    t = RandomRotate(prob=0.5, degree=30)
    for seed in range(6):
        np.random.seed(seed)
        r, angle, after = np.random.rand(), np.random.uniform(-30, 30), np.random.rand()
        np.random.seed(seed)
        s = sample(8, 8, 1)
        img = s['img'].copy()
        out = t(s)
        assert np.random.rand() == after  # both draws were taken, rotated or not
        if r < 0.5:
            m = cv2.getRotationMatrix2D((3.5, 3.5), -angle, 1.0)
            np.testing.assert_array_equal(out['img'][..., 0], cv2.warpAffine(img, m, (8, 8), borderValue=0))
        else:
            np.testing.assert_array_equal(out['img'], img)


@pytest.mark.parametrize('kwargs, match', [(dict(prob=2, degree=10), 'RandomRotate: prob'),
                                           (dict(prob=1, degree=-5), 'RandomRotate: degree'),
                                           (dict(prob=1, degree=5, center=(1, 1), auto_bound=True),
                                            'RandomRotate: auto_bound conflicts with center')])
def test_random_rotate_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RandomRotate(**kwargs)


# -------------------------------------------------------------------------------------- RandomCutOut

def test_random_cutout_holes_follow_the_draws():
    t = RandomCutOut(prob=1, n_holes=(1, 3), cutout_shape=[(2, 3), (4, 1)], fill_in=(7, 8, 9), seg_fill_in=255)
    for seed in range(5):
        np.random.seed(seed)
        np.random.rand()  # the transform's prob draw (prob=1: it always applies)
        holes, expected = np.random.randint(1, 4), sample(6, 10)
        for _ in range(holes):
            x1, y1, idx = np.random.randint(0, 10), np.random.randint(0, 6), np.random.randint(0, 2)
            cw, ch = [(2, 3), (4, 1)][idx]
            expected['img'][y1:y1 + ch, x1:x1 + cw] = (7, 8, 9)
            expected['gt_semantic_seg'][y1:y1 + ch, x1:x1 + cw] = 255
        np.random.seed(seed)
        out = t(sample(6, 10))
        np.testing.assert_array_equal(out['img'], expected['img'])
        np.testing.assert_array_equal(out['gt_semantic_seg'], expected['gt_semantic_seg'])


def test_random_cutout_ratio_and_labels_left_alone():
    np.random.seed(0)
    x1, y1 = (np.random.rand(), np.random.randint(1, 2), np.random.randint(0, 8), np.random.randint(0, 4))[2:]
    np.random.seed(0)
    s = sample(4, 8)
    seg = s['gt_semantic_seg'].copy()
    out = RandomCutOut(prob=1, n_holes=1, cutout_ratio=(0.5, 0.5))(s)
    hole = np.zeros((4, 8), bool)
    hole[y1:y1 + 2, x1:x1 + 4] = True  # 0.5 * 8 wide, 0.5 * 4 high
    assert (out['img'][hole] == 0).all() and (out['img'][~hole] == sample(4, 8)['img'][~hole]).all()
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg)  # seg_fill_in=None


@pytest.mark.parametrize('kwargs, match', [
    (dict(prob=1, n_holes=1, cutout_shape=(1, 1), cutout_ratio=(0.1, 0.1)), 'exactly one of cutout_shape'),
    (dict(prob=1, n_holes=(3, 2), cutout_shape=(1, 1)), 'RandomCutOut: n_holes'),
    (dict(prob=1, n_holes=1, cutout_shape=(1, 1), seg_fill_in=300), 'RandomCutOut: seg_fill_in'),
    (dict(prob=1, n_holes=1, cutout_shape=[4, 4]), 'RandomCutOut: cutout_shape')])
def test_random_cutout_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RandomCutOut(**kwargs)


# -------------------------------------------------------------------------------------- RandomMosaic

def mosaic_input(sizes=((2, 2),) * 4):
    parts = [constant_sample(10 * (i + 1), i + 1, *size) for i, size in enumerate(sizes)]
    return dict(parts[0], mix_results=parts[1:])


def test_random_mosaic_centre_at_the_middle_pastes_the_quadrants():
    out = RandomMosaic(prob=1, img_scale=(2, 2), center_ratio_range=(1.0, 1.0))(mosaic_input())
    expected = np.kron([[1, 2], [3, 4]], np.ones((2, 2), int))
    np.testing.assert_array_equal(out['gt_semantic_seg'], expected)
    np.testing.assert_array_equal(out['img'][..., 0], 10 * expected)
    assert out['img_shape'] == out['ori_shape'] == (4, 4, 3)


def test_random_mosaic_crops_at_an_offset_centre_and_pads():
    t = RandomMosaic(prob=1, img_scale=(2, 2), center_ratio_range=(0.5, 2.0), pad_val=0, seg_pad_val=255)
    seed = next(s for s in range(1000) if _centre(s, (0.5, 2.0), (2, 2)) == (1, 3))
    np.random.seed(seed)
    out = t(mosaic_input(sizes=((2, 2), (2, 2), (4, 4), (2, 2))))  # part 3 is shrunk to 2x2
    assert (t.center_x, t.center_y) == (1, 3)
    pad = 255
    expected = np.array([[pad, pad, pad, pad], [1, 2, 2, pad], [1, 2, 2, pad], [3, 4, 4, pad]])
    np.testing.assert_array_equal(out['gt_semantic_seg'], expected)
    np.testing.assert_array_equal(out['img'][..., 0], np.where(expected == pad, 0, 10 * expected))


def _centre(seed, ratio_range, img_scale):
    np.random.seed(seed)
    np.random.rand()
    return int(np.random.uniform(*ratio_range) * img_scale[1]), int(np.random.uniform(*ratio_range) * img_scale[0])


def test_random_mosaic_probability_indexes_and_errors():
    np.random.seed(0)
    expected = [np.random.randint(0, 7) for _ in range(3)]
    np.random.seed(0)
    assert RandomMosaic(prob=1).get_indexes(list(range(7))) == expected
    s = mosaic_input()
    assert RandomMosaic(prob=0, img_scale=(2, 2))(s)['img'].shape == (2, 2, 3)
    with pytest.raises(ConfigError, match="RandomMosaic: results have no 'mix_results'"):
        RandomMosaic(prob=1)(constant_sample(1, 1))
    with pytest.raises(ConfigError, match='RandomMosaic: prob'):
        RandomMosaic(prob=1.5)


# ------------------------------------------------------------------------------- MultiImageMixDataset

def mix_config(root, mix_pipeline, **kwargs):
    inner = dict(type='CustomDataset', img_dir=str(root / 'img'), ann_dir=str(root / 'ann'), pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='RandomFlip', prob=0.5)])
    return dict(type='MultiImageMixDataset', dataset=inner, pipeline=mix_pipeline, **kwargs)


MOSAIC = dict(type='RandomMosaic', prob=1, img_scale=(8, 10))


def test_multi_image_mix_dataset_mosaics_with_the_0x_draw_order(custom_root):
    ds = build_dataset(mix_config(custom_root, [MOSAIC]))
    assert isinstance(ds, MultiImageMixDataset) and len(ds) == 3 and 'MultiImageMixDataset' in DATASETS.module_dict
    out = ds[SeededIndex(1, 123)]
    assert out['img'].shape == (16, 20, 3) and out['gt_semantic_seg'].shape == (16, 20) and 'mix_results' not in out
    # one np.random stream: the sample's pipeline, the 3 indexes, the 3 parts' pipelines, the mosaic
    np.random.seed(123)
    first = ds.dataset[1]
    parts = [ds.dataset[i] for i in [np.random.randint(0, 3) for _ in range(3)]]
    expected = RandomMosaic(**{k: v for k, v in MOSAIC.items() if k != 'type'})(dict(first, mix_results=parts))
    np.testing.assert_array_equal(out['img'], expected['img'])
    np.testing.assert_array_equal(out['gt_semantic_seg'], expected['gt_semantic_seg'])
    np.testing.assert_array_equal(ds[SeededIndex(1, 123)]['img'], out['img'])  # reproducible


def test_multi_image_mix_dataset_skip_type_keys_and_errors(custom_root):
    ds = build_dataset(mix_config(custom_root, [MOSAIC], skip_type_keys=['RandomMosaic']))
    assert ds[0]['img'].shape == (8, 10, 3)
    ds.update_skip_type_keys([])
    assert ds[0]['img'].shape == (16, 20, 3)
    with pytest.raises(ConfigError, match='MultiImageMixDataset: each pipeline entry must be a dict'):
        build_dataset(mix_config(custom_root, [RandomMosaic(prob=1)]))
    with pytest.raises(ConfigError, match='MultiImageMixDataset: skip_type_keys'):
        build_dataset(mix_config(custom_root, [MOSAIC], skip_type_keys=[1]))


def test_multi_image_mix_dataset_batches_through_the_loader(custom_root):
    norm = dict(type='Normalize', mean=[0, 0, 0], std=[1, 1, 1])
    ds = build_dataset(mix_config(custom_root, [MOSAIC, norm, dict(type='ToDataContainer'),
                                                dict(type='DefaultFormatBundle'),
                                                dict(type='Collect', keys=['img', 'gt_semantic_seg'],
                                                     meta_keys=['img_shape'])]))
    batch = next(iter(build_dataloader(ds, samples_per_gpu=2, workers_per_gpu=0, seed=0)))
    assert batch['img'].shape == (2, 3, 16, 20) and batch['gt_semantic_seg'].shape == (2, 1, 16, 20)


# ------------------------------------------------------------------------------------- formatting ones

def test_transpose_arrays_and_tensors():
    a = np.arange(24).reshape(2, 3, 4)
    out = Transpose(keys=['a', 't'], order=(2, 0, 1))(dict(a=a, t=torch.from_numpy(a)))
    np.testing.assert_array_equal(out['a'], a.transpose(2, 0, 1))
    assert torch.equal(out['t'], torch.from_numpy(a).permute(2, 0, 1))
    with pytest.raises(ConfigError, match='Transpose: order'):
        Transpose(keys=['a'], order=(0, 0, 1))


def test_to_data_container_is_a_validated_pass_through():
    s = sample()
    img = s['img']
    out = ToDataContainer()(s)
    assert out is s and out['img'] is img
    with pytest.raises(ConfigError, match=r"ToDataContainer: fields \['gt_semantic_seg'\] are not produced"):
        ToDataContainer()(dict(img=img))
    with pytest.raises(ConfigError, match="ToDataContainer: each of fields must be a dict with a str 'key'"):
        ToDataContainer(fields=[dict(stack=True)])
    with pytest.raises(ConfigError, match=r"ToDataContainer: fields entry 'img' has unknown DataContainer .*'stak'"):
        ToDataContainer(fields=[dict(key='img', stak=True)])
    with pytest.raises(ConfigError, match="ToDataContainer: pad_dims of 'img' must be None, 1, 2 or 3, got 4"):
        ToDataContainer(fields=[dict(key='img', pad_dims=4)])


def test_random_flip_accepts_flip_ratio_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match='"flip_ratio" is deprecated in `RandomFlip`'):
        flip = PIPELINES.build(dict(type='RandomFlip', flip_ratio=1.0))
    assert flip.prob == 1.0 and flip(sample())['flip'] is True
    with pytest.raises(ConfigError, match='RandomFlip: give prob or its deprecated name flip_ratio, not both'):
        RandomFlip(prob=0.5, flip_ratio=0.5)


def test_a_0x_pipeline_with_the_new_transforms_runs():
    pipe = Compose([dict(type='ResizeToMultiple', size_divisor=8), dict(type='CLAHE'),
                    dict(type='AdjustGamma', gamma=1.2), dict(type='RandomRotate', prob=1, degree=20),
                    dict(type='RandomCutOut', prob=1, n_holes=2, cutout_ratio=(0.2, 0.2), seg_fill_in=255),
                    dict(type='SegRescale', scale_factor=1), dict(type='RGB2Gray'), dict(type='Rerange'),
                    dict(type='Transpose', keys=['img'], order=(2, 0, 1))])
    np.random.seed(0)
    out = pipe(sample(13, 21))
    assert out['img'].shape == (3, 16, 24) and out['gt_semantic_seg'].shape == (16, 24)


# ------------------------------------------------------------------------------ mmseg 1.2.2 parity

# The same calls on both sides (tests/mmseg_goldens/mmseg_side.py; mmseg's outputs are also in the goldens):
# ``T`` is mmseg's transforms module there, this package's pipelines here.
REFERENCE_SCRIPT = ('import sys\nimport numpy as np\nfrom mmseg.datasets import transforms as T\n'
                    'data, out = dict(np.load(sys.argv[1])), {}\n' + PARITY_CALLS + 'np.savez(sys.argv[2], **out)\n')


@pytest.fixture(scope='module')
def reference(mmseg_reference_python, tmp_path_factory):
    folder = tmp_path_factory.mktemp('extra_parity')
    np.savez(folder / 'in.npz', **parity_inputs())
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    done = subprocess.run([mmseg_reference_python, '-c', REFERENCE_SCRIPT, str(folder / 'in.npz'),
                           str(folder / 'out.npz')], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(folder / 'out.npz'))


def test_extra_transforms_match_mmseg(reference):
    out = {}
    exec(PARITY_CALLS, dict(T=pipelines, np=np, data=parity_inputs(), out=out))  # noqa: S102
    assert set(out) == set(reference)
    for key, theirs in reference.items():
        assert out[key].shape == theirs.shape and out[key].dtype == theirs.dtype, key
        np.testing.assert_array_equal(out[key], theirs, err_msg=key)
    assert any(reference[f'mosaic{s}_img'].shape[0] == 16 for s in range(6))  # some seeds mosaic, some do not
    assert any(reference[f'mosaic{s}_img'].shape[0] == 13 for s in range(6))
