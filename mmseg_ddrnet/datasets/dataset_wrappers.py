"""Dataset wrappers: ``RepeatDataset``, ``ConcatDataset`` and ``MultiImageMixDataset`` (mmseg 0.x semantics)."""
import bisect
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from torch.utils.data import Dataset

from ..registry import DATASETS, PIPELINES, build_from_cfg
from ..metrics import sum_confusion
from ..utils import ConfigError, DataError
from .samplers import sample_random_state, with_index


@DATASETS.register_module()
class RepeatDataset(Dataset):
    """``dataset`` repeated ``times`` times (so that short epochs do not restart workers too often)."""

    def __init__(self, dataset: Dataset, times: int):
        if not isinstance(times, int) or times < 1:
            raise ConfigError(f'RepeatDataset: times must be a positive integer, got {times!r}')
        self.dataset = dataset
        self.times = times
        self.CLASSES = getattr(dataset, 'CLASSES', None)
        self.PALETTE = getattr(dataset, 'PALETTE', None)
        self._ori_len = len(dataset)

    def __len__(self) -> int:
        return self.times * self._ori_len

    def __getitem__(self, idx: int):
        return self.dataset[with_index(idx, int(idx) % self._ori_len)]

    def __getattr__(self, name: str):
        # Evaluation helpers (ignore_index, pre_eval, ...) come from the wrapped dataset.
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)


@DATASETS.register_module()
class ConcatDataset(Dataset):
    """The datasets one after the other; they must share ``CLASSES``.

    Args:
        datasets: the datasets.
        separate_eval: evaluate each dataset on its own (keys prefixed ``<i>_``) instead of together.
    """

    def __init__(self, datasets: Sequence[Dataset], separate_eval: bool = True):
        self.datasets = list(datasets)
        if not self.datasets:
            raise DataError('ConcatDataset: no datasets given')
        self.CLASSES = getattr(self.datasets[0], 'CLASSES', None)
        self.PALETTE = getattr(self.datasets[0], 'PALETTE', None)
        for ds in self.datasets[1:]:
            if getattr(ds, 'CLASSES', None) is not None and list(ds.CLASSES) != list(self.CLASSES or []):
                raise ConfigError(f'ConcatDataset: datasets have different classes: {self.CLASSES} vs {ds.CLASSES}')
        self.separate_eval = separate_eval
        self.cumulative_sizes = np.cumsum([len(ds) for ds in self.datasets]).tolist()
        self.ignore_index = getattr(self.datasets[0], 'ignore_index', 255)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def get_dataset_idx_and_sample_idx(self, indice: int):
        """``(dataset index, index within it)`` of a global index (negative indices count from the end)."""
        if indice < 0:
            if -indice > len(self):
                raise IndexError('absolute value of index should not exceed dataset length')
            indice = len(self) + indice
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, indice)
        sample_idx = indice if dataset_idx == 0 else indice - self.cumulative_sizes[dataset_idx - 1]
        return dataset_idx, sample_idx

    def __getitem__(self, idx: int):
        dataset_idx, sample_idx = self.get_dataset_idx_and_sample_idx(int(idx))
        return self.datasets[dataset_idx][with_index(idx, sample_idx)]

    def get_gt_seg_map_by_idx(self, idx: int) -> np.ndarray:
        dataset_idx, sample_idx = self.get_dataset_idx_and_sample_idx(idx)
        return self.datasets[dataset_idx].get_gt_seg_map_by_idx(sample_idx)

    def get_gt_seg_maps(self, efficient_test=None):
        for ds in self.datasets:
            yield from ds.get_gt_seg_maps()

    def pre_eval(self, preds, indices) -> List[np.ndarray]:
        """One confusion matrix per prediction, each from the dataset its index falls in."""
        if not isinstance(indices, (list, tuple)):
            indices, preds = [indices], [preds]
        out = []
        for pred, idx in zip(preds, indices):
            dataset_idx, sample_idx = self.get_dataset_idx_and_sample_idx(idx)
            out.extend(self.datasets[dataset_idx].pre_eval([pred], [sample_idx]))
        return out

    def _are_label_maps(self, results: list) -> bool:
        if len(results) != len(self) or not all(isinstance(r, (np.ndarray, str)) for r in results):
            return False
        num_classes = len(self.CLASSES)
        return not all(isinstance(r, np.ndarray) and r.shape == (num_classes, num_classes) for r in results) or \
            self.get_gt_seg_map_by_idx(0).shape == (num_classes, num_classes)

    def evaluate(self, results: Sequence, metric: Union[str, Sequence[str]] = 'mIoU', logger=None,
                 **kwargs) -> Dict[str, float]:
        """Evaluate label maps (in order) per dataset with ``separate_eval``, else everything together.

        Summed confusion matrices cannot be split, so they are always evaluated together.
        """
        results = list(results)
        if not self._are_label_maps(results):
            return self.datasets[0].evaluate(results, metric, logger, **kwargs)
        if self.separate_eval:
            eval_results = {}
            for i, ds in enumerate(self.datasets):
                start = 0 if i == 0 else self.cumulative_sizes[i - 1]
                part = ds.evaluate(results[start:self.cumulative_sizes[i]], metric, logger, **kwargs)
                eval_results.update({f'{i}_{k}': v for k, v in part.items()})
            return eval_results
        total = sum_confusion(m for i, r in enumerate(results) for m in self.pre_eval([r], [i]))
        return self.datasets[0].evaluate([total], metric, logger, **kwargs)


