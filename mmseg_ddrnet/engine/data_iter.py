"""Data-loader helpers that make the data order a function of (seed, epoch) and let a run resume mid-epoch.

Each epoch, the sampler gets its epoch (``set_epoch``, as ``DistributedSampler``) or, for a ``RandomSampler``,
a generator seeded from ``(seed, epoch)``; the loader's own generator (the workers' base seed) is seeded from
``(seed, epoch, rank)``. No global random state is consumed by creating an iterator, so a resumed run that
restores the RNGs and skips the batches already seen gets the same batches as a run never interrupted.
"""
from typing import Any, Iterator, List

import torch
from torch.utils.data import DataLoader, RandomSampler

from ..utils import DataError
from ..utils.dist import get_dist_info


def _epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    return (seed * 1_000_003 + epoch * 1_009 + rank) % (2 ** 63)


def set_loader_epoch(loader: DataLoader, epoch: int, seed: int) -> None:
    """Fix the order (and the workers' base seed) of ``loader`` for ``epoch``."""
    samplers = [getattr(loader, 'sampler', None), getattr(getattr(loader, 'batch_sampler', None), 'sampler', None)]
    for sampler in samplers:
        if sampler is None:
            continue
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(epoch)
        elif isinstance(sampler, RandomSampler):
            sampler.generator = torch.Generator().manual_seed(_epoch_seed(seed, epoch))
    loader.generator = torch.Generator().manual_seed(_epoch_seed(seed, epoch, get_dist_info()[0]))


def remaining_batches_loader(loader: DataLoader, skip: int) -> DataLoader:
    """A loader yielding what ``loader`` would yield in this epoch after its first ``skip`` batches.

    The indices come from the loader's own batch sampler (so its order for the current epoch); nothing is
    loaded for the skipped batches.
    """
    if loader.batch_sampler is None:
        raise ValueError('resuming mid-epoch needs a data loader that batches through a sampler')
    batches: List[List[Any]] = [list(batch) for batch in loader.batch_sampler][skip:]
    return DataLoader(loader.dataset, batch_sampler=batches, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, timeout=loader.timeout,
                      worker_init_fn=loader.worker_init_fn, multiprocessing_context=loader.multiprocessing_context,
                      generator=loader.generator,
                      prefetch_factor=loader.prefetch_factor if loader.num_workers > 0 else None)


def epoch_iterator(loader: DataLoader, epoch: int, seed: int, skip: int = 0) -> Iterator:
    """An iterator over ``loader``'s batches of ``epoch``, starting after ``skip`` batches."""
    set_loader_epoch(loader, epoch, seed)
    return iter(remaining_batches_loader(loader, skip) if skip else loader)


class IterLoader:
    """Endless iteration over a loader, epoch after epoch (``next`` never raises ``StopIteration``).

    Args:
        loader: the data loader.
        seed: the run's seed (see :func:`set_loader_epoch`).
        start_iter: batches already consumed (when resuming): the epoch and the position in it follow.
    """

    def __init__(self, loader: DataLoader, seed: int = 0, start_iter: int = 0):
        length = len(loader)
        if length == 0:
            raise DataError(f'the data loader yields no batch: {len(loader.dataset)} sample(s) for batches of '
                            f'{loader.batch_size} with drop_last={loader.drop_last}; add data or lower '
                            'data.samples_per_gpu')
        self.loader = loader
        self.seed = seed
        self.epoch, self.inner_iter = start_iter // length, start_iter % length
        self._iter = epoch_iterator(loader, self.epoch, seed, self.inner_iter)
        self.inner_iter -= 1  # index of the batch last returned

    def __len__(self) -> int:
        return len(self.loader)

    def __next__(self) -> Any:
        try:
            batch = next(self._iter)
            self.inner_iter += 1
        except StopIteration:
            self.epoch += 1
            self._iter = epoch_iterator(self.loader, self.epoch, self.seed)
            batch = next(self._iter)
            self.inner_iter = 0
        return batch
