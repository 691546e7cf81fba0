"""Evaluation methods shared by the datasets: ground truth, ``pre_eval``, ``evaluate``, ``format_results``."""
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
from tqdm import tqdm

from ..metrics import confusion_to_metrics, image_confusion_matrix, metric_tables, sum_confusion, summarize
from ..metrics.confusion import ALLOWED_METRICS
from ..utils import ConfigError, DataError, print_log
from ..utils.image_io import imwrite

_PROGRESS_FROM = 100  # show a progress bar when evaluating at least this many label maps


class SegEvaluationMixin:
    """Evaluation for datasets with ``img_infos``, ``CLASSES``, ``ignore_index`` and a ``gt_seg_map_loader``."""

    def get_gt_seg_map_by_idx(self, index: int) -> np.ndarray:
        """The label map of sample ``index`` as evaluated (label map and ``reduce_zero_label`` applied)."""
        results = dict(ann_info=self.get_ann_info(index))
        self.pre_pipeline(results)
        self.gt_seg_map_loader(results)
        return results['gt_semantic_seg']

    def get_gt_seg_maps(self, efficient_test: Optional[bool] = None) -> Iterator[np.ndarray]:
        """The label maps of all samples, in order (a generator)."""
        for idx in range(len(self)):
            yield self.get_gt_seg_map_by_idx(idx)

    def pre_eval(self, preds: Union[np.ndarray, Sequence[np.ndarray]],
                 indices: Union[int, Sequence[int]]) -> List[np.ndarray]:
        """One ``C×C`` int64 confusion matrix (rows: ground truth) per prediction."""
        if not isinstance(indices, (list, tuple)):
            indices, preds = [indices], [preds]
        matrices = []
        for pred, index in zip(preds, indices):
            matrices.append(self._pair_confusion(pred, self.get_gt_seg_map_by_idx(index), index))
        return matrices

    def _is_confusion(self, results: Sequence) -> bool:
        """Whether ``results`` are confusion matrices rather than label maps (both are 2-d arrays)."""
        num_classes = len(self.CLASSES)
        if not all(isinstance(r, np.ndarray) and r.shape == (num_classes, num_classes) for r in results):
            return False
        if len(results) != len(self):
            return True
        return self.get_gt_seg_map_by_idx(0).shape != (num_classes, num_classes)

    def evaluate(self, results: Sequence, metric: Union[str, Sequence[str]] = 'mIoU', logger=None,
                 gt_seg_maps: Optional[Sequence[np.ndarray]] = None, **kwargs) -> Dict[str, float]:
        """Metrics of confusion matrices (summed) or of label maps / their files in dataset order.

        Prints the per-class and summary tables to ``logger``; returns ``aAcc``, ``m<Metric>`` and
        ``<Metric>.<class>`` as fractions.
        """
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in ALLOWED_METRICS]
        if unknown:
            raise ConfigError(f'metrics {unknown} are not supported by {type(self).__name__}; '
                              f'choose from {list(ALLOWED_METRICS)}')
        results = list(results)
        if not results:
            raise DataError('no results to evaluate')
        if all(isinstance(r, (np.ndarray, str)) for r in results) and not self._is_confusion(results):
            total = self._label_maps_confusion(results, gt_seg_maps)
        else:
            total = sum_confusion(results)
        ret_metrics = confusion_to_metrics(total, metrics)
        class_names = list(self.CLASSES)
        print_log('\n' + metric_tables(ret_metrics, class_names), logger)
        return summarize(ret_metrics, class_names)

    def _label_maps_confusion(self, results: Sequence, gt_seg_maps) -> np.ndarray:
        if len(results) != len(self):
            raise DataError(f'{len(results)} predictions for a dataset of {len(self)} images')
        gts = gt_seg_maps if gt_seg_maps is not None else self.get_gt_seg_maps()
        pairs = tqdm(zip(results, gts), total=len(results), desc='evaluating', unit='img',
                     disable=len(results) < _PROGRESS_FROM)
        return sum_confusion(self._pair_confusion(pred, gt, idx) for idx, (pred, gt) in enumerate(pairs))

    def _pair_confusion(self, pred, gt: np.ndarray, index: int) -> np.ndarray:
        try:
            return image_confusion_matrix(pred, gt, len(self.CLASSES), self.ignore_index)
        except DataError as err:
            raise DataError(f'{self.img_infos[index]["filename"]}: {err}') from None

    def result_basename(self, index: int) -> str:
        """The output file stem of sample ``index``: its image file name without folder and extension."""
        return osp.splitext(osp.basename(self.img_infos[index]['filename']))[0]

    def format_results(self, results: Sequence[np.ndarray], imgfile_prefix: str,
                       indices: Optional[Sequence[int]] = None, **kwargs) -> List[str]:
        """Write each label map as ``<imgfile_prefix>/<image stem>.png`` (uint8); returns the paths."""
        return self._write_label_pngs(results, imgfile_prefix, indices, lambda seg: seg, '')

    def _write_label_pngs(self, results, imgfile_prefix: str, indices, convert, suffix: str) -> List[str]:
        results = list(results)
        indices = list(range(len(results))) if indices is None else list(indices)
        if len(indices) != len(results):
            raise DataError(f'{len(results)} results for {len(indices)} indices')
        os.makedirs(imgfile_prefix, exist_ok=True)
        files = []
        for result, index in zip(results, indices):
            seg = np.asarray(result)
            if seg.min(initial=0) < 0 or seg.max(initial=0) > 255:
                raise DataError(f'label values of the prediction for {self.img_infos[index]["filename"]} do '
                                'not fit a uint8 PNG')
            path = osp.join(imgfile_prefix, self.result_basename(index) + suffix + '.png')
            imwrite(path, convert(seg).astype(np.uint8))
            files.append(path)
        return files
