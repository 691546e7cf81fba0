"""Geometric transforms (mmseg 0.x names, arguments and draws): ``Resize``, ``RandomCrop``, ``RandomFlip``, ``Pad``,
``ResizeToMultiple``, ``RandomRotate``, ``SegRescale``.

Random choices use numpy's global RNG in the same order as mmseg 0.x; the data loader seeds it
per sample (see ``mmseg_ddrnet.datasets.samplers``), so a seed fixes every augmentation.
"""
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ...registry import PIPELINES
from ...utils import ConfigError
from ...utils.checks import check as _check, int_pair as _int_pair, is_number as _is_number
from .image_ops import INTERPOLATIONS, imflip, impad, impad_to_multiple, imrescale, imresize, imrotate, rescale_size

Scale = Tuple[int, int]


@PIPELINES.register_module()
class Resize:
    """Resize the image (bilinear) and the label maps (nearest).

    The target scale is, in mmseg 0.x order: ``ratio_range`` times the single ``img_scale`` (or the
    image size when ``img_scale`` is None); else the one ``img_scale``; else one sampled from a list of
    scales (``multiscale_mode`` 'range': long and short edges drawn between them; 'value': one of them).
    A ``scale`` already in ``results`` (set by ``MultiScaleFlipAug``) is used as is.

    Args:
        img_scale: ``(w, h)`` or ``(long, short)`` with ``keep_ratio``; a list for multi-scale.
        multiscale_mode: ``'range'`` or ``'value'``.
        ratio_range: ``(min, max)`` factor applied to ``img_scale``.
        keep_ratio: keep the aspect ratio (fit into the scale) instead of resizing exactly.
    """

    def __init__(self, img_scale: Union[None, Scale, List[Scale]] = None, multiscale_mode: str = 'range',
                 ratio_range: Optional[Tuple[float, float]] = None, keep_ratio: bool = True):
        self.img_scale = None if img_scale is None else (
            [tuple(s) for s in img_scale] if isinstance(img_scale, list) else [tuple(img_scale)])
        if multiscale_mode not in ('range', 'value'):
            raise ConfigError(f"Resize: multiscale_mode must be 'range' or 'value', got {multiscale_mode!r}")
        if ratio_range is not None and self.img_scale is not None and len(self.img_scale) != 1:
            raise ConfigError('Resize: ratio_range needs a single img_scale (or none)')
        if ratio_range is None and self.img_scale is not None and multiscale_mode == 'range' \
                and len(self.img_scale) > 2:
            raise ConfigError("Resize: multiscale_mode='range' needs exactly two img_scales")
        self.multiscale_mode = multiscale_mode
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio

    @staticmethod
    def random_select(img_scales: List[Scale]) -> Tuple[Scale, int]:
        idx = np.random.randint(len(img_scales))
        return img_scales[idx], idx

    @staticmethod
    def random_sample(img_scales: List[Scale]) -> Tuple[Scale, None]:
        longs = [max(s) for s in img_scales]
        shorts = [min(s) for s in img_scales]
        long_edge = np.random.randint(min(longs), max(longs) + 1)
        short_edge = np.random.randint(min(shorts), max(shorts) + 1)
        return (long_edge, short_edge), None

    @staticmethod
    def random_sample_ratio(img_scale: Scale, ratio_range: Tuple[float, float]) -> Tuple[Scale, None]:
        low, high = ratio_range
        ratio = np.random.random_sample() * (high - low) + low
        return (int(img_scale[0] * ratio), int(img_scale[1] * ratio)), None

    def random_scale(self, results: dict) -> None:
        if self.ratio_range is not None:
            if self.img_scale is None:
                h, w = results['img'].shape[:2]
                scale, idx = self.random_sample_ratio((w, h), self.ratio_range)
            else:
                scale, idx = self.random_sample_ratio(self.img_scale[0], self.ratio_range)
        elif self.img_scale is None:
            raise ConfigError('Resize: img_scale is None and no ratio_range or scale given')
        elif len(self.img_scale) == 1:
            scale, idx = self.img_scale[0], 0
        elif self.multiscale_mode == 'range':
            scale, idx = self.random_sample(self.img_scale)
        else:
            scale, idx = self.random_select(self.img_scale)
        results['scale'] = scale
        results['scale_idx'] = idx

    def __call__(self, results: dict) -> dict:
        if 'scale' not in results:
            self.random_scale(results)
        h, w = results['img'].shape[:2]
        new_w, new_h = self.target_size((w, h), results['scale'])
        return self.apply(results, imresize(results['img'], (new_w, new_h)), (w, h))

    def target_size(self, size: Tuple[int, int], scale: Scale) -> Tuple[int, int]:
        """``(new_w, new_h)`` of an image of ``size = (w, h)`` resized to ``scale``."""
        return rescale_size(size, scale)[0] if self.keep_ratio else (int(scale[0]), int(scale[1]))

    def apply(self, results: dict, img: np.ndarray, old_size: Tuple[int, int]) -> dict:
        """Store the resized ``img`` (or a stand-in of its shape) and its metas; resize the label maps."""
        (w, h), (new_h, new_w) = old_size, img.shape[:2]
        results.update(img=img, img_shape=img.shape, pad_shape=img.shape, keep_ratio=self.keep_ratio,
                       scale_factor=np.array([new_w / w, new_h / h] * 2, dtype=np.float32))
        for key in results.get('seg_fields', []):
            results[key] = imresize(results[key], (new_w, new_h), 'nearest')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(img_scale={self.img_scale}, multiscale_mode={self.multiscale_mode!r}, '
                f'ratio_range={self.ratio_range}, keep_ratio={self.keep_ratio})')


