"""Datasets from generated files in their real layouts, the real CamVid, and every bad input."""
import os

import cv2
import numpy as np
import pytest

from mmseg_ddrnet.datasets import CamVidDataset, CityscapesDataset, CustomDataset, build_dataset
from mmseg_ddrnet.utils import ConfigError, DataError

TRAIN = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='RandomFlip', prob=0.0),
         dict(type='DefaultFormatBundle'),
         dict(type='Collect', keys=['img', 'gt_semantic_seg'])]


def cityscapes(root, split='train', **kw):
    return CityscapesDataset(pipeline=TRAIN, data_root=root, img_dir=f'leftImg8bit/{split}',
                             ann_dir=f'gtFine/{split}', **kw)


def test_cityscapes_layout_and_samples(cityscapes_root):
    ds = cityscapes(cityscapes_root)
    assert len(ds) == 4 and len(ds.CLASSES) == 19 and ds.PALETTE[0] == [128, 64, 128]
    names = [info['filename'] for info in ds.img_infos]
    assert names == sorted(names) and names[0] == 'aachen/aachen_000000_000000_leftImg8bit.png'
    assert ds.img_infos[0]['ann']['seg_map'] == 'aachen/aachen_000000_000000_gtFine_labelTrainIds.png'
    sample = ds[0]
    assert sample['img'].shape == (3, 64, 128) and sample['gt_semantic_seg'].shape == (1, 64, 128)
    values = set(np.unique(sample['gt_semantic_seg'].numpy()).tolist())
    assert values <= set(range(19)) | {255} and len(values) > 3


def test_split_file_selects_samples(cityscapes_root):
    ds = cityscapes(cityscapes_root, split='val')
    with_split = CityscapesDataset(pipeline=TRAIN, data_root=cityscapes_root, img_dir='leftImg8bit/val',
                                   ann_dir='gtFine/val', split='val.txt')
    assert [i['filename'] for i in with_split.img_infos] == [i['filename'] for i in ds.img_infos]


def test_class_subset_remaps_labels(cityscapes_root):
    full = cityscapes(cityscapes_root)
    sub = cityscapes(cityscapes_root, classes=['sky', 'road'])
    assert sub.CLASSES == ['sky', 'road'] and sub.PALETTE == [[70, 130, 180], [128, 64, 128]]
    assert sub.label_map[10] == 0 and sub.label_map[0] == 1 and sub.label_map[2] == 255
    gt_full, gt_sub = full.get_gt_seg_map_by_idx(0), sub.get_gt_seg_map_by_idx(0)
    np.testing.assert_array_equal(gt_sub == 0, gt_full == 10)
    np.testing.assert_array_equal(gt_sub == 1, gt_full == 0)
    assert set(np.unique(gt_sub)) <= {0, 1, 255}
    with pytest.raises(ConfigError, match='not classes of CityscapesDataset'):
        cityscapes(cityscapes_root, classes=['dragon'])


def test_cityscapes_format_results_writes_label_ids(cityscapes_root, tmp_path):
    ds = cityscapes(cityscapes_root, split='val')
    pred = np.array([[0, 10, 18]], np.int64)
    files = ds.format_results([pred, pred], str(tmp_path), indices=[0, 1])
    assert [os.path.basename(f) for f in files] == ['aachen_000000_000000_labelIds.png',
                                                    'bremen_000000_000001_labelIds.png']
    np.testing.assert_array_equal(cv2.imread(files[0], cv2.IMREAD_UNCHANGED), [[7, 23, 33]])  # road, sky, bicycle
    files = ds.format_results([pred], str(tmp_path), to_label_id=False, indices=[0])
    np.testing.assert_array_equal(cv2.imread(files[0], cv2.IMREAD_UNCHANGED), [[0, 10, 18]])


def test_camvid_layout_maps_void_to_ignore(tmp_path, write_pair):
    seg = np.array([[0, 5, 10, 11]] * 3, np.uint8)
    write_pair(tmp_path / 'train', tmp_path / 'trainannot', '0001TP_006690', np.zeros((3, 4, 3), np.uint8), seg)
    ds = CamVidDataset(pipeline=TRAIN, data_root=str(tmp_path), img_dir='train', ann_dir='trainannot')
    assert len(ds.CLASSES) == 11 and ds.CLASSES[-1] == 'Bicyclist' and len(ds.PALETTE) == 11
    np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(0)[0], [0, 5, 10, 255])
    np.testing.assert_array_equal(ds[0]['gt_semantic_seg'][0, 0].numpy(), [0, 5, 10, 255])
    sub = CamVidDataset(pipeline=TRAIN, data_root=str(tmp_path), img_dir='train', ann_dir='trainannot',
                        classes=['Bicyclist', 'Sky'])
    np.testing.assert_array_equal(sub.get_gt_seg_map_by_idx(0)[0], [1, 255, 0, 255])


