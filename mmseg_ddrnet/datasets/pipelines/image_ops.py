"""Image geometry helpers with mmcv 1.x semantics (``imrescale``, ``imresize``, ``impad``, ``imrotate``)."""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ...utils import ConfigError

INTERPOLATIONS = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC,
                  'area': cv2.INTER_AREA, 'lanczos': cv2.INTER_LANCZOS4}


def rescale_size(old_size: Tuple[int, int], scale: Union[float, Sequence[int]]) -> Tuple[Tuple[int, int], float]:
    """``((new_w, new_h), factor)`` fitting ``(w, h)`` into ``scale`` (long, short edge) or by a factor."""
    w, h = old_size
    if isinstance(scale, (float, int)):
        if scale <= 0:
            raise ConfigError(f'a rescale factor must be positive, got {scale}')
        factor = float(scale)
    else:
        factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return (int(w * factor + 0.5), int(h * factor + 0.5)), factor


def imresize(img: np.ndarray, size: Tuple[int, int], interpolation: str = 'bilinear') -> np.ndarray:
    """Resize to ``size = (w, h)`` with cv2."""
    out = cv2.resize(img, tuple(int(s) for s in size), interpolation=INTERPOLATIONS[interpolation])
    if img.ndim == 3 and out.ndim == 2:  # cv2 drops a trailing channel axis of 1
        out = out[..., None]
    return out


def imrescale(img: np.ndarray, scale, interpolation: str = 'bilinear') -> np.ndarray:
    """Resize keeping the aspect ratio so the image fits ``scale`` (see :func:`rescale_size`)."""
    h, w = img.shape[:2]
    new_size, _ = rescale_size((w, h), scale)
    return imresize(img, new_size, interpolation)


def impad(img: np.ndarray, shape: Tuple[int, int], pad_val: float = 0) -> np.ndarray:
    """Pad at the bottom and right to ``shape = (h, w)``."""
    h, w = img.shape[:2]
    if shape[0] < h or shape[1] < w:
        raise ConfigError(f'Pad: cannot pad an image of {h}x{w} (HxW) to the smaller size {shape[0]}x{shape[1]}')
    if (h, w) == tuple(shape):
        return img
    out = np.full((shape[0], shape[1]) + img.shape[2:], pad_val, dtype=img.dtype)
    out[:h, :w] = img
    return out


def impad_to_multiple(img: np.ndarray, divisor: int, pad_val: float = 0) -> np.ndarray:
    """Pad at the bottom and right so both sides are multiples of ``divisor``."""
    h, w = img.shape[:2]
    return impad(img, (-(-h // divisor) * divisor, -(-w // divisor) * divisor), pad_val)


def imflip(img: np.ndarray, direction: str = 'horizontal') -> np.ndarray:
    """A flipped (contiguous) copy; ``direction`` is horizontal, vertical or diagonal."""
    code = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}[direction]
    out = cv2.flip(img, code)
    if img.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


def imrotate(img: np.ndarray, angle: float, center: Optional[Tuple[float, float]] = None,
             border_value: Union[float, Sequence[float]] = 0, interpolation: str = 'bilinear',
             auto_bound: bool = False) -> np.ndarray:
    """Rotate by ``angle`` degrees clockwise (mmcv ``imrotate``); ``auto_bound`` enlarges to fit.

    ``border_value`` goes to OpenCV unchanged (a number fills the first channel only, as in mmcv).
    """
    h, w = img.shape[:2]
    if center is None:
        center = ((w - 1) * 0.5, (h - 1) * 0.5)
    matrix = cv2.getRotationMatrix2D(tuple(center), -angle, 1.0)
    if auto_bound:
        cos, sin = np.abs(matrix[0, 0]), np.abs(matrix[0, 1])
        new_w, new_h = h * sin + w * cos, h * cos + w * sin
        matrix[0, 2] += (new_w - w) * 0.5
        matrix[1, 2] += (new_h - h) * 0.5
        w, h = int(np.round(new_w)), int(np.round(new_h))
    out = cv2.warpAffine(img, matrix, (w, h), flags=INTERPOLATIONS[interpolation],
                         borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)
    if img.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out
