"""Loading transforms: BGR reads, meta keys, label maps, and clear errors for bad files."""
import cv2
import numpy as np
import pytest

from mmseg_ddrnet.datasets.pipelines import LoadAnnotations, LoadImageFromFile
from mmseg_ddrnet.utils.image_io import image_size
from mmseg_ddrnet.utils import ConfigError, DataError


@pytest.fixture
def files(tmp_path):
    img = np.zeros((4, 6, 3), np.uint8)
    img[..., 0] = 10  # blue in BGR
    img[..., 2] = 200  # red
    seg = np.array([[0, 1, 2, 3, 4, 5]] * 4, np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    cv2.imwrite(str(tmp_path / 'a_seg.png'), seg)
    cv2.imwrite(str(tmp_path / 'a.jpg'), img)
    return tmp_path, img, seg


def load_seg(tmp_path, name='a_seg.png', **results):
    base = dict(ann_info=dict(seg_map=name), seg_prefix=str(tmp_path), seg_fields=[])
    base.update(results)
    return base


def test_load_image_reads_bgr_and_sets_metas(files):
    tmp_path, img, _ = files
    out = LoadImageFromFile()(dict(img_info=dict(filename='a.png'), img_prefix=str(tmp_path)))
    np.testing.assert_array_equal(out['img'], img)
    assert out['filename'] == str(tmp_path / 'a.png') and out['ori_filename'] == 'a.png'
    assert out['ori_shape'] == out['img_shape'] == out['pad_shape'] == (4, 6, 3)
    assert out['scale_factor'] == 1.0 and out['img_norm_cfg']['to_rgb'] is False
    out = LoadImageFromFile(to_float32=True, color_type='grayscale')(
        dict(img_info=dict(filename='a.png'), img_prefix=str(tmp_path)))
    assert out['img'].dtype == np.float32 and out['img'].shape == (4, 6)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_load_annotations_label_map_then_reduce_zero_label(files, backend):
    tmp_path, _, seg = files
    out = LoadAnnotations(imdecode_backend=backend)(load_seg(tmp_path))
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg)
    assert out['seg_fields'] == ['gt_semantic_seg']
    out = LoadAnnotations(reduce_zero_label=True, imdecode_backend=backend)(
        load_seg(tmp_path, label_map={5: 0, 1: 3}))
    # label map first: 5->0, 1->3; then 0->255 and the rest minus one
    np.testing.assert_array_equal(out['gt_semantic_seg'][0], [255, 2, 1, 2, 3, 255])


def test_load_annotations_rejects_out_of_range_labels(files):
    tmp_path, _, _ = files
    with pytest.raises(DataError, match=r'a_seg.png holds values \[4, 5\] outside \[0, 4\)'):
        LoadAnnotations()(load_seg(tmp_path, num_classes=4, ignore_index=255))
    out = LoadAnnotations()(load_seg(tmp_path, num_classes=4, ignore_index=255, label_map={4: 255, 5: 255}))
    np.testing.assert_array_equal(out['gt_semantic_seg'], [[0, 1, 2, 3, 255, 255]] * 4)


def test_load_annotations_size_mismatch(files, tmp_path):
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match='small.png is 2x2 but its image'):
        LoadAnnotations()(load_seg(tmp_path, 'small.png', img=np.zeros((4, 6, 3), np.uint8), filename='a.png'))


def test_colour_label_with_cv2_is_an_error(files):
    tmp_path, _, _ = files
    with pytest.raises(DataError, match='3 channels'):
        LoadAnnotations(imdecode_backend='cv2')(load_seg(tmp_path, 'a.png'))


def test_missing_truncated_and_garbage_images(tmp_path):
    loader = LoadImageFromFile()
    with pytest.raises(DataError, match='file not found: .*nope.png'):
        loader(dict(img_info=dict(filename='nope.png'), img_prefix=str(tmp_path)))
    ok, data = cv2.imencode('.png', np.random.RandomState(0).randint(0, 255, (64, 64, 3)).astype(np.uint8))
    (tmp_path / 'trunc.png').write_bytes(data.tobytes()[:200])
    with pytest.raises(DataError, match='trunc.png'):
        loader(dict(img_info=dict(filename='trunc.png'), img_prefix=str(tmp_path)))
    (tmp_path / 'junk.png').write_bytes(b'not an image at all')
    with pytest.raises(DataError, match='junk.png'):
        loader(dict(img_info=dict(filename='junk.png'), img_prefix=str(tmp_path)))
    (tmp_path / 'empty.png').write_bytes(b'')
    with pytest.raises(DataError, match='empty file'):
        loader(dict(img_info=dict(filename='empty.png'), img_prefix=str(tmp_path)))


def test_header_sizes(files):
    tmp_path, _, _ = files
    assert image_size(str(tmp_path / 'a.png')) == (4, 6)
    assert image_size(str(tmp_path / 'a.jpg')) == (4, 6)


def test_bad_loader_args():
    with pytest.raises(ConfigError):
        LoadImageFromFile(color_type='rainbow')
    with pytest.raises(ConfigError):
        LoadImageFromFile(file_client_args=dict(backend='petrel'))
    with pytest.raises(ConfigError):
        LoadAnnotations(imdecode_backend='turbojpeg')


def test_palette_png_labels_are_indices_with_pillow(tmp_path):
    from PIL import Image
    seg = np.array([[0, 1], [2, 3]], np.uint8)
    pil = Image.fromarray(seg, mode='P')
    pil.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9] + [0] * 756)
    pil.save(tmp_path / 'p.png')
    out = LoadAnnotations()(load_seg(tmp_path, 'p.png'))
    np.testing.assert_array_equal(out['gt_semantic_seg'], seg)
