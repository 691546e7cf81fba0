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
import os.path as osp
import pickle
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..engine.checkpoint import unwrap_model
from ..engine.dist import to_device
from ..utils import ConfigError, warn_once

__all__ = ['single_gpu_test', 'multi_gpu_test', 'get_palette', 'overlay_segmentation']

EFFICIENT_TEST_DIR = '.efficient_test'
DIST_TEST_DIR = '.dist_test'


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
    palette = get_palette(model, dataset) if show or out_dir else None
    collector = _Collector(pre_eval and not pre_eval_per_image)
    model.eval()
    batches = _batch_indices(data_loader)
    with tqdm(total=len(dataset), desc='test', unit='img', dynamic_ncols=True) as bar:
        for indices, data in zip(batches, data_loader):
            result = _forward(model, data)
            if palette is not None:
                _paint(data, result, palette, out_dir, show, opacity)
            collector.add(indices, _postprocess(dataset, result, indices, efficient_test, pre_eval, format_only,
                                                format_args))
            bar.update(len(indices))
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
    keep = _first_occurrences(batches, rank)
    summed = pre_eval and not pre_eval_per_image
    collector = _Collector(summed)
    model.eval()
    with tqdm(total=len(dataset), desc='test', unit='img', dynamic_ncols=True, disable=rank != 0) as bar:
        for (indices, kept), data in zip(zip(batches, keep), data_loader):
            result = _forward(model, data)
            results = _postprocess(dataset, result, indices, efficient_test, pre_eval, format_only, format_args)
            collector.add([i for i, k in zip(indices, kept) if k], [r for r, k in zip(results, kept) if k])
            bar.update(min(len(indices) * world_size, bar.total - bar.n))
    if summed:
        return [_all_reduce_sum(collector.summed, len(dataset.CLASSES) if hasattr(dataset, 'CLASSES') else None)]
    if gpu_collect:
        return _collect_by_all_gather(collector.items)
    return _collect_through_files(collector.items, tmpdir)


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


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


def _forward(model: nn.Module, data: Dict[str, Any]) -> List[np.ndarray]:
    """The model's test output for one batch (one label map per image), on the model's device."""
    with torch.inference_mode():
        result = model(return_loss=False, **to_device(data, _model_device(model)))
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


class _Collector:
    """Sums confusion matrices (``pre_eval``: the summed mode) or keeps ``(index, result)`` pairs."""

    def __init__(self, pre_eval: bool) -> None:
        self.pre_eval = pre_eval
        self.summed: Optional[np.ndarray] = None
        self.items: List[Tuple[int, Any]] = []

    def add(self, indices: Sequence[int], results: Sequence[Any]) -> None:
        if len(indices) != len(results):
            raise ValueError(f'the model returned {len(results)} results for a batch of {len(indices)} images')
        if not self.pre_eval:
            self.items.extend(zip(indices, results))
            return
        for matrix in results:
            matrix = np.asarray(matrix, dtype=np.int64)
            self.summed = matrix.copy() if self.summed is None else self.summed + matrix

    def results(self) -> List[Any]:
        if self.pre_eval:
            return [] if self.summed is None else [self.summed]
        return [result for _, result in sorted(self.items, key=lambda item: item[0])]


# ------------------------------------------------------------------------------------------- overlays


def get_palette(model: nn.Module, dataset: Any) -> np.ndarray:
    """The RGB palette (``uint8[C, 3]``) of the model (from its checkpoint) or else of the dataset.

    Without either, a fixed pseudo-random palette for 256 labels (the same on every run).
    """
    palette = getattr(unwrap_model(model), 'PALETTE', None)
    if palette is None:
        palette = getattr(dataset, 'PALETTE', None)
    if palette is None:
        palette = np.random.RandomState(42).randint(0, 255, size=(256, 3))
    return np.asarray(palette, dtype=np.uint8).reshape(-1, 3)


