"""The segmentor base class: mmseg 0.x's ``forward`` / ``train_step`` API and ``parse_losses``."""
import os
import warnings
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from contextlib import nullcontext
from typing import ContextManager, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from ...utils import DataError
from ...visualization import paint_result, show_image
from ..utils import BaseModule

Losses = Dict[str, Union[torch.Tensor, Sequence[torch.Tensor]]]


def parse_losses(losses: Losses) -> Tuple[torch.Tensor, 'OrderedDict[str, float]']:
    """``(total_loss, log_vars)`` from a head's loss dict, as mmseg 0.x ``_parse_losses``.

    Each entry is a tensor (its mean is logged) or a list of tensors (the sum of their means). The
    total loss is the sum of the entries whose name contains ``'loss'``; it is logged as ``loss``.
    When distributed, the logged values are averaged over the ranks (the returned total is not).
    """
    log_vars: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            log_vars[name] = value.mean()
        elif isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value):
            log_vars[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'{name} is not a tensor or a list of tensors: {type(value).__name__}')
    loss_terms = [value for name, value in log_vars.items() if 'loss' in name]
    if not loss_terms:
        raise ValueError(f'no loss to optimise: none of {list(log_vars)} has "loss" in its name')
    loss = sum(loss_terms)
    log_vars['loss'] = loss
    return loss, _reduce_log_vars(log_vars)


def _reduce_log_vars(log_vars: 'OrderedDict[str, torch.Tensor]') -> 'OrderedDict[str, float]':
    distributed = dist.is_available() and dist.is_initialized()
    if distributed:  # every rank must log the same number of values, or all_reduce would hang
        count = torch.tensor(len(log_vars), device=log_vars['loss'].device)
        dist.all_reduce(count)
        if int(count) != len(log_vars) * dist.get_world_size():
            raise RuntimeError(f'the ranks computed different losses (this rank: {list(log_vars)})')
    out: 'OrderedDict[str, float]' = OrderedDict()
    for name, value in log_vars.items():
        value = value.detach().clone().float()
        if distributed:
            dist.all_reduce(value.div_(dist.get_world_size()))
        out[name] = value.item()
    return out


def run_train_step(model: nn.Module, data_batch: dict, autocast: Optional[ContextManager] = None) -> dict:
    """One training forward: ``dict(loss, log_vars, num_samples)``; the caller does backward and step.

    The one training step of the package: :meth:`BaseSegmentor.train_step` and every runner call it. ``model`` may
    be wrapped (``DistributedDataParallel``); its forward runs inside ``autocast`` (e.g. mixed precision) if given,
    the losses are parsed outside it.
    """
    with autocast if autocast is not None else nullcontext():
        losses = model(**data_batch)
    loss, log_vars = parse_losses(losses)
    return dict(loss=loss, log_vars=log_vars, num_samples=len(data_batch['img_metas']))


