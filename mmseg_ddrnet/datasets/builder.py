"""``build_dataset``, ``build_dataloader`` and ``collate`` (mmseg 0.x signatures)."""
import copy
import random
from functools import partial
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..registry import DATASETS, build_from_cfg
from ..utils import ConfigError
from ..utils.set_env import opencv_worker_threads, setup_worker_threads
from .dataset_wrappers import ConcatDataset, RepeatDataset
from .samplers import SeededSampler


def _concat_dataset(cfg: dict, default_args: Optional[dict] = None) -> ConcatDataset:
    """mmseg 0.x: a list of ``img_dir`` (with matching ``ann_dir`` / ``split`` lists) → one dataset each."""
    img_dirs = cfg['img_dir']
    ann_dirs = cfg.get('ann_dir')
    splits = cfg.get('split')
    num = len(img_dirs) if isinstance(img_dirs, (list, tuple)) else len(splits)
    for key, value in (('ann_dir', ann_dirs), ('split', splits)):
        if isinstance(value, (list, tuple)) and len(value) != num:
            raise ConfigError(f'{key} lists {len(value)} entries but img_dir/split list {num}')
    datasets = []
    for i in range(num):
        part = copy.deepcopy(cfg)
        for key, value in (('img_dir', img_dirs), ('ann_dir', ann_dirs), ('split', splits)):
            if isinstance(value, (list, tuple)):
                part[key] = value[i]
        part.pop('separate_eval', None)
        datasets.append(build_dataset(part, default_args))
    return ConcatDataset(datasets, cfg.get('separate_eval', True))


def build_dataset(cfg, default_args: Optional[dict] = None) -> Dataset:
    """Build a dataset from a config: a list (concatenated), ``RepeatDataset``, ``MultiImageMixDataset``,
    ``ConcatDataset`` or a dataset."""
    if isinstance(cfg, (list, tuple)):
        return ConcatDataset([build_dataset(c, default_args) for c in cfg])
    if not isinstance(cfg, dict):
        raise ConfigError(f'a dataset config must be a dict or a list of dicts, got {type(cfg).__name__}')
    if cfg.get('type') == 'RepeatDataset':
        return RepeatDataset(build_dataset(cfg['dataset'], default_args), cfg['times'])
    if cfg.get('type') == 'MultiImageMixDataset':
        return build_from_cfg(dict(cfg, dataset=build_dataset(cfg.get('dataset'), default_args)), DATASETS)
    if cfg.get('type') == 'ConcatDataset':
        return ConcatDataset([build_dataset(c, default_args) for c in cfg['datasets']],
                             cfg.get('separate_eval', True))
    if isinstance(cfg.get('img_dir'), (list, tuple)) or isinstance(cfg.get('split'), (list, tuple)):
        return _concat_dataset(cfg, default_args)
    return build_from_cfg(cfg, DATASETS, default_args)


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int,
                   opencv_threads: Optional[int] = None) -> None:
    """Seed ``np.random``, ``random`` and torch in each worker from (seed, rank, worker id), as mmseg 0.x, and
    apply the config's ``opencv_num_threads`` (``opencv_threads``; see :mod:`mmseg_ddrnet.utils.set_env`)."""
    worker_seed = (num_workers * rank + worker_id + seed) % 2 ** 32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)
    setup_worker_threads(opencv_threads)


def _dist_info(dist: bool):
    if not dist:
        return 0, 1
    import torch.distributed as tdist
    if not (tdist.is_available() and tdist.is_initialized()):
        raise ConfigError('build_dataloader(dist=True) needs an initialised process group')
    return tdist.get_rank(), tdist.get_world_size()