@PIPELINES.register_module()
class RandomCrop:
    """Crop a random ``crop_size = (h, w)`` window from the image and label maps.

    With ``cat_max_ratio < 1`` up to 10 windows are drawn until no single class (ignoring
    ``ignore_index``) covers ``cat_max_ratio`` or more of the window's labelled pixels.
    """

    def __init__(self, crop_size: Tuple[int, int], cat_max_ratio: float = 1.0, ignore_index: int = 255):
        if len(crop_size) != 2 or crop_size[0] <= 0 or crop_size[1] <= 0:
            raise ConfigError(f'RandomCrop: crop_size must be two positive sizes (h, w), got {crop_size}')
        self.crop_size = tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def get_crop_bbox(self, img: np.ndarray) -> Tuple[int, int, int, int]:
        margin_h = max(img.shape[0] - self.crop_size[0], 0)
        margin_w = max(img.shape[1] - self.crop_size[1], 0)
        offset_h = np.random.randint(0, margin_h + 1)
        offset_w = np.random.randint(0, margin_w + 1)
        return offset_h, offset_h + self.crop_size[0], offset_w, offset_w + self.crop_size[1]

    @staticmethod
    def crop(img: np.ndarray, crop_bbox: Tuple[int, int, int, int]) -> np.ndarray:
        y1, y2, x1, x2 = crop_bbox
        return img[y1:y2, x1:x2, ...]

    def _dominated(self, seg: np.ndarray) -> bool:
        """Whether one class covers ``cat_max_ratio`` or more of the labelled pixels (or only one is present)."""
        if seg.dtype == np.uint8:
            counts = cv2.calcHist([np.ascontiguousarray(seg)], [0], None, [256], [0, 256]).ravel()
            if 0 <= self.ignore_index < 256:
                counts[self.ignore_index] = 0
            counts = counts[counts > 0]
        else:
            labels, counts = np.unique(seg, return_counts=True)
            counts = counts[labels != self.ignore_index]
        return not (len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio)

    def __call__(self, results: dict) -> dict:
        bbox = self.choose_bbox(results)
        return self.apply(results, self.crop(results['img'], bbox), bbox)

    def choose_bbox(self, results: dict) -> Tuple[int, int, int, int]:
        """``(y1, y2, x1, x2)`` of the window (drawn again while one class dominates the label window)."""
        bbox = self.get_crop_bbox(results['img'])
        if self.cat_max_ratio < 1.0:
            for _ in range(10):
                if not self._dominated(self.crop(results['gt_semantic_seg'], bbox)):
                    break
                bbox = self.get_crop_bbox(results['img'])
        return bbox

    def apply(self, results: dict, img: np.ndarray, bbox: Tuple[int, int, int, int]) -> dict:
        """Store the cropped ``img`` and crop the label maps to ``bbox``."""
        results['img'] = img
        results['img_shape'] = img.shape
        for key in results.get('seg_fields', []):
            results[key] = self.crop(results[key], bbox)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size}, cat_max_ratio={self.cat_max_ratio})'