def overlay_segmentation(img_bgr: np.ndarray, seg: np.ndarray, palette: np.ndarray,
                         opacity: float = 0.5) -> np.ndarray:
    """``img_bgr`` (``uint8[H, W, 3]``) with each labelled pixel blended with its palette colour (RGB).

    Pixels whose label has no colour (e.g. 255, ignore) keep the image.
    """
    if img_bgr.shape[:2] != seg.shape[:2]:
        raise ValueError(f'image {img_bgr.shape[:2]} and segmentation {seg.shape[:2]} differ in size')
    out = img_bgr.astype(np.float32)
    valid = (seg >= 0) & (seg < len(palette))
    colours = palette[seg[valid]][:, ::-1].astype(np.float32)  # RGB palette -> BGR image
    out[valid] = out[valid] * (1 - opacity) + colours * opacity
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _denormalize(img: torch.Tensor, norm_cfg: Dict[str, Any]) -> np.ndarray:
    """A normalised ``[3, H, W]`` image tensor back to ``uint8`` BGR."""
    arr = img.detach().float().cpu().permute(1, 2, 0).numpy()
    arr = arr * np.asarray(norm_cfg['std'], np.float32) + np.asarray(norm_cfg['mean'], np.float32)
    if norm_cfg.get('to_rgb', True):
        arr = arr[..., ::-1]
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _paint(data: Dict[str, Any], result: List[np.ndarray], palette: np.ndarray, out_dir: Optional[str],
           show: bool, opacity: float) -> None:
    """Show and/or write each image of the batch with its prediction painted over it."""
    imgs, metas = data['img'], data['img_metas']
    img_tensor, img_metas = (imgs[0], metas[0]) if isinstance(imgs, (list, tuple)) else (imgs, metas)
    for img, meta, seg in zip(img_tensor, img_metas, result):
        h, w = meta['img_shape'][:2]
        ori_h, ori_w = meta['ori_shape'][:2]
        image = _denormalize(img, meta['img_norm_cfg'])[:h, :w]
        image = cv2.resize(np.ascontiguousarray(image), (ori_w, ori_h), interpolation=cv2.INTER_LINEAR)
        painted = overlay_segmentation(image, np.asarray(seg), palette, opacity)
        if out_dir:
            out_file = osp.join(out_dir, meta['ori_filename'])
            os.makedirs(osp.dirname(out_file) or '.', exist_ok=True)
            if not cv2.imwrite(out_file, painted):
                raise OSError(f'cannot write {out_file}')
        if show:
            _show(meta['ori_filename'], painted)


def _show(title: str, image: np.ndarray, wait_time: int = 0) -> None:
    """Display ``image`` in a window named ``title`` for ``wait_time`` ms (0: until a key is pressed)."""
    try:
        cv2.imshow(title, image)
        cv2.waitKey(wait_time)
    except cv2.error:
        warn_once('--show: this OpenCV build cannot open windows (headless); use --show-dir to write the images')


# ---------------------------------------------------------------------------------------- distributed


def _first_occurrences(batches: List[List[int]], rank: int) -> List[List[bool]]:
    """For each of this rank's images, whether it is the first occurrence of its index over all ranks.

    A ``DistributedSampler`` repeats some images so that every rank gets as many; each is counted once
    (on the lowest rank, earliest position), whatever the sampler's layout.
    """
    gathered: List[Optional[List[List[int]]]] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, batches)
    seen = set()
    for other in gathered[:rank]:
        seen.update(i for batch in other for i in batch)
    keep = []
    for batch in batches:
        flags = []
        for index in batch:
            flags.append(index not in seen)
            seen.add(index)
        keep.append(flags)
    return keep


def _reduce_device() -> torch.device:
    if dist.get_backend() == 'nccl':
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def _all_reduce_sum(summed: Optional[np.ndarray], num_classes: Optional[int]) -> np.ndarray:
    """Sum the per-rank confusion matrices over all ranks (a rank without images contributes zeros)."""
    shapes: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(shapes, None if summed is None else summed.shape)
    shape = next((s for s in shapes if s is not None), None)
    if shape is None:
        shape = (num_classes or 0, num_classes or 0)
    local = np.zeros(shape, np.int64) if summed is None else summed
    tensor = torch.from_numpy(np.ascontiguousarray(local, dtype=np.int64)).to(_reduce_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().numpy()


def _in_index_order(parts: List[List[Tuple[int, Any]]]) -> List[Any]:
    items = sorted((item for part in parts for item in part), key=lambda item: item[0])
    return [result for _, result in items]


def _collect_by_all_gather(items: List[Tuple[int, Any]]) -> Optional[List[Any]]:
    """Gather every rank's ``(index, result)`` pairs on rank 0 through the process group."""
    parts: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return _in_index_order(parts) if dist.get_rank() == 0 else None


def _collect_through_files(items: List[Tuple[int, Any]], tmpdir: Optional[str]) -> Optional[List[Any]]:
    """Gather every rank's ``(index, result)`` pairs on rank 0 through pickles in a shared folder."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    folder = [None]
    if rank == 0:
        if tmpdir is None:
            os.makedirs(DIST_TEST_DIR, exist_ok=True)
            tmpdir = tempfile.mkdtemp(dir=DIST_TEST_DIR)
        os.makedirs(tmpdir, exist_ok=True)
        folder = [tmpdir]
    dist.broadcast_object_list(folder, src=0)
    tmpdir = folder[0]
    with open(osp.join(tmpdir, f'part_{rank}.pkl'), 'wb') as f:
        pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
    dist.barrier()
    if rank != 0:
        return None
    parts = []
    for other in range(world_size):
        with open(osp.join(tmpdir, f'part_{other}.pkl'), 'rb') as f:
            parts.append(pickle.load(f))
    shutil.rmtree(tmpdir, ignore_errors=True)
    return _in_index_order(parts)