def build_dataloader(dataset: Dataset, samples_per_gpu: int, workers_per_gpu: int, num_gpus: int = 1,
                     dist: bool = False, shuffle: bool = True, seed: Optional[int] = None, drop_last: bool = False,
                     pin_memory: bool = False, persistent_workers: bool = True, **kwargs) -> DataLoader:
    """A DataLoader over ``dataset`` batching with :func:`collate`.

    The sampler is a :class:`SeededSampler` (torch's ``DistributedSampler``; one replica when not
    distributed): ``loader.sampler.set_epoch(epoch)`` fixes an epoch's order and augmentations, and
    ``loader.sampler.state_dict()`` / ``load_state_dict`` carry them across a resume.

    Args:
        samples_per_gpu: batch size per process (times ``num_gpus`` when not distributed).
        workers_per_gpu: loader workers per process (times ``num_gpus`` when not distributed).
        dist: one sampler shard per rank of the initialised process group.
        shuffle: a new order each epoch.
        seed: base seed of order and augmentations (None: random).
        persistent_workers: keep workers alive between epochs (only with workers).
    """
    if samples_per_gpu < 1 or workers_per_gpu < 0:
        raise ConfigError(f'samples_per_gpu must be ≥ 1 and workers_per_gpu ≥ 0, got {samples_per_gpu}, '
                          f'{workers_per_gpu}')
    rank, world_size = _dist_info(dist)
    batch_size = samples_per_gpu if dist else num_gpus * samples_per_gpu
    num_workers = workers_per_gpu if dist else num_gpus * workers_per_gpu
    sampler = SeededSampler(dataset, world_size, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    init_fn = partial(worker_init_fn, num_workers=num_workers, rank=rank, seed=sampler.seed,
                      opencv_threads=opencv_worker_threads()) if num_workers > 0 else None
    try:
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                          collate_fn=collate, pin_memory=pin_memory, drop_last=drop_last, worker_init_fn=init_fn,
                          persistent_workers=persistent_workers and num_workers > 0, **kwargs)
    except (TypeError, ValueError) as err:  # a DataLoader argument from the config's data section
        raise ConfigError(f'data loader settings {sorted(kwargs)}: {err}') from err


LOADER_SECTIONS = ('train', 'val', 'test', 'train_dataloader', 'val_dataloader', 'test_dataloader')


def loader_args(data_cfg: Dict[str, Any], split: str, defaults: Optional[dict] = None,
                overrides: Optional[dict] = None) -> Dict[str, Any]:
    """The ``build_dataloader`` arguments of ``split`` (``'train'``, ``'val'``, ``'test'``) with mmseg 0.x precedence.

    From lowest to highest: ``defaults``, the keys of the ``data`` section shared by every split
    (``samples_per_gpu``, ``workers_per_gpu``, ...), ``overrides``, then ``data.<split>_dataloader``.
    """
    args = dict(defaults or {})
    args.update({k: v for k, v in data_cfg.items() if k not in LOADER_SECTIONS})
    args.update(overrides or {})
    args.update(data_cfg.get(f'{split}_dataloader', {}))
    return args


def _pad_stack(tensors: Sequence[torch.Tensor], pad_value: float) -> torch.Tensor:
    """Stack ``[C, H, W]`` tensors, padding each at the bottom/right to the largest H and W."""
    if all(t.shape == tensors[0].shape for t in tensors):
        return torch.stack(list(tensors))
    height = max(t.shape[-2] for t in tensors)
    width = max(t.shape[-1] for t in tensors)
    out = tensors[0].new_full((len(tensors), tensors[0].shape[0], height, width), pad_value)
    for i, t in enumerate(tensors):
        out[i, :, :t.shape[-2], :t.shape[-1]] = t
    return out


_PAD_VALUES = {'img': 0, 'gt_semantic_seg': 255}


def _collate_key(key: str, values: List[Any]) -> Any:
    first = values[0]
    if isinstance(first, torch.Tensor) and first.dim() == 3:
        return _pad_stack(values, _PAD_VALUES.get(key, 0))
    if isinstance(first, torch.Tensor):
        return torch.stack(values)
    return values


def collate(batch: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Batch pipeline outputs (see docs/design.md).

    Training samples give ``img [N,3,H,W]``, ``gt_semantic_seg [N,1,H,W]`` (padded with 0 / 255 to
    the largest) and ``img_metas`` (a list of N dicts). Test samples (lists, one entry per
    augmentation) give ``img``: one ``[N,3,H,W]`` tensor per augmentation and ``img_metas``: one list
    of N dicts per augmentation.
    """
    if not batch:
        raise ValueError('collate: empty batch')
    out = {}
    for key in batch[0]:
        values = [sample[key] for sample in batch]
        if isinstance(values[0], list):
            out[key] = [_collate_key(key, [v[i] for v in values]) for i in range(len(values[0]))]
        else:
            out[key] = _collate_key(key, values)
    return out
