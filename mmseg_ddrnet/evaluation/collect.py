"""Collecting test results: per-image results or summed confusion matrices, across ranks in dataset order."""
import os
import os.path as osp
import pickle
import shutil
import tempfile
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist

from ..utils.device import get_device

DIST_TEST_DIR = '.dist_test'


class Collector:
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


def first_occurrences(batches: List[List[int]], rank: int) -> List[List[bool]]:
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


def reduce_device() -> torch.device:
    """Where collective tensors live: this process's GPU under nccl, else the CPU."""
    return get_device() if dist.get_backend() == 'nccl' else torch.device('cpu')


def all_reduce_sum(summed: Optional[np.ndarray], num_classes: Optional[int]) -> np.ndarray:
    """Sum the per-rank confusion matrices over all ranks (a rank without images contributes zeros)."""
    shapes: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(shapes, None if summed is None else summed.shape)
    shape = next((s for s in shapes if s is not None), None)
    if shape is None:
        shape = (num_classes or 0, num_classes or 0)
    local = np.zeros(shape, np.int64) if summed is None else summed
    tensor = torch.from_numpy(np.ascontiguousarray(local, dtype=np.int64)).to(reduce_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().numpy()


def in_index_order(parts: List[List[Tuple[int, Any]]]) -> List[Any]:
    items = sorted((item for part in parts for item in part), key=lambda item: item[0])
    return [result for _, result in items]


def collect_by_all_gather(items: List[Tuple[int, Any]]) -> Optional[List[Any]]:
    """Gather every rank's ``(index, result)`` pairs on rank 0 through the process group."""
    parts: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return in_index_order(parts) if dist.get_rank() == 0 else None


def collect_through_files(items: List[Tuple[int, Any]], tmpdir: Optional[str]) -> Optional[List[Any]]:
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
    return in_index_order(parts)
