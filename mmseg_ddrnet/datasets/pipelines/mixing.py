"""Mixing transforms: ``RandomMosaic`` (mmseg 0.x), four samples pasted around a random centre.

It needs ``results['mix_results']`` (the three other samples), which
:class:`mmseg_ddrnet.datasets.MultiImageMixDataset` fills through :meth:`RandomMosaic.get_indexes`.
"""
from typing import Sequence, Tuple

import numpy as np

from ...registry import PIPELINES
from ...utils import ConfigError
from .image_ops import imresize

Box = Tuple[int, int, int, int]
LOCATIONS = ('top_left', 'top_right', 'bottom_left', 'bottom_right')


@PIPELINES.register_module()
class RandomMosaic:
    """With probability ``prob``, the sample and three ``mix_results`` as one ``2h x 2w`` mosaic.

    Each part is resized keeping its ratio to fit ``img_scale`` (image bilinear, labels nearest),
    placed in its quadrant around the centre ``(uniform(*center_ratio_range) * w,
    uniform(*center_ratio_range) * h)`` and cropped at the border; the rest is ``pad_val`` /
    ``seg_pad_val``. Draws: ``rand() < prob``, then the centre's x and y (mmseg 0.x's order).
    ``img``, ``img_shape``, ``ori_shape`` and the label maps are replaced.

    Args:
        prob: the mosaic probability.
        img_scale: ``(h, w)`` of one part; the output is twice as high and wide.
        center_ratio_range: the range of the centre, as fractions of ``img_scale``.
        pad_val: the image's value outside the parts; seg_pad_val: the labels'.
    """

    def __init__(self, prob: float, img_scale: Tuple[int, int] = (640, 640),
                 center_ratio_range: Tuple[float, float] = (0.5, 1.5), pad_val: float = 0, seg_pad_val: int = 255):
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ConfigError(f'RandomMosaic: prob must lie in [0, 1], got {prob!r}')
        if not (isinstance(img_scale, (list, tuple)) and len(img_scale) == 2 and all(s > 0 for s in img_scale)):
            raise ConfigError(f'RandomMosaic: img_scale must be a tuple (h, w) of positive sizes, got {img_scale!r}')
        img_scale = tuple(img_scale)
        if len(center_ratio_range) != 2 or center_ratio_range[0] > center_ratio_range[1]:
            raise ConfigError(f'RandomMosaic: center_ratio_range must be (min, max), got {center_ratio_range!r}')
        self.prob = prob
        self.img_scale = img_scale
        self.center_ratio_range = center_ratio_range
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def get_indexes(self, dataset) -> list:
        """Three random indices of ``dataset`` (the other parts), drawn from ``np.random``."""
        return [np.random.randint(0, len(dataset)) for _ in range(3)]

    def __call__(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            if 'mix_results' not in results:
                raise ConfigError("RandomMosaic: results have no 'mix_results'; wrap the dataset in "
                                  "dict(type='MultiImageMixDataset', dataset=..., pipeline=[...RandomMosaic...])")
            parts = [results] + list(results['mix_results'][:3])
            center = (int(np.random.uniform(*self.center_ratio_range) * self.img_scale[1]),
                      int(np.random.uniform(*self.center_ratio_range) * self.img_scale[0]))
            self.center_x, self.center_y = center  # as mmseg 0.x, for inspection
            img = self.mosaic([p['img'] for p in parts], center, self.pad_val, 'bilinear')
            for key in results.get('seg_fields', []):
                results[key] = self.mosaic([p[key] for p in parts], center, self.seg_pad_val, 'nearest')
            results.update(img=img, img_shape=img.shape, ori_shape=img.shape)
        return results

    def mosaic(self, arrays: Sequence[np.ndarray], center: Tuple[int, int], pad_val, interpolation: str) -> np.ndarray:
        """The four ``arrays`` (top-left, top-right, bottom-left, bottom-right) pasted around ``center``."""
        first = arrays[0]
        out = np.full((int(self.img_scale[0] * 2), int(self.img_scale[1] * 2)) + first.shape[2:], pad_val,
                      dtype=first.dtype)
        for loc, part in zip(LOCATIONS, arrays):
            h_i, w_i = part.shape[:2]
            ratio = min(self.img_scale[0] / h_i, self.img_scale[1] / w_i)
            part = imresize(part, (int(w_i * ratio), int(h_i * ratio)), interpolation)
            (x1, y1, x2, y2), (cx1, cy1, cx2, cy2) = self.combine(loc, center, part.shape[:2][::-1])
            out[y1:y2, x1:x2] = part[cy1:cy2, cx1:cx2]
        return out

    def combine(self, loc: str, center: Tuple[int, int], size: Tuple[int, int]) -> Tuple[Box, Box]:
        """``(paste, crop)`` boxes ``(x1, y1, x2, y2)`` of a ``size = (w, h)`` part at ``loc`` (mmseg's formula)."""
        (cx, cy), (w, h) = center, size
        max_x, max_y = self.img_scale[1] * 2, self.img_scale[0] * 2
        if loc == 'top_left':
            paste = max(cx - w, 0), max(cy - h, 0), cx, cy
            crop = w - (paste[2] - paste[0]), h - (paste[3] - paste[1]), w, h
        elif loc == 'top_right':
            paste = cx, max(cy - h, 0), min(cx + w, max_x), cy
            crop = 0, h - (paste[3] - paste[1]), min(w, paste[2] - paste[0]), h
        elif loc == 'bottom_left':
            paste = max(cx - w, 0), cy, cx, min(max_y, cy + h)
            crop = w - (paste[2] - paste[0]), 0, w, min(paste[3] - paste[1], h)
        else:
            paste = cx, cy, min(cx + w, max_x), min(max_y, cy + h)
            crop = 0, 0, min(w, paste[2] - paste[0]), min(paste[3] - paste[1], h)
        return paste, crop

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, img_scale={self.img_scale}, '
                f'center_ratio_range={self.center_ratio_range}, pad_val={self.pad_val}, '
                f'seg_pad_val={self.seg_pad_val})')
