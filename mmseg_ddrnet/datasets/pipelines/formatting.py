"""Formatting transforms: numpy HWC arrays to tensors, ``Collect`` of keys and image metas, ``Transpose`` and
``ToDataContainer`` (mmseg 0.x)."""
from typing import Sequence

import numpy as np
import torch

from ...registry import PIPELINES
from ...utils import ConfigError
from ...utils.checks import check as _check

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
