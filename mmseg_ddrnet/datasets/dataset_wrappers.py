"""Dataset wrappers: ``RepeatDataset`` and ``ConcatDataset`` (mmseg 0.x semantics)."""
import bisect
from typing import Dict, List, Sequence, Union

import numpy as np
from torch.utils.data import Dataset

from ..registry import DATASETS
from ..core.evaluation import sum_confusion
from ..utils import ConfigError, DataError
from .samplers import with_index


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
