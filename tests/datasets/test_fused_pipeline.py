"""The fused LoadImageFromFile → LoadAnnotations → Resize → RandomCrop step gives the sequential results."""
import cv2
import numpy as np
import pytest
import torch

from mmseg_ddrnet import ops
from mmseg_ddrnet.datasets import SeededIndex, build_dataset
from mmseg_ddrnet.datasets.pipelines import Compose
from mmseg_ddrnet.datasets.pipelines.fused import LoadResizeCrop
from mmseg_ddrnet.ops import image as image_ops
from mmseg_ddrnet.utils import DataError
from prerequisites import require_ext

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)

EXACT = int(cv2.__version__.split('.')[0]) >= 5  # see tests/ops/test_image_ops.py


@pytest.fixture(autouse=True)
def _kernels(monkeypatch):
    require_ext()
    monkeypatch.delenv(ops.DISABLE_ENV, raising=False)


def _pipeline(crop=(32, 64), scale=(128, 64), ratio=(0.5, 2.0), keep_ratio=True, cat_max_ratio=0.75):
    return [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='Resize', img_scale=scale, ratio_range=ratio, keep_ratio=keep_ratio),
            dict(type='RandomCrop', crop_size=crop, cat_max_ratio=cat_max_ratio),
            dict(type='RandomFlip', prob=0.5), dict(type='PhotoMetricDistortion'), dict(type='Normalize', **NORM),
            dict(type='Pad', size=crop, pad_val=0, seg_pad_val=255), dict(type='DefaultFormatBundle'),
            dict(type='Collect', keys=['img', 'gt_semantic_seg'],
                 meta_keys=('filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
                            'flip', 'flip_direction', 'img_norm_cfg', 'scale', 'keep_ratio'))]


def _dataset(root, **kw):
    return build_dataset(dict(type='CityscapesDataset', data_root=root, img_dir='leftImg8bit/train',
                              ann_dir='gtFine/train', pipeline=_pipeline(**kw)))


def _assert_same_sample(fused, plain):
    assert fused['img_metas'].keys() == plain['img_metas'].keys()
    for key, value in plain['img_metas'].items():
        np.testing.assert_equal(fused['img_metas'][key], value, err_msg=key)
    torch.testing.assert_close(fused['gt_semantic_seg'], plain['gt_semantic_seg'], rtol=0, atol=0)
    if EXACT:
        torch.testing.assert_close(fused['img'], plain['img'], rtol=0, atol=0)
    else:  # one grey level at some row ends, times 1/std after Normalize
        torch.testing.assert_close(fused['img'], plain['img'], rtol=0, atol=1.01 / 57.0)


def _samples(dataset, seeds, use_ext):
    with ops.use_ext(use_ext):
        return [dataset[SeededIndex(s % len(dataset), s)] for s in seeds]


@pytest.mark.parametrize('kw', [dict(), dict(crop=(100, 300)), dict(keep_ratio=False, ratio=None, scale=(90, 50)),
                                dict(ratio=(1.5, 3.0), cat_max_ratio=1.0), dict(ratio=(0.3, 0.7))])
def test_fused_samples_equal_the_sequential_ones(cityscapes_root, kw):
    dataset = _dataset(cityscapes_root, **kw)
    assert isinstance(dataset.pipeline.steps()[0], LoadResizeCrop)
    assert [type(t).__name__ for t in dataset.pipeline.transforms[:4]] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomCrop']  # the list stays as configured
    seeds = range(12)
    for fused, plain in zip(_samples(dataset, seeds, True), _samples(dataset, seeds, False)):
        _assert_same_sample(fused, plain)


def test_fused_step_decodes_only_the_rows_above_the_crop(cityscapes_root, monkeypatch):
    dataset = _dataset(cityscapes_root, crop=(16, 32), ratio=(2.0, 2.0))
    asked = []
    real = image_ops.read_png_rows

    def spy(data, num_rows, filename):
        asked.append(num_rows)
        return real(data, num_rows, filename)
    monkeypatch.setattr(image_ops, 'read_png_rows', spy)
    _samples(dataset, range(8), True)
    assert asked and all(n is not None and n <= 64 for n in asked) and min(asked) < 64


def test_other_images_and_configs_take_the_general_paths(tmp_path, write_pair):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), (5, 5), 2)
    seg = (np.arange(40 * 60).reshape(40, 60) // 97 % 3).astype(np.uint8)
    write_pair(tmp_path / 'img', tmp_path / 'ann', 'a', img, seg, '.jpg', '.png')  # JPEG: decoded whole
    write_pair(tmp_path / 'img', tmp_path / 'ann', 'b', cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), seg)  # grey PNG
    cfg = dict(type='CustomDataset', data_root=str(tmp_path), img_dir='img', ann_dir='ann', img_suffix='.jpg',
               seg_map_suffix='.png', classes=('a', 'b', 'c'), pipeline=_pipeline(crop=(16, 24), scale=(60, 40)))
    for suffix in ('.jpg', '.png'):
        dataset = build_dataset(dict(cfg, img_suffix=suffix))
        for fused, plain in zip(_samples(dataset, range(6), True), _samples(dataset, range(6), False)):
            _assert_same_sample(fused, plain)
    subclassed = Compose([dict(type='LoadImageFromFile', to_float32=True), dict(type='LoadAnnotations'),
                          dict(type='Resize', img_scale=(60, 40)), dict(type='RandomCrop', crop_size=(8, 8))])
    step = subclassed.steps()[0]
    assert isinstance(step, LoadResizeCrop) and not step.covered  # float32 loading runs one by one
    out = subclassed(dict(img_info=dict(filename='a.jpg'), ann_info=dict(seg_map='a.png'),
                          img_prefix=str(tmp_path / 'img'), seg_prefix=str(tmp_path / 'ann')))
    assert out['img'].dtype == np.float32 and out['img'].shape == (8, 8, 3)


def test_corrupt_rows_above_the_crop_name_the_file(tmp_path, write_pair):
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    write_pair(tmp_path / 'img', tmp_path / 'ann', 'x', img, np.zeros((64, 64), np.uint8))
    path = tmp_path / 'img' / 'x.png'
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first IDAT chunk: its CRC no longer matches
    path.write_bytes(bytes(data))
    pipeline = Compose(_pipeline(crop=(8, 8), scale=(64, 64), ratio=None)[:4])
    with pytest.raises(DataError, match='x.png'):
        pipeline(dict(img_info=dict(filename='x.png'), ann_info=dict(seg_map='x.png'),
                      img_prefix=str(tmp_path / 'img'), seg_prefix=str(tmp_path / 'ann')))


def test_real_camvid_images_fused_equal_sequential(camvid_root, repo_root):
    """The shipped CamVid recipe's train pipeline on real photos (real PNG encoders and filters)."""
    from mmseg_ddrnet.config import Config
    cfg = Config.fromfile(str(repo_root / 'configs' / '_base_' / 'datasets' / 'camvid.py'))
    dataset = build_dataset(dict(cfg.data.train, data_root=str(camvid_root)))
    assert isinstance(dataset.pipeline.steps()[0], LoadResizeCrop)
    seeds = [s * 37 for s in range(8)]  # spread over the 367 images
    for fused, plain in zip(_samples(dataset, seeds, True), _samples(dataset, seeds, False)):
        _assert_same_sample(fused, plain)
    for name in sorted((camvid_root / 'train').iterdir())[::23]:
        data = name.read_bytes()
        assert image_ops.png_fast_size(data) == (360, 480)
        np.testing.assert_array_equal(image_ops.read_png_rows(data, None, str(name)),
                                      cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
