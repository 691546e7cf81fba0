"""The remaining mmseg 0.x (v0.30) image/label transforms, with the same arguments, defaults and draws.

``ResizeToMultiple``, ``Rerange``, ``CLAHE``, ``RandomRotate``, ``RGB2Gray``, ``AdjustGamma``,
``SegRescale``, ``RandomCutOut``, and the formatting steps ``Transpose`` and ``ToDataContainer``
(``RandomMosaic`` is in :mod:`.transforms_mosaic`). Random choices use numpy's global RNG in mmseg 0.x's order
(the data loader seeds it per sample). Transforms that edit pixels in place in mmseg work on a copy
here, with the same result.
"""
from numbers import Number
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ...registry import PIPELINES
from ...utils import ConfigError, DataError
from .geometric import INTERPOLATIONS, imresize, imrescale, imrotate


def _check(ok: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def _is_number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _int_pair(value, name: str) -> Tuple[int, int]:
    """``value`` as ``(a, a)`` or its two positive ints; ConfigError naming ``name`` otherwise."""
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (list, tuple)) else ()
    _check(len(pair) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair),
           f'{name} must be a positive int or a pair of them, got {value!r}')
    return pair


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


@PIPELINES.register_module()
class Transpose:
    """Transpose ``results[key]`` by ``order`` for each key (a numpy array, or a tensor: ``permute``).

    Args:
        keys: the keys to transpose.
        order: the axis order, e.g. ``(2, 0, 1)``.
    """

    def __init__(self, keys: Sequence[str], order: Sequence[int]):
        _check(isinstance(keys, (list, tuple)) and all(isinstance(k, str) for k in keys),
               f'Transpose: keys must be a list of result keys, got {keys!r}')
        _check(isinstance(order, (list, tuple)) and sorted(order) == list(range(len(order))),
               f'Transpose: order must be a permutation of 0..n-1, got {order!r}')
        self.keys = keys
        self.order = order

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            value = results[key]
            results[key] = value.permute(*self.order) if hasattr(value, 'permute') else value.transpose(self.order)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys}, order={self.order})'


_DATA_CONTAINER_ARGS = ('stack', 'padding_value', 'cpu_only', 'pad_dims')


def _check_field(field) -> None:
    """A ToDataContainer field: ``dict(key=..., **mmcv DataContainer arguments)``."""
    _check(isinstance(field, dict) and isinstance(field.get('key'), str),
           f"ToDataContainer: each of fields must be a dict with a str 'key', got {field!r}")
    unknown = sorted(set(field) - {'key', *_DATA_CONTAINER_ARGS})
    _check(not unknown, f'ToDataContainer: fields entry {field["key"]!r} has unknown DataContainer arguments '
                        f'{unknown} (known: {list(_DATA_CONTAINER_ARGS)})')
    pad_dims = field.get('pad_dims', 2)
    _check(pad_dims in (None, 1, 2, 3),
           f'ToDataContainer: pad_dims of {field["key"]!r} must be None, 1, 2 or 3, got {pad_dims!r}')


@PIPELINES.register_module()
class ToDataContainer:
    """mmseg 0.x's wrapping of results into ``mmcv.DataContainer``: a validated pass-through here.

    There is no mmcv DataContainer in this project: :func:`mmseg_ddrnet.datasets.collate` batches the
    plain values (stacking, padding img with 0 and labels with 255), so the results are returned
    unchanged. ``fields`` is checked as mmcv would take it, and each field's key must be present.

    Args:
        fields: ``dict(key=..., stack=..., padding_value=..., cpu_only=..., pad_dims=...)`` entries.
    """

    def __init__(self, fields: Sequence[dict] = (dict(key='img', stack=True), dict(key='gt_semantic_seg'))):
        _check(isinstance(fields, (list, tuple)), f'ToDataContainer: fields must be a list of dicts, got {fields!r}')
        for field in fields:
            _check_field(field)
        self.fields = fields

    def __call__(self, results: dict) -> dict:
        missing = [f['key'] for f in self.fields if f['key'] not in results]
        if missing:
            raise ConfigError(f'ToDataContainer: fields {missing} are not produced by the pipeline before it '
                              f'(available: {sorted(results)})')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(fields={self.fields})'
