"""Formatting transforms: numpy HWC arrays to tensors, and ``Collect`` of keys and image metas."""
from typing import Sequence

import numpy as np
import torch

from ...registry import PIPELINES
from ...utils import ConfigError

DEFAULT_META_KEYS = ('filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction', 'img_norm_cfg')


def to_tensor(data) -> torch.Tensor:
    """A tensor from a tensor, numpy array, sequence, int or float."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return torch.from_numpy(data)
    if isinstance(data, Sequence) and not isinstance(data, str):
        return torch.tensor(data)
    if isinstance(data, int):
        return torch.LongTensor([data])
    if isinstance(data, float):
        return torch.FloatTensor([data])
    raise TypeError(f'type {type(data)} cannot be converted to a tensor')


def _chw_tensor(img: np.ndarray) -> torch.Tensor:
    if img.ndim < 3:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@PIPELINES.register_module()
class ToTensor:
    """Convert ``results[key]`` to a tensor for each key."""

    def __init__(self, keys: Sequence[str]):
        self.keys = list(keys)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = to_tensor(results[key])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class ImageToTensor:
    """Convert HWC images ``results[key]`` to CHW tensors."""

    def __init__(self, keys: Sequence[str]):
        self.keys = list(keys)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = _chw_tensor(results[key])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class DefaultFormatBundle:
    """``img`` → float CHW tensor (dtype kept), ``gt_semantic_seg`` → int64 tensor ``[1, H, W]``."""

    def __call__(self, results: dict) -> dict:
        if 'img' in results:
            results['img'] = _chw_tensor(results['img'])
        if 'gt_semantic_seg' in results:
            results['gt_semantic_seg'] = torch.from_numpy(results['gt_semantic_seg'][None].astype(np.int64))
        return results

    def __repr__(self) -> str:
        return self.__class__.__name__


@PIPELINES.register_module()
class Collect:
    """Keep ``keys`` and gather ``meta_keys`` into ``results['img_metas']`` (a dict).

    Args:
        keys: the data keys to keep, e.g. ``['img', 'gt_semantic_seg']``.
        meta_keys: the keys copied into ``img_metas`` (mmseg 0.x defaults).
    """

    def __init__(self, keys: Sequence[str], meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.keys = list(keys)
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        missing = [k for k in self.keys + list(self.meta_keys) if k not in results]
        if missing:
            raise ConfigError(f'Collect: keys {missing} are not produced by the pipeline before it '
                              f'(available: {sorted(results)})')
        data = {'img_metas': {key: results[key] for key in self.meta_keys}}
        for key in self.keys:
            data[key] = results[key]
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys}, meta_keys={self.meta_keys})'
