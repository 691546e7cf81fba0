"""Loading transforms: ``LoadImageFromFile`` and ``LoadAnnotations`` (mmseg 0.x semantics)."""
import os.path as osp
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ...registry import PIPELINES
from ...utils import ConfigError, DataError
from ...utils.image_io import check_decode_args, imread


def _check_file_client(file_client_args: Optional[dict]) -> None:
    backend = (file_client_args or {}).get('backend', 'disk')
    if backend != 'disk':
        raise ConfigError(f"file_client_args: only backend='disk' is supported, got {backend!r}")


@PIPELINES.register_module()
class LoadImageFromFile:
    """Read ``img_prefix/img_info['filename']`` (BGR, HWC) and set the image meta keys.

    Args:
        to_float32: convert the image to float32 (uint8 otherwise).
        color_type: ``'color'``, ``'grayscale'`` or ``'unchanged'`` (mmcv flags).
        file_client_args: accepted for config compatibility; only the local disk is supported.
        imdecode_backend: ``'cv2'`` or ``'pillow'``.
    """

    def __init__(self, to_float32: bool = False, color_type: str = 'color',
                 file_client_args: Optional[dict] = None, imdecode_backend: str = 'cv2'):
        check_decode_args(color_type, imdecode_backend)
        _check_file_client(file_client_args)
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend

    def __call__(self, results: dict) -> dict:
        filename, name = self.paths(results)
        img = imread(filename, self.color_type, self.imdecode_backend)
        if self.to_float32:
            img = img.astype(np.float32)
        return self.apply(results, img, filename, name)

    @staticmethod
    def paths(results: dict) -> Tuple[str, str]:
        """``(path, name)`` of the sample's image file."""
        name = results['img_info']['filename']
        prefix = results.get('img_prefix')
        return (osp.join(prefix, name) if prefix is not None else name), name

    @staticmethod
    def apply(results: dict, img: np.ndarray, filename: str, name: str) -> dict:
        """Store ``img`` (or a stand-in of its shape) and the image meta keys."""
        num_channels = 1 if img.ndim < 3 else img.shape[2]
        results.update(
            filename=filename, ori_filename=name, img=img, img_shape=img.shape, ori_shape=img.shape,
            pad_shape=img.shape, scale_factor=1.0,
            img_norm_cfg=dict(mean=np.zeros(num_channels, np.float32), std=np.ones(num_channels, np.float32),
                              to_rgb=False))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')


def label_lookup_table(label_map: Dict[int, int]) -> np.ndarray:
    """A 256-entry uint8 table applying ``label_map`` to a uint8 label map in one indexing pass."""
    lut = np.arange(256, dtype=np.uint8)
    for old, new in label_map.items():
        if not (0 <= old < 256 and 0 <= new < 256):
            raise ConfigError(f'label_map entries must lie in [0, 255], got {old}: {new}')
        lut[old] = new
    return lut


@PIPELINES.register_module()
class LoadAnnotations:
    """Read the label map ``seg_prefix/ann_info['seg_map']`` into ``gt_semantic_seg`` (uint8, HxW).

    As in mmseg 0.x, ``results['label_map']`` (set by a dataset with a class subset or a void label)
    is applied first, then ``reduce_zero_label`` (0 → 255, others − 1). When the dataset puts
    ``num_classes`` and ``ignore_index`` into ``results``, a label outside ``[0, num_classes)`` that is
    not the ignore index raises a DataError naming the file.

    Args:
        reduce_zero_label: treat label 0 as ignored and shift the others down by one.
        file_client_args: accepted for config compatibility; only the local disk is supported.
        imdecode_backend: ``'pillow'`` (reads palette PNGs as indices, as mmseg 0.x) or ``'cv2'``.
    """

    def __init__(self, reduce_zero_label: bool = False, file_client_args: Optional[dict] = None,
                 imdecode_backend: str = 'pillow'):
        check_decode_args('unchanged', imdecode_backend)
        _check_file_client(file_client_args)
        self.reduce_zero_label = reduce_zero_label
        self.imdecode_backend = imdecode_backend

    def __call__(self, results: dict) -> dict:
        seg_map = results['ann_info']['seg_map']
        prefix = results.get('seg_prefix')
        filename = osp.join(prefix, seg_map) if prefix is not None else seg_map
        seg = imread(filename, 'unchanged', self.imdecode_backend)
        if seg.ndim == 3 and seg.shape[2] > 1:
            raise DataError(f'label map {filename} has {seg.shape[2]} channels; expected a single-channel '
                            'image of class indices (a palette PNG needs imdecode_backend="pillow")')
        seg = seg.reshape(seg.shape[:2]).astype(np.uint8, copy=False)
        if 'img' in results and results['img'].shape[:2] != seg.shape:
            raise DataError(f'label map {filename} is {seg.shape[1]}x{seg.shape[0]} but its image '
                            f'{results.get("filename")} is {results["img"].shape[1]}x{results["img"].shape[0]}')
        if results.get('label_map'):
            seg = label_lookup_table(results['label_map'])[seg]
        if self.reduce_zero_label:
            seg = seg.copy() if not seg.flags.writeable else seg
            seg[seg == 0] = 255
            seg = seg - 1
            seg[seg == 254] = 255
        _check_labels(seg, filename, results.get('num_classes'), results.get('ignore_index', 255))
        results['gt_semantic_seg'] = seg
        results.setdefault('seg_fields', []).append('gt_semantic_seg')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reduce_zero_label={self.reduce_zero_label}, '
                f'imdecode_backend={self.imdecode_backend!r})')


def _label_values(seg: np.ndarray) -> np.ndarray:
    """The distinct values of a label map (a histogram for uint8: much faster than ``np.unique``)."""
    if seg.dtype == np.uint8:
        hist = cv2.calcHist([seg], [0], None, [256], [0, 256]).ravel()
        return np.flatnonzero(hist)
    return np.unique(seg)


def _check_labels(seg: np.ndarray, filename: str, num_classes: Optional[int], ignore_index: int) -> None:
    if num_classes is None or seg.size == 0:
        return
    if seg.dtype == np.uint8:  # one table lookup flags the bad values: 4x faster than a histogram
        bad = np.ones(256, np.uint8)
        bad[:max(0, min(num_classes, 256))] = 0
        if 0 <= ignore_index < 256:
            bad[ignore_index] = 0
        if not cv2.LUT(np.ascontiguousarray(seg), bad).max():
            return
    values = _label_values(seg)
    bad = values[(values >= num_classes) & (values != ignore_index)]
    if bad.size:
        raise DataError(f'label map {filename} holds values {bad.tolist()} outside [0, {num_classes}) that are '
                        f'not the ignore index {ignore_index}')
