"""Training and test transforms with mmseg 0.x names, arguments and semantics.

Random choices use numpy's global RNG in the same order as mmseg 0.x; the data loader seeds it
per sample (see ``mmseg_ddrnet.datasets.samplers``), so a seed fixes every augmentation.
"""
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ...registry import PIPELINES
from ...utils import ConfigError
from .geometric import imflip, impad, impad_to_multiple, imresize, rescale_size

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
class Normalize:
    """``(img - mean) / std`` in float32, after BGR → RGB when ``to_rgb``; records ``img_norm_cfg``."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True):
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)
        if np.any(self.std == 0):
            raise ConfigError(f'Normalize: std must not contain 0, got {list(std)}')
        self.to_rgb = to_rgb

    def __call__(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        channels = img.shape[2]
        if self.mean.size not in (1, channels) or self.std.size not in (1, channels):
            raise ConfigError(f'Normalize: mean and std have {self.mean.size} and {self.std.size} values but the '
                              f'image {results.get("filename", "")} has {channels} channels')
        mean = np.broadcast_to(self.mean, (channels,))
        stdinv = np.broadcast_to((1.0 / self.std.astype(np.float64)).astype(np.float32), (channels,))
        order = [2, 1, 0] if self.to_rgb and channels == 3 else list(range(channels))  # BGR -> RGB
        if img.dtype == np.uint8 and channels <= 4:
            results['img'] = _normalize_uint8(img, mean, stdinv, order)
        else:
            results['img'] = (img[..., order].astype(np.float32) - mean) * stdinv
        results['img_norm_cfg'] = dict(mean=self.mean, std=self.std, to_rgb=self.to_rgb)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(mean={self.mean.tolist()}, std={self.std.tolist()}, to_rgb={self.to_rgb})'



def _normalize_uint8(img: np.ndarray, mean: np.ndarray, stdinv: np.ndarray, order: List[int]) -> np.ndarray:
    """``(img[..., order] - mean) * stdinv`` by one float32 table lookup per channel plane.

    The result is an HWC view of channel-planar (CHW) memory, so that the CHW tensor the
    formatting transforms make from it needs no copy.
    """
    h, w, channels = img.shape
    levels = np.arange(256, dtype=np.float32)
    planes = cv2.split(np.ascontiguousarray(img)) if channels > 1 else [np.ascontiguousarray(img[..., 0])]
    out = np.empty((channels, h, w), np.float32)
    for c, src in enumerate(order):
        cv2.LUT(planes[src], (levels - mean[c]) * stdinv[c], dst=out[c])
    return out.transpose(1, 2, 0)