@PIPELINES.register_module()
class RandomFlip:
    """Flip image and label maps with probability ``prob`` (unless ``results['flip']`` is already set).

    ``flip_ratio`` is the old name of ``prob`` (accepted with a DeprecationWarning, as mmseg 0.x).
    """

    def __init__(self, prob: Optional[float] = None, direction: str = 'horizontal', *,
                 flip_ratio: Optional[float] = None):
        if flip_ratio is not None:
            if prob is not None:
                raise ConfigError('RandomFlip: give prob or its deprecated name flip_ratio, not both')
            warnings.warn('"flip_ratio" is deprecated in `RandomFlip`, please use "prob" instead', DeprecationWarning,
                          stacklevel=2)
            prob = flip_ratio
        if prob is not None and not 0 <= prob <= 1:
            raise ConfigError(f'RandomFlip: prob must lie in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ConfigError(f'RandomFlip: unknown direction {direction!r}')
        self.prob = prob
        self.direction = direction

    def __call__(self, results: dict) -> dict:
        if 'flip' not in results:
            if self.prob is None:
                raise ConfigError('RandomFlip: prob is None and no flip decided by MultiScaleFlipAug')
            results['flip'] = bool(np.random.rand() < self.prob)
        results.setdefault('flip_direction', self.direction)
        if results['flip']:
            results['img'] = imflip(results['img'], results['flip_direction'])
            for key in results.get('seg_fields', []):
                results[key] = imflip(results[key], results['flip_direction'])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@PIPELINES.register_module()
class Pad:
    """Pad the image (``pad_val``) and label maps (``seg_pad_val``) at the bottom and right.

    Exactly one of ``size = (h, w)`` and ``size_divisor`` is given.
    """

    def __init__(self, size: Optional[Tuple[int, int]] = None, size_divisor: Optional[int] = None,
                 pad_val: float = 0, seg_pad_val: int = 255):
        if (size is None) == (size_divisor is None):
            raise ConfigError('Pad: give exactly one of size and size_divisor')
        self.size = None if size is None else tuple(size)
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def __call__(self, results: dict) -> dict:
        img = results['img']
        if self.size is not None:
            padded = impad(img, self.size, self.pad_val)
        else:
            padded = impad_to_multiple(img, self.size_divisor, self.pad_val)
        results.update(img=padded, pad_shape=padded.shape, pad_fixed_size=self.size,
                       pad_size_divisor=self.size_divisor)
        for key in results.get('seg_fields', []):
            results[key] = impad(results[key], padded.shape[:2], self.seg_pad_val)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, size_divisor={self.size_divisor}, '
                f'pad_val={self.pad_val})')


@PIPELINES.register_module()
class ResizeToMultiple:
    """Resize image and label maps up to the next multiple of ``size_divisor`` (mmcv ``imresize_to_multiple``).

    Args:
        size_divisor: the divisor, an int or ``(w_divisor, h_divisor)``.
        interpolation: the image's interpolation (None: bilinear); label maps use nearest.
    """

    def __init__(self, size_divisor: Union[int, Tuple[int, int]] = 32, interpolation: Optional[str] = None):
        self._divisor = _int_pair(size_divisor, 'ResizeToMultiple: size_divisor')
        _check(interpolation is None or interpolation in INTERPOLATIONS,
               f'ResizeToMultiple: interpolation must be one of {sorted(INTERPOLATIONS)} or None, '
               f'got {interpolation!r}')
        self.size_divisor = size_divisor
        self.interpolation = interpolation

    def target_size(self, shape: Sequence[int]) -> Tuple[int, int]:
        """``(w, h)`` rounded up to the divisor's multiples."""
        h, w = shape[:2]
        return tuple(int(np.ceil(s / d)) * d for s, d in zip((w, h), self._divisor))

    def __call__(self, results: dict) -> dict:
        img = imresize(results['img'], self.target_size(results['img'].shape), self.interpolation or 'bilinear')
        results.update(img=img, img_shape=img.shape, pad_shape=img.shape)
        for key in results.get('seg_fields', []):
            results[key] = imresize(results[key], self.target_size(results[key].shape), 'nearest')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size_divisor={self.size_divisor}, interpolation={self.interpolation})'


