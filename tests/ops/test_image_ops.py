"""ops.resize_crop (the window of a bilinear resize) and ops.read_png_rows against their references."""
import cv2
import numpy as np
import pytest

from mmseg_ddrnet import ops
from mmseg_ddrnet.ops import image
from mmseg_ddrnet.utils import DataError
from prerequisites import require_ext

#: OpenCV 5 rounds every byte of the vertical pass as its vector code, which the kernel reproduces.
EXACT = int(cv2.__version__.split('.')[0]) >= 5


def kernel():
    """The loaded ``mmcv_ext._C`` (skips when it is not built, fails under CI or MMCV_EXT_REQUIRED=1)."""
    return require_ext()


def _assert_same(out, expected):
    assert out.shape == expected.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(np.int16) - expected.astype(np.int16))
    if EXACT:
        assert diff.max(initial=0) == 0
    else:  # OpenCV 4: its scalar rounding of the last bytes of each row
        assert diff.max(initial=0) <= 1 and (diff > 0).mean() < 0.02


def _random_case(rng):
    h, w = int(rng.integers(1, 200)), int(rng.integers(1, 200))
    channels = int(rng.choice([1, 3, 4]))
    img = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    if rng.random() < 0.5:  # smooth images: the fractions, not the noise, decide the rounding
        img = cv2.GaussianBlur(img, (7, 7), 3).reshape(h, w, channels)
    dh, dw = int(rng.integers(1, 400)), int(rng.integers(1, 400))
    y1, x1 = int(rng.integers(0, dh)), int(rng.integers(0, dw))
    return img, (dh, dw), (y1, int(rng.integers(y1 + 1, dh + 1)), x1, int(rng.integers(x1 + 1, dw + 1)))


def test_kernel_window_equals_the_crop_of_cv2_resize():
    import torch
    ext, rng = kernel(), np.random.default_rng(0)
    for _ in range(150):
        img, (dh, dw), window = _random_case(rng)
        out = ext.resize_crop(torch.from_numpy(img), img.shape[0], dh, dw, *window).numpy()
        _assert_same(out, image.resize_crop_reference(img, (dh, dw), window))


@pytest.mark.parametrize('src,dst', [((1024, 2048), (2048, 4096)), ((1024, 2048), (512, 1024)),
                                     ((100, 200), (300, 600)), ((100, 200), (50, 101)), ((1, 1), (5, 7)),
                                     ((7, 5), (1, 1)), ((1024, 2048), (1311, 2622))])
def test_kernel_exact_scales_and_borders(src, dst):
    import torch
    ext = kernel()
    img = np.random.default_rng(1).integers(0, 256, src + (3,), dtype=np.uint8)
    out = ext.resize_crop(torch.from_numpy(img), src[0], dst[0], dst[1], 0, dst[0], 0, dst[1]).numpy()
    _assert_same(out, cv2.resize(img, dst[::-1], interpolation=cv2.INTER_LINEAR))


def test_resize_crop_dispatch_grey_images_and_identity():
    kernel()
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (60, 80), dtype=np.uint8)
    out = ops.image.resize_crop(grey, (150, 200), (10, 60, 20, 90))
    assert out.shape == (50, 70)
    _assert_same(out, cv2.resize(grey, (200, 150))[10:60, 20:90])
    same = ops.image.resize_crop(grey, (60, 80), (5, 9, 1, 3))
    np.testing.assert_array_equal(same, grey[5:9, 1:3])
    with ops.use_ext(False):  # the reference: resize everything, then crop
        np.testing.assert_array_equal(ops.image.resize_crop(grey, (150, 200), (10, 60, 20, 90)),
                                      cv2.resize(grey, (200, 150))[10:60, 20:90])


def test_rows_needed_is_what_the_kernel_reads():
    import torch
    ext, rng = kernel(), np.random.default_rng(3)
    img = rng.integers(0, 256, (97, 61, 3), dtype=np.uint8)
    for dst_h in (13, 48, 97, 150, 194, 311):
        full = cv2.resize(img, (90, dst_h))
        for y2 in (1, dst_h // 3 + 1, dst_h):
            rows = image.rows_needed(97, dst_h, y2)
            assert rows == ext.resize_crop_rows_needed(97, dst_h, y2) and 1 <= rows <= 97
            top = img[:rows]
            out = image.resize_crop(top, (dst_h, 90), (0, y2, 0, 90), src_h=97)
            _assert_same(out, full[:y2])
            if rows > 1:
                with pytest.raises(RuntimeError, match=f'holds {rows - 1} rows; the window needs {rows}'):
                    ext.resize_crop(torch.from_numpy(np.ascontiguousarray(img[:rows - 1])), 97, dst_h, 90,
                                    0, y2, 0, 90)


def test_resize_crop_bad_windows_and_partial_images_without_the_kernel():
    img = np.zeros((10, 10, 3), np.uint8)
    for window in [(0, 0, 0, 5), (0, 21, 0, 5), (-1, 3, 0, 5), (0, 5, 4, 3)]:
        with pytest.raises(ValueError, match='does not lie in the 20x20 image'):
            ops.image.resize_crop(img, (20, 20), window)
    with ops.use_ext(False), pytest.raises(ValueError, match='partial image needs the compiled'):
        ops.image.resize_crop(img[:5], (20, 20), (0, 5, 0, 5), src_h=10)


def test_read_png_rows_compiled_and_reference(tmp_path):
    kernel()
    rng = np.random.default_rng(4)
    img = cv2.GaussianBlur(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8), (5, 5), 2)
    ok, png = cv2.imencode('.png', img)
    data = png.tobytes()
    top = ops.image.read_png_rows(data, 10, 'x.png')
    assert top.shape == (10, 48, 3)  # the compiled path stops after the rows asked for
    np.testing.assert_array_equal(top, img[:10])
    with ops.use_ext(False):
        np.testing.assert_array_equal(ops.image.read_png_rows(data, 10, 'x.png'), img)  # whole image
    ok, jpg = cv2.imencode('.jpg', img)
    np.testing.assert_array_equal(ops.image.read_png_rows(jpg.tobytes(), 10, 'x.jpg'),
                                  cv2.imdecode(jpg, cv2.IMREAD_COLOR))
    with pytest.raises(DataError, match='cannot decode image broken.jpg'):
        ops.image.read_png_rows(jpg.tobytes()[:20], None, 'broken.jpg')
