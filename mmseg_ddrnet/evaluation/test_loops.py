"""Test loops: run a segmentor over a data loader in one process or on every rank (mmseg 0.x semantics).

Each loop returns, per mode:

- ``pre_eval=True``: ``[confusion_matrix]``, the sum of ``dataset.pre_eval`` over every image (and every rank),
  so memory stays constant in the size of the dataset; with ``pre_eval_per_image=True`` instead one C×C
  confusion matrix per image in dataset order (mmseg 0.x's list of pre-eval results; memory grows with the
  dataset);
- ``format_only=True``: what ``dataset.format_results`` returned for each image (e.g. file names);
- otherwise: one label map (``numpy`` int64, original image size) per image, in dataset order.

``multi_gpu_test`` returns the gathered list on rank 0 and ``None`` on the other ranks (the summed matrix of
``pre_eval`` is returned on every rank; per-image matrices are gathered like label maps).
"""
import os
import tempfile
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..utils.device import model_device, to_device
from ..utils import ConfigError, warn_once
from ..utils.faults import fault_point
from ..visualization import model_palette, paint_batch
from .collect import (DIST_TEST_DIR, Collector, all_reduce_sum, collect_by_all_gather, collect_through_files,
                      first_occurrences)

__all__ = ['single_gpu_test', 'multi_gpu_test', 'DIST_TEST_DIR']

EFFICIENT_TEST_DIR = '.efficient_test'


def single_gpu_test(model: nn.Module, data_loader: DataLoader, show: bool = False, out_dir: Optional[str] = None,
                    efficient_test: bool = False, opacity: float = 0.5, pre_eval: bool = False,
                    format_only: bool = False, format_args: Dict[str, Any] = {},
                    pre_eval_per_image: bool = False) -> List[Any]:
    """Test ``model`` on every batch of ``data_loader`` in this process.

    ``show`` displays and ``out_dir`` writes (under each image's ``ori_filename``) the prediction painted over the
    image with ``opacity``; ``efficient_test`` (deprecated) stores label maps in ``.npy`` files and returns their
    paths; ``format_only`` calls ``dataset.format_results(result, indices=..., **format_args)``;
    ``pre_eval_per_image`` keeps one pre-eval result per image instead of their sum.
    """
    _check_modes(pre_eval, format_only, opacity)
    dataset = data_loader.dataset
    palette = model_palette(model, dataset) if show or out_dir else None
    collector = Collector(pre_eval and not pre_eval_per_image)
    model.eval()
    batches = _batch_indices(data_loader)
    with tqdm(total=len(dataset), desc='test', unit='img', dynamic_ncols=True) as bar:
        for indices, data in zip(batches, data_loader):
            result = _forward(model, data)
            if palette is not None:
                paint_batch(data, result, palette, out_dir, show, opacity)
            collector.add(indices, _postprocess(dataset, result, indices, efficient_test, pre_eval, format_only,
                                                format_args))
            bar.update(len(indices))
            fault_point('val_batch')
    return collector.results()


def multi_gpu_test(model: nn.Module, data_loader: DataLoader, tmpdir: Optional[str] = None,
                   gpu_collect: bool = False, efficient_test: bool = False, pre_eval: bool = False,
                   format_only: bool = False, format_args: Dict[str, Any] = {},
                   pre_eval_per_image: bool = False) -> Optional[List[Any]]:
    """Test ``model`` with every rank of the process group working on its share of ``data_loader``.

    Images that a ``DistributedSampler`` repeats to even out the ranks are counted once. With ``pre_eval`` the
    per-rank sums are ``all_reduce``d; otherwise the results are gathered on rank 0 in dataset order, through
    pickles in ``tmpdir`` (default: a fresh folder under ``.dist_test``) or, with ``gpu_collect``, through
    ``all_gather`` on the devices. ``pre_eval_per_image`` gathers one pre-eval result per image instead.
    """
    _check_modes(pre_eval, format_only)
    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError('multi_gpu_test needs an initialised process group (use --launcher pytorch or slurm); '
                          'use single_gpu_test in a single process')
    rank, world_size = dist.get_rank(), dist.get_world_size()
    dataset = data_loader.dataset
    batches = _batch_indices(data_loader)
    keep = first_occurrences(batches, rank)
    summed = pre_eval and not pre_eval_per_image
    collector = Collector(summed)
    model.eval()
    with tqdm(total=len(dataset), desc='test', unit='img', dynamic_ncols=True, disable=rank != 0) as bar:
        for (indices, kept), data in zip(zip(batches, keep), data_loader):
            result = _forward(model, data)
            results = _postprocess(dataset, result, indices, efficient_test, pre_eval, format_only, format_args)
            collector.add([i for i, k in zip(indices, kept) if k], [r for r, k in zip(results, kept) if k])
            bar.update(min(len(indices) * world_size, bar.total - bar.n))
            fault_point('val_batch')
    if summed:
        return [all_reduce_sum(collector.summed, len(dataset.CLASSES) if hasattr(dataset, 'CLASSES') else None)]
    if gpu_collect:
        return collect_by_all_gather(collector.items)
    return collect_through_files(collector.items, tmpdir)


# ----------------------------------------------------------------------------------------------- one batch


def _check_modes(pre_eval: bool, format_only: bool, opacity: float = 0.5) -> None:
    if pre_eval and format_only:
        raise ConfigError('pre_eval and format_only cannot both be set: formatted results (files) cannot be '
                          'pre-evaluated; evaluate them with dataset.evaluate instead')
    if not 0 < opacity <= 1:
        raise ConfigError(f'opacity must be in (0, 1], got {opacity}')


def _batch_indices(data_loader: DataLoader) -> List[List[int]]:
    """The dataset indices of each batch, in the order the loader yields them (deterministic for testing)."""
    if data_loader.batch_sampler is None:
        raise ConfigError('the test data loader must batch through a sampler (batch_sampler is None)')
    return [list(batch) for batch in data_loader.batch_sampler]


def _forward(model: nn.Module, data: Dict[str, Any]) -> List[np.ndarray]:
    """The model's test output for one batch (one label map per image), on the model's device."""
    with torch.inference_mode():
        result = model(return_loss=False, **to_device(data, model_device(model)))
    return list(result)


def _postprocess(dataset: Any, result: List[np.ndarray], indices: List[int], efficient_test: bool,
                 pre_eval: bool, format_only: bool, format_args: Dict[str, Any]) -> List[Any]:
    """Turn a batch of label maps into what the loop collects (paths, formatted results or matrices)."""
    if efficient_test:
        warn_once('efficient_test is deprecated: pre_eval=True keeps evaluation memory constant')
        result = [_to_npy_file(seg) for seg in result]
    if format_only:
        result = dataset.format_results(result, indices=indices, **format_args)
    if pre_eval:
        result = dataset.pre_eval(result, indices)
    return list(result)


def _to_npy_file(seg: np.ndarray) -> str:
    os.makedirs(EFFICIENT_TEST_DIR, exist_ok=True)
    fd, path = tempfile.mkstemp(suffix='.npy', dir=EFFICIENT_TEST_DIR)
    with os.fdopen(fd, 'wb') as f:
        np.save(f, seg)
    return path