def test_real_camvid(camvid_root):
    train = build_dataset(dict(type='CamVidDataset', data_root=str(camvid_root), img_dir='train',
                               ann_dir='trainannot', pipeline=TRAIN))
    val = build_dataset(dict(type='CamVidDataset', data_root=str(camvid_root), img_dir='val', ann_dir='valannot',
                             pipeline=TRAIN))
    assert (len(train), len(val)) == (367, 101)
    sample = train[0]
    assert sample['img'].shape == (3, 360, 480)
    name = train.img_infos[0]['filename']
    image = cv2.imread(str(camvid_root / 'train' / name))
    np.testing.assert_array_equal(sample['img'].numpy().transpose(1, 2, 0), image)  # BGR, not normalised here
    raw = cv2.imread(str(camvid_root / 'trainannot' / train.img_infos[0]['ann']['seg_map']), cv2.IMREAD_UNCHANGED)
    assert (raw == 11).any() and raw.max() == 11  # the file has void pixels: the mapping is exercised
    np.testing.assert_array_equal(sample['gt_semantic_seg'].numpy()[0], np.where(raw == 11, 255, raw))


def test_custom_dataset_with_data_root_and_classes(custom_root):
    ds = CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann',
                       classes=('a', 'b', 'c'))
    assert len(ds) == 3 and ds.img_dir == os.path.join(str(custom_root), 'img')
    assert ds.PALETTE == np.random.RandomState(42).randint(0, 255, size=(3, 3)).tolist()
    assert ds[2]['gt_semantic_seg'].shape == (1, 8, 10)
    with pytest.raises(ConfigError, match='classes must be given'):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann', test_mode=True)


# ------------------------------------------------------------------------------------------- bad input

def test_wrong_directories_and_empty_dataset(custom_root, tmp_path):
    with pytest.raises(DataError, match=r"img_dir '.*nowhere' is not a directory \(data_root="):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='nowhere', ann_dir='ann')
    with pytest.raises(DataError, match="ann_dir '.*labels' is not a directory"):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='labels')
    with pytest.raises(DataError, match=r"no images ending with '.png' in img_dir"):
        CustomDataset(pipeline=TRAIN, img_dir=str(custom_root / 'img'), img_suffix='.png')
    with pytest.raises(DataError, match='split file'):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', split='missing.txt')


def test_image_without_label(custom_root):
    os.remove(custom_root / 'ann' / 's1.png')
    with pytest.raises(DataError, match=r's1.jpg has no label map .*s1.png.*skip_bad_samples=True'):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann')
    ds = CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann',
                       skip_bad_samples=True)
    assert [i['filename'] for i in ds.img_infos] == ['s0.jpg', 's2.jpg']


def test_image_and_label_of_different_sizes_found_at_start(custom_root):
    cv2.imwrite(str(custom_root / 'ann' / 's2.png'), np.zeros((5, 5), np.uint8))
    with pytest.raises(DataError, match=r's2.png is 5x5 but image .*s2.jpg is 10x8'):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann')


def test_broken_header_found_at_start(custom_root):
    (custom_root / 'ann' / 's0.png').write_bytes(b'\x89PNG\r\n\x1a\n')
    with pytest.raises(DataError, match='broken PNG header in .*s0.png'):
        CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann')


def test_truncated_image_named_when_loaded_and_skippable(custom_root):
    data = (custom_root / 'img' / 's1.jpg').read_bytes()
    sof = data.index(b'\xff\xc0')
    (custom_root / 'img' / 's1.jpg').write_bytes(data[:sof + 20])  # size header intact, image data cut
    kw = dict(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann', classes=['a', 'b', 'c'])
    ds = CustomDataset(**kw)
    with pytest.raises(DataError, match='s1.jpg'):
        ds[1]
    skipping = CustomDataset(skip_bad_samples=True, **kw)
    out = skipping[1]  # falls through to the next sample
    assert out['img_metas']['ori_filename'] == 's2.jpg'


def test_label_values_beyond_classes(custom_root):
    seg = np.full((8, 10), 7, np.uint8)
    cv2.imwrite(str(custom_root / 'ann' / 's0.png'), seg)
    ds = CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann',
                       classes=['a', 'b', 'c'])
    with pytest.raises(DataError, match=r's0.png holds values \[7\] outside \[0, 3\)'):
        ds[0]
    with pytest.raises(DataError, match='s0.png'):
        ds.get_gt_seg_map_by_idx(0)


def test_reduce_zero_label_in_evaluation(custom_root):
    ds = CustomDataset(pipeline=TRAIN, data_root=str(custom_root), img_dir='img', ann_dir='ann',
                       classes=['b', 'c'], reduce_zero_label=True)
    raw = (np.arange(80).reshape(8, 10) + 0) % 3
    np.testing.assert_array_equal(ds.get_gt_seg_map_by_idx(0), np.where(raw == 0, 255, raw - 1))
    pred = np.where(raw == 0, 0, raw - 1)
    matrix = ds.pre_eval([pred], [0])[0]
    np.testing.assert_array_equal(matrix, np.diag([(raw == 1).sum(), (raw == 2).sum()]))