def _check_skip_type_keys(skip_type_keys) -> Optional[List[str]]:
    if skip_type_keys is None:
        return None
    if not isinstance(skip_type_keys, (list, tuple)) or not all(isinstance(k, str) for k in skip_type_keys):
        raise ConfigError(f'MultiImageMixDataset: skip_type_keys must be a list of transform type names, '
                          f'got {skip_type_keys!r}')
    return list(skip_type_keys)


@DATASETS.register_module()
class MultiImageMixDataset(Dataset):
    """``dataset`` followed by a ``pipeline`` whose transforms may mix in other samples (``RandomMosaic``).

    Each sample is ``dataset[idx]``, then each transform of ``pipeline`` in turn (those whose type is
    in ``skip_type_keys`` are skipped); before a transform with ``get_indexes(dataset)`` the samples
    it names are loaded into ``results['mix_results']``, removed again after it. As in mmseg 0.x
    every random draw (the inner pipelines, the indices, the transforms) comes from ``np.random``
    in that order; a seeded index (the loader's) seeds it once for the whole sample.

    Args:
        dataset: the dataset to mix (its own pipeline loads and augments each part).
        pipeline: transform configs (dicts) run after it.
        skip_type_keys: transform type names to skip (see :meth:`update_skip_type_keys`).
    """

    def __init__(self, dataset: Dataset, pipeline: Sequence[dict], skip_type_keys: Optional[Sequence[str]] = None):
        if not isinstance(pipeline, (list, tuple)):
            raise ConfigError(f'MultiImageMixDataset: pipeline must be a list of transform dicts, got {pipeline!r}')
        self._skip_type_keys = _check_skip_type_keys(skip_type_keys)
        self.pipeline, self.pipeline_types = [], []
        for transform in pipeline:
            if not isinstance(transform, dict):
                raise ConfigError(f'MultiImageMixDataset: each pipeline entry must be a dict, got {transform!r}')
            self.pipeline_types.append(transform.get('type'))
            self.pipeline.append(build_from_cfg(transform, PIPELINES))
        self.dataset = dataset
        self.CLASSES = getattr(dataset, 'CLASSES', None)
        self.PALETTE = getattr(dataset, 'PALETTE', None)
        self.num_samples = len(dataset)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, idx: int):
        with sample_random_state(idx):
            return self._mix(int(idx))

    def _mix(self, idx: int) -> Optional[dict]:
        results = self.dataset[idx]
        for transform, transform_type in zip(self.pipeline, self.pipeline_types):
            if results is None:
                return None
            if self._skip_type_keys is not None and transform_type in self._skip_type_keys:
                continue
            if hasattr(transform, 'get_indexes'):
                indexes = transform.get_indexes(self.dataset)
                indexes = indexes if isinstance(indexes, Sequence) else [indexes]
                results['mix_results'] = [self.dataset[int(i)] for i in indexes]
            results = transform(results)
            if results is not None:
                results.pop('mix_results', None)
        return results

    def update_skip_type_keys(self, skip_type_keys: Sequence[str]) -> None:
        """Skip the transforms of these types from now on (called by hooks, as in mmseg 0.x)."""
        self._skip_type_keys = _check_skip_type_keys(skip_type_keys)

    def __getattr__(self, name: str):
        # Evaluation helpers (ignore_index, pre_eval, ...) come from the wrapped dataset.
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)