class BaseSegmentor(BaseModule, metaclass=ABCMeta):
    """``forward`` dispatches to ``forward_train`` or ``forward_test``; ``train_step``/``val_step`` for runners.

    ``CLASSES`` and ``PALETTE`` are set by the tools from the dataset or a checkpoint's meta.
    """

    CLASSES: Optional[Sequence[str]] = None
    PALETTE: Optional[Sequence[Sequence[int]]] = None

    def __init__(self, init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg)

    @property
    def with_neck(self) -> bool:
        return getattr(self, 'neck', None) is not None

    @property
    def with_auxiliary_head(self) -> bool:
        return getattr(self, 'auxiliary_head', None) is not None

    @property
    def with_decode_head(self) -> bool:
        return getattr(self, 'decode_head', None) is not None

    @abstractmethod
    def forward_train(self, img: torch.Tensor, img_metas: List[dict], gt_semantic_seg: torch.Tensor,
                      **kwargs) -> Losses:
        """Losses of a training batch."""

    @abstractmethod
    def simple_test(self, img: torch.Tensor, img_meta: List[dict], rescale: bool = True) -> List[np.ndarray]:
        """Label maps of a batch without augmentation."""

    @abstractmethod
    def aug_test(self, imgs: List[torch.Tensor], img_metas: List[List[dict]], rescale: bool = True
                 ) -> List[np.ndarray]:
        """Label maps of a batch from several augmentations."""

    def forward(self, img, img_metas, return_loss: bool = True, **kwargs):
        """Training losses (``return_loss=True``) or test label maps."""
        if return_loss:
            return self.forward_train(img, img_metas, **kwargs)
        return self.forward_test(img, img_metas, **kwargs)

    def forward_test(self, imgs: Union[torch.Tensor, List[torch.Tensor]],
                     img_metas: Union[List[dict], List[List[dict]]], **kwargs) -> List[np.ndarray]:
        """Test with one batch per augmentation: ``imgs[i]`` is N×3×H×W, ``img_metas[i]`` its N metas.

        A single tensor with a flat list of metas is taken as one augmentation.
        """
        if isinstance(imgs, torch.Tensor):
            imgs, img_metas = [imgs], [img_metas]
        if not isinstance(imgs, (list, tuple)) or not isinstance(img_metas, (list, tuple)):
            raise DataError(f'forward_test: imgs and img_metas must be lists, got {type(imgs).__name__} and '
                            f'{type(img_metas).__name__}')
        if len(imgs) != len(img_metas) or not imgs:
            raise DataError(f'forward_test: {len(imgs)} augmentation(s) of images but {len(img_metas)} of metas')
        for img, metas in zip(imgs, img_metas):
            if len(metas) != img.shape[0]:
                raise DataError(f'forward_test: {img.shape[0]} image(s) but {len(metas)} meta(s)')
        _check_same_shapes(img_metas)
        if len(imgs) == 1:
            return self.simple_test(imgs[0], img_metas[0], **kwargs)
        return self.aug_test(imgs, img_metas, **kwargs)

    def train_step(self, data_batch: dict, optimizer=None, **kwargs) -> dict:
        """One training forward: ``dict(loss, log_vars, num_samples)``; the runner does backward/step."""
        return run_train_step(self, data_batch)

    def val_step(self, data_batch: dict, optimizer=None, **kwargs) -> dict:
        """The losses of a labelled batch, as :meth:`train_step` (mmseg 0.x)."""
        return self.train_step(data_batch, optimizer, **kwargs)

    def show_result(self, img: Union[str, os.PathLike, np.ndarray], result: Union[np.ndarray, Sequence[np.ndarray]],
                    palette: Optional[Sequence[Sequence[int]]] = None, win_name: str = '', show: bool = False,
                    wait_time: int = 0, out_file: Optional[Union[str, os.PathLike]] = None,
                    opacity: float = 0.5) -> np.ndarray:
        """``img`` with the label map ``result`` painted over it (mmseg 0.x ``BaseSegmentor.show_result``).

        Paints with :func:`mmseg_ddrnet.visualization.paint_result`, as :func:`mmseg_ddrnet.apis.show_result` does
        (``palette`` defaults to ``self.PALETTE``),
        shows it in the window ``win_name`` for ``wait_time`` ms if ``show``, writes ``out_file`` if
        given, and returns the painted BGR ``uint8`` image.
        """
        painted = paint_result(self, img, result, palette=palette, opacity=opacity, out_file=out_file)
        if show:
            show_image(win_name, painted, wait_time)
        if not (show or out_file):
            warnings.warn('show==False and out_file is not specified, only result image will be returned')
        return painted


def _check_same_shapes(img_metas: Sequence[Sequence[dict]]) -> None:
    """Every augmentation of an image must come from the same original image."""
    for i in range(len(img_metas[0])):
        shapes = {meta_shape(metas[i], 'ori_shape') for metas in img_metas}
        if len(shapes) != 1:
            raise DataError(f'forward_test: the augmentations of image {i} have different ori_shape {shapes}')


def meta_shape(meta: dict, key: str) -> Tuple[int, int]:
    """``(H, W)`` of ``meta[key]`` (``ori_shape``, ``img_shape``, ``pad_shape``)."""
    try:
        h, w = meta[key][:2]
        return int(h), int(w)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f'img_meta needs {key} as (H, W[, C]), got {meta.get(key, "nothing")!r} '
                        f'(keys: {sorted(meta)})') from err
