"""Samplers that make every augmentation a function of (seed, epoch, sample index).

:class:`SeededSampler` is torch's ``DistributedSampler`` (also used with one replica) whose indices
carry a per-sample seed (:class:`SeededIndex`). The datasets run their pipeline under
:func:`sample_random_state`, which seeds numpy's and Python's global RNGs from it (as mmseg 0.x
transforms use ``np.random``) and restores them afterwards. The augmentations therefore do not depend
on the number of workers, on which worker loads a sample, or on where training was resumed:
``sampler.set_epoch(epoch)`` restores both the order and the augmentations of an epoch.
"""
import contextlib
import random
from typing import Iterator, Optional

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

_MASK32 = 0xFFFFFFFF


class SeededIndex(int):
    """A dataset index that also carries the seed of its sample's random augmentations."""

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = int(seed)
        return obj

    def __reduce__(self):
        return SeededIndex, (int(self), self.seed)

    def __repr__(self) -> str:
        return f'SeededIndex({int(self)}, seed={self.seed})'


def with_index(source, index: int):
    """``index`` carrying ``source``'s seed when it has one (for dataset wrappers that re-index)."""
    seed = getattr(source, 'seed', None)
    return int(index) if seed is None else SeededIndex(index, seed)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed mixing (seed, epoch, index) through numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed & _MASK32, epoch & _MASK32, index & _MASK32]).generate_state(1)[0])


@contextlib.contextmanager
def sample_random_state(index):
    """Seed ``np.random`` and ``random`` from ``index.seed`` inside the block, then restore them.

    A plain int index leaves the global RNGs untouched.
    """
    seed = getattr(index, 'seed', None)
    if seed is None:
        yield
        return
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


class SeededSampler(DistributedSampler):
    """``DistributedSampler`` yielding :class:`SeededIndex` es; works without a process group.

    Args:
        dataset: the dataset to sample.
        num_replicas, rank: the process group's size and this process's rank (1 and 0 when not distributed).
        shuffle: a new permutation each epoch (from seed + epoch, as torch's sampler).
        seed: the base seed of the order and of every augmentation; None draws one from torch's RNG.
        drop_last: drop the tail instead of repeating samples to even out the replicas.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: Optional[int] = None, drop_last: bool = False):
        if seed is None:
            seed = int(torch.randint(0, 2 ** 31 - 1, ()).item())
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)

    def __iter__(self) -> Iterator[SeededIndex]:
        for index in super().__iter__():
            yield SeededIndex(index, sample_seed(self.seed, self.epoch, index))

    def state_dict(self) -> dict:
        """The sampler's position as plain numbers (for checkpoints): ``seed`` and ``epoch``."""
        return {'seed': int(self.seed), 'epoch': int(self.epoch)}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state['seed'])
        self.set_epoch(int(state['epoch']))
