"""Fused image ops of the data pipeline (numpy uint8 HWC images), with their reference implementations.

- :func:`resize_crop`: a window of a bilinearly resized image without resizing the rest (``Resize``
  followed by ``RandomCrop``). Reference: ``cv2.resize`` of the whole image, then the crop.
- :func:`read_png_rows`: the top rows of a PNG, decoding no further (the rows above a crop).
  Reference: ``cv2.imdecode`` of the whole image.

The compiled path of :func:`resize_crop` reproduces OpenCV's fixed-point arithmetic: its window
equals the reference's bit for bit with OpenCV 5 (OpenCV 4 rounds the last bytes of each row with
its scalar code, so a few pixels there can differ by one grey level).
"""
from typing import Optional, Tuple

import cv2
import numpy as np
import torch

from ..utils import DataError
from . import dispatch, png, selfcheck

Window = Tuple[int, int, int, int]  # (y1, y2, x1, x2) in the resized image, ends exclusive

#: Below this ratio of resized-image area to window area, resizing everything with OpenCV's
#: vectorised code is cheaper than the window kernel (same result either way).
_KERNEL_AREA_RATIO = 3.0


def resize_crop_reference(img: np.ndarray, size: Tuple[int, int], window: Window) -> np.ndarray:
    """``cv2.resize(img, (w, h), INTER_LINEAR)[y1:y2, x1:x2]`` for ``size = (h, w)``."""
    y1, y2, x1, x2 = window
    out = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)
    if out.ndim == 2 and img.ndim == 3:
        out = out[..., None]
    return out[y1:y2, x1:x2]


def resize_crop(img: np.ndarray, size: Tuple[int, int], window: Window, src_h: Optional[int] = None
                ) -> np.ndarray:
    """The ``window`` of uint8 HWC ``img`` bilinearly resized to ``size = (h, w)``.

    ``img`` may hold only the top rows of an image ``src_h`` rows high, as long as it holds the
    :func:`rows_needed` rows the window reads (the compiled kernel is then required).
    """
    src_h = img.shape[0] if src_h is None else int(src_h)
    h, w = int(size[0]), int(size[1])
    y1, y2, x1, x2 = (int(v) for v in window)
    if not (0 <= y1 < y2 <= h and 0 <= x1 < x2 <= w):
        raise ValueError(f'resize_crop: window {window} does not lie in the {h}x{w} image')
    full = img.shape[0] == src_h
    if full and (h, w) == img.shape[:2]:
        return img[y1:y2, x1:x2]  # cv2.resize to the same size is a copy
    ext = _select('resize_crop', img)
    if ext is None or (full and h * w < _KERNEL_AREA_RATIO * (y2 - y1) * (x2 - x1)):
        if not full:
            raise ValueError('resize_crop: a partial image needs the compiled mmcv_ext kernel')
        return resize_crop_reference(img, (h, w), (y1, y2, x1, x2))
    src = torch.from_numpy(np.ascontiguousarray(img.reshape(img.shape[:2] + (-1,))))
    out = ext.resize_crop(src, src_h, h, w, y1, y2, x1, x2).numpy()
    return out if img.ndim == 3 else out[..., 0]


def rows_needed(src_h: int, dst_h: int, y2: int) -> int:
    """How many top rows of a ``src_h``-row image the rows ``[0, y2)`` of its resize to ``dst_h`` read."""
    if y2 <= 0:
        return 0
    scale = 1.0 / (dst_h / src_h)
    f = float(np.float32((y2 - 1 + 0.5) * scale - 0.5))  # OpenCV's float source coordinate
    return int(min(max(np.floor(f) + 1, 0), src_h - 1)) + 1


def png_fast_size(data: bytes) -> Optional[Tuple[int, int]]:
    """``(height, width)`` of an image file that :func:`read_png_rows` can decode partially, else None."""
    return png.png_fast_size(data) if _select('read_png_rows') is not None else None


def read_png_rows(data: bytes, num_rows: Optional[int], filename: str) -> np.ndarray:
    """At least the top ``num_rows`` rows (all when None) of a colour image file, BGR uint8.

    8-bit RGB(A) PNGs are inflated only as far as those rows when the compiled kernels are
    available; anything else is decoded whole by OpenCV. DataError names a corrupt file.
    """
    ext = _select('read_png_rows')
    if ext is not None:
        img = png.decode_png_rows(data, num_rows, ext.png_unfilter, filename)
        if img is not None:
            return img
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f'cannot decode image {filename} (corrupt, truncated or not an image)')
    return img


def _select(op: str, img: Optional[np.ndarray] = None):
    unsupported = '' if img is None or img.dtype == np.uint8 else f'no kernel for dtype {img.dtype}'
    return dispatch.select(op, unsupported, verify=lambda ext: selfcheck.problem(op, _CPU, ext, _CHECKS[op]))


_CPU = torch.device('cpu')


def _check_resize_crop(ext, device) -> str:
    """The kernel against cv2.resize + crop on a fixed image, whole and from its top rows (1 grey level of slack:
    OpenCV 4 rounds the ends of rows with its scalar code)."""
    img = np.random.RandomState(5).randint(0, 256, (13, 17, 3)).astype(np.uint8)
    size, window = (29, 37), (3, 20, 5, 30)
    expected = resize_crop_reference(img, size, window).astype(np.int16)
    for rows in (13, rows_needed(13, size[0], window[1])):
        src = torch.from_numpy(np.ascontiguousarray(img[:rows]))
        got, err = selfcheck.guarded(device, lambda: ext.resize_crop(src, 13, *size, *window).numpy())
        if err:
            return err
        if got.shape != expected.shape or np.abs(got.astype(np.int16) - expected).max() > 1:
            return f'the window of a 13x17 image resized to {size} from its top {rows} rows differs from OpenCV'
    return ''


def _check_read_png_rows(ext, device) -> str:
    """Decoding a fixed PNG (whole, then its top rows) against cv2.imdecode, exactly."""
    img = np.random.RandomState(6).randint(0, 256, (9, 11, 3)).astype(np.uint8)
    data = cv2.imencode('.png', img)[1].tobytes()
    for rows in (None, 4):
        got, err = selfcheck.guarded(device, lambda: png.decode_png_rows(data, rows, ext.png_unfilter, '<self-check>'))
        if err:
            return err
        if got is None or got.shape[0] < (rows or 9) or not np.array_equal(got[:rows or 9], img[:rows or 9]):
            return f'the {"whole image" if rows is None else f"top {rows} rows"} of a PNG differ from OpenCV'
    return ''


_CHECKS = {'resize_crop': _check_resize_crop, 'read_png_rows': _check_read_png_rows}
