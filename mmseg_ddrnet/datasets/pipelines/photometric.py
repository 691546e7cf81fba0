"""Photometric transforms (mmseg 0.x names, arguments and draws): ``PhotoMetricDistortion`` (through 256-entry
tables), ``Normalize``, ``Rerange``, ``CLAHE``, ``RGB2Gray``, ``AdjustGamma``, and the occluding ``RandomCutOut``.

Transforms that edit pixels in place in mmseg work on a copy here, with the same result.
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ...registry import PIPELINES
from ...utils import ConfigError, DataError
from ...utils.checks import check as _check, int_pair as _int_pair, is_number as _is_number

_LEVELS = np.arange(256, dtype=np.float32)


def _affine_table(alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """uint8 table of ``clip(v * alpha + beta, 0, 255)`` truncated, as mmseg's ``convert``."""
    return np.clip(_LEVELS * np.float32(alpha) + np.float32(beta), 0, 255).astype(np.uint8)


def _apply_affine(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    if img.dtype == np.uint8:
        return cv2.LUT(img, _affine_table(alpha, beta))
    out = img.astype(np.float32) * np.float32(alpha) + np.float32(beta)
    return np.clip(out, 0, 255).astype(np.uint8)


@PIPELINES.register_module()
class PhotoMetricDistortion:
    """Random brightness, contrast, saturation and hue changes, each applied with probability 1/2.

    Order (as mmseg 0.x): brightness; contrast first or last (coin flip); saturation; hue.
    Works on BGR images; the output is uint8.

    Args:
        brightness_delta: the largest brightness shift.
        contrast_range: range of the contrast factor.
        saturation_range: range of the saturation factor.
        hue_delta: the largest hue shift (OpenCV hue units, 0–179).
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Tuple[float, float] = (0.5, 1.5),
                 saturation_range: Tuple[float, float] = (0.5, 1.5), hue_delta: int = 18):
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def brightness(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _apply_affine(img, beta=np.random.uniform(-self.brightness_delta, self.brightness_delta))
        return img

    def contrast(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _apply_affine(img, alpha=np.random.uniform(self.contrast_lower, self.contrast_upper))
        return img

    def saturation(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            alpha = np.random.uniform(self.saturation_lower, self.saturation_upper)
            hsv = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.uint8), cv2.COLOR_BGR2HSV)
            hsv[..., 1] = cv2.LUT(hsv[..., 1], _affine_table(alpha))
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def hue(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            delta = np.random.randint(-self.hue_delta, self.hue_delta)
            hsv = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.uint8), cv2.COLOR_BGR2HSV)
            table = ((np.arange(256) + delta) % 180).astype(np.uint8)
            hsv[..., 0] = cv2.LUT(hsv[..., 0], table)
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def __call__(self, results: dict) -> dict:
        img = self.brightness(results['img'])
        mode = np.random.randint(2)
        if mode == 1:
            img = self.contrast(img)
        img = self.saturation(img)
        img = self.hue(img)
        if mode == 0:
            img = self.contrast(img)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range=({self.contrast_lower}, {self.contrast_upper}), '
                f'saturation_range=({self.saturation_lower}, {self.saturation_upper}), '
                f'hue_delta={self.hue_delta})')


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


@PIPELINES.register_module()
class Rerange:
    """Linearly map the image's ``[min, max]`` onto ``[min_value, max_value]`` (float output).

    Args:
        min_value: the new minimum.
        max_value: the new maximum (greater than ``min_value``).
    """

    def __init__(self, min_value: float = 0, max_value: float = 255):
        _check(_is_number(min_value), f'Rerange: min_value must be a number, got {min_value!r}')
        _check(_is_number(max_value), f'Rerange: max_value must be a number, got {max_value!r}')
        _check(min_value < max_value, f'Rerange: min_value ({min_value}) must be less than max_value ({max_value})')
        self.min_value = min_value
        self.max_value = max_value

    def __call__(self, results: dict) -> dict:
        img = results['img']
        low, high = np.min(img), np.max(img)
        if not low < high:
            raise DataError(f'Rerange: the image {results.get("filename", "")} is constant ({low}); '
                            'it has no range to rerange')
        img = (img - low) / (high - low)
        results['img'] = img * (self.max_value - self.min_value) + self.min_value
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(min_value={self.min_value}, max_value={self.max_value})'


@PIPELINES.register_module()
class CLAHE:
    """Contrast Limited Adaptive Histogram Equalization of each channel (OpenCV's, on uint8 values).

    Args:
        clip_limit: the contrast-limiting threshold.
        tile_grid_size: the number of tiles ``(rows, columns)``.
    """

    def __init__(self, clip_limit: float = 40.0, tile_grid_size: Tuple[int, int] = (8, 8)):
        _check(_is_number(clip_limit), f'CLAHE: clip_limit must be a number, got {clip_limit!r}')
        _check(isinstance(tile_grid_size, (list, tuple)),
               f'CLAHE: tile_grid_size must be a pair of positive ints, got {tile_grid_size!r}')
        self.tile_grid_size = _int_pair(tile_grid_size, 'CLAHE: tile_grid_size')
        self.clip_limit = clip_limit
        self._clahe = None

    def _equalize(self, channel: np.ndarray) -> np.ndarray:
        if self._clahe is None:  # cv2 objects do not pickle: made in the worker
            self._clahe = cv2.createCLAHE(self.clip_limit, self.tile_grid_size)
        return self._clahe.apply(np.array(channel, dtype=np.uint8))

    def __call__(self, results: dict) -> dict:
        img = np.array(results['img'])
        if img.ndim == 2:
            results['img'] = self._equalize(img).astype(img.dtype)
            return results
        for i in range(img.shape[2]):
            img[:, :, i] = self._equalize(img[:, :, i])
        results['img'] = img
        return results

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _clahe=None)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(clip_limit={self.clip_limit}, tile_grid_size={self.tile_grid_size})'


@PIPELINES.register_module()
class RGB2Gray:
    """The ``weights``-weighted sum of the channels (float64), repeated ``out_channels`` times.

    Args:
        out_channels: the output channels (None: as many as the input has).
        weights: one weight per input channel (for BGR images give them in B, G, R order).
    """

    def __init__(self, out_channels: Optional[int] = None, weights: Sequence[float] = (0.299, 0.587, 0.114)):
        _check(out_channels is None or (isinstance(out_channels, int) and out_channels > 0),
               f'RGB2Gray: out_channels must be None or a positive int, got {out_channels!r}')
        _check(isinstance(weights, (list, tuple)) and len(weights) > 0 and all(map(_is_number, weights)),
               f'RGB2Gray: weights must be a tuple of numbers, got {weights!r}')
        self.out_channels = out_channels
        self.weights = tuple(weights)

    def __call__(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != len(self.weights):
            raise ConfigError(f'RGB2Gray: weights has {len(self.weights)} values but the image '
                              f'{results.get("filename", "")} has shape {img.shape}')
        weights = np.array(self.weights).reshape((1, 1, -1))
        gray = (img * weights).sum(2, keepdims=True)
        img = gray.repeat(self.out_channels or weights.shape[2], axis=2)
        results.update(img=img, img_shape=img.shape)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(out_channels={self.out_channels}, weights={self.weights})'


@PIPELINES.register_module()
class AdjustGamma:
    """Gamma correction by the uint8 table ``(i / 255) ** (1 / gamma) * 255`` (truncated).

    Args:
        gamma: the gamma (positive).
    """

    def __init__(self, gamma: float = 1.0):
        _check(_is_number(gamma) and gamma > 0, f'AdjustGamma: gamma must be a positive number, got {gamma!r}')
        self.gamma = gamma
        inv_gamma = 1.0 / gamma
        # element by element, as mmseg 0.x (scalar power; a vectorised one may round differently)
        self.table = np.array([(i / 255.0) ** inv_gamma * 255 for i in np.arange(256)]).astype('uint8')

    def __call__(self, results: dict) -> dict:
        results['img'] = cv2.LUT(np.array(results['img'], dtype=np.uint8), self.table)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(gamma={self.gamma})'


def _cutout_candidates(cutout_shape, cutout_ratio) -> Tuple[bool, list]:
    """``(with_ratio, candidates)`` of RandomCutOut: one or a list of ``(w, h)`` shapes or ratios."""
    _check((cutout_shape is None) != (cutout_ratio is None),
           'RandomCutOut: give exactly one of cutout_shape and cutout_ratio')
    with_ratio = cutout_ratio is not None
    name, value = ('cutout_ratio', cutout_ratio) if with_ratio else ('cutout_shape', cutout_shape)
    candidates = value if isinstance(value, list) else [value]
    _check(all(isinstance(c, (list, tuple)) and len(c) == 2 and all(map(_is_number, c)) for c in candidates),
           f'RandomCutOut: {name} must be a (w, h) pair or a list of them, got {value!r}')
    return with_ratio, candidates


@PIPELINES.register_module()
class RandomCutOut:
    """With probability ``prob`` fill random rectangles with ``fill_in`` (and ``seg_fill_in`` in the labels).

    Draws ``rand() < prob``; then the number of holes in ``[n_holes[0], n_holes[1]]``; then per hole
    its top-left ``x1``, ``y1`` and the candidate index (mmseg 0.x's order).

    Args:
        prob: the cutout probability.
        n_holes: the number of holes, or a ``(min, max)`` range (``0 <= min < max``).
        cutout_shape: a ``(w, h)`` or a list of them to choose from.
        cutout_ratio: a ``(w, h)`` fraction of the image size or a list of them (not with ``cutout_shape``).
        fill_in: the image value of the holes.
        seg_fill_in: the label of the holes (0-255); None leaves the labels alone.
    """

    def __init__(self, prob: float, n_holes: Union[int, Tuple[int, int]],
                 cutout_shape: Union[None, Tuple[int, int], List[Tuple[int, int]]] = None,
                 cutout_ratio: Union[None, Tuple[float, float], List[Tuple[float, float]]] = None,
                 fill_in: Union[float, Sequence[float]] = (0, 0, 0), seg_fill_in: Optional[int] = None):
        _check(_is_number(prob) and 0 <= prob <= 1, f'RandomCutOut: prob must lie in [0, 1], got {prob!r}')
        self.with_ratio, self.candidates = _cutout_candidates(cutout_shape, cutout_ratio)
        if isinstance(n_holes, (list, tuple)):
            _check(len(n_holes) == 2 and all(isinstance(n, int) for n in n_holes) and 0 <= n_holes[0] < n_holes[1],
                   f'RandomCutOut: n_holes must be an int or (min, max) with 0 <= min < max, got {n_holes!r}')
            n_holes = tuple(n_holes)
        else:
            _check(isinstance(n_holes, int) and n_holes >= 0,
                   f'RandomCutOut: n_holes must be an int or (min, max) with 0 <= min < max, got {n_holes!r}')
            n_holes = (n_holes, n_holes)
        _check(seg_fill_in is None or (isinstance(seg_fill_in, int) and 0 <= seg_fill_in <= 255),
               f'RandomCutOut: seg_fill_in must be None or an int in [0, 255], got {seg_fill_in!r}')
        self.prob = prob
        self.n_holes = n_holes
        self.fill_in = fill_in
        self.seg_fill_in = seg_fill_in

    def _hole(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """``(y1, y2, x1, x2)`` of one hole, drawn as mmseg 0.x does."""
        x1 = np.random.randint(0, w)
        y1 = np.random.randint(0, h)
        index = np.random.randint(0, len(self.candidates))
        cut_w, cut_h = self.candidates[index]
        if self.with_ratio:
            cut_w, cut_h = int(cut_w * w), int(cut_h * h)
        return y1, int(np.clip(y1 + cut_h, 0, h)), x1, int(np.clip(x1 + cut_w, 0, w))

    def __call__(self, results: dict) -> dict:
        if not np.random.rand() < self.prob:
            return results
        img = np.array(results['img'])
        h, w = img.shape[:2]
        segs = {key: np.array(results[key]) for key in results.get('seg_fields', [])} if self.seg_fill_in is not None else {}
        for _ in range(np.random.randint(self.n_holes[0], self.n_holes[1] + 1)):
            y1, y2, x1, x2 = self._hole(h, w)
            img[y1:y2, x1:x2, ...] = self.fill_in
            for seg in segs.values():
                seg[y1:y2, x1:x2] = self.seg_fill_in
        results['img'] = img
        results.update(segs)
        return results

    def __repr__(self) -> str:
        shapes = f'cutout_ratio={self.candidates}' if self.with_ratio else f'cutout_shape={self.candidates}'
        return (f'{self.__class__.__name__}(prob={self.prob}, n_holes={self.n_holes}, {shapes}, '
                f'fill_in={self.fill_in}, seg_fill_in={self.seg_fill_in})')