@PIPELINES.register_module()
class RandomRotate:
    """Rotate image (bilinear) and label maps (nearest) with probability ``prob``.

    Draws ``rand() < prob``, then the angle ``uniform(min, max)`` (always, as mmseg 0.x).

    Args:
        prob: the rotation probability.
        degree: the angle range ``(min, max)`` in degrees (clockwise), or ``d`` for ``(-d, d)``.
        pad_val: the image's border value; seg_pad_val: the label maps' border value.
        center: the rotation centre ``(x, y)`` (None: the image centre).
        auto_bound: enlarge the output to hold the whole rotated image (not with ``center``).
    """

    def __init__(self, prob: float, degree: Union[float, Tuple[float, float]], pad_val: float = 0,
                 seg_pad_val: float = 255, center: Optional[Tuple[float, float]] = None, auto_bound: bool = False):
        _check(_is_number(prob) and 0 <= prob <= 1, f'RandomRotate: prob must lie in [0, 1], got {prob!r}')
        if _is_number(degree):
            _check(degree > 0, f'RandomRotate: degree must be positive, got {degree}')
            degree = (-degree, degree)
        _check(isinstance(degree, (list, tuple)) and len(degree) == 2 and all(map(_is_number, degree)),
               f'RandomRotate: degree must be a number or a (min, max) pair, got {degree!r}')
        _check(center is None or (isinstance(center, (list, tuple)) and len(center) == 2),
               f'RandomRotate: center must be None or (x, y), got {center!r}')
        _check(not (center is not None and auto_bound), 'RandomRotate: auto_bound conflicts with center')
        self.prob = prob
        self.degree = tuple(degree)
        self.pal_val = pad_val  # mmseg 0.x's attribute name
        self.seg_pad_val = seg_pad_val
        self.center = None if center is None else tuple(center)
        self.auto_bound = auto_bound

    @property
    def pad_val(self) -> float:
        return self.pal_val

    def __call__(self, results: dict) -> dict:
        rotate = bool(np.random.rand() < self.prob)
        degree = np.random.uniform(min(*self.degree), max(*self.degree))
        if rotate:
            results['img'] = imrotate(results['img'], degree, self.center, self.pal_val, 'bilinear', self.auto_bound)
            for key in results.get('seg_fields', []):
                results[key] = imrotate(results[key], degree, self.center, self.seg_pad_val, 'nearest',
                                        self.auto_bound)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, degree={self.degree}, pad_val={self.pal_val}, '
                f'seg_pad_val={self.seg_pad_val}, center={self.center}, auto_bound={self.auto_bound})')


@PIPELINES.register_module()
class SegRescale:
    """Rescale the label maps (nearest) by ``scale_factor``; the image is left alone.

    Args:
        scale_factor: the factor (positive); 1 leaves the maps as they are.
    """

    def __init__(self, scale_factor: float = 1):
        _check(_is_number(scale_factor) and scale_factor > 0,
               f'SegRescale: scale_factor must be a positive number, got {scale_factor!r}')
        self.scale_factor = scale_factor

    def __call__(self, results: dict) -> dict:
        if self.scale_factor != 1:
            for key in results.get('seg_fields', []):
                results[key] = imrescale(results[key], self.scale_factor, 'nearest')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale_factor={self.scale_factor})'
