"""Segmentation metrics from confusion matrices (rows = ground truth, columns = prediction).

Every image contributes one ``C×C`` int64 matrix (:func:`image_confusion_matrix`); matrices add up
exactly across images and processes, and :func:`confusion_to_metrics` turns the sum into
``aAcc``, ``IoU``, ``Acc``, ``Dice``, ``Fscore``, ``Precision``, ``Recall`` (per class) as mmseg 0.x's
``total_area_to_metrics``. The mmseg 0.x functions (``intersect_and_union``, ``eval_metrics``,
``mean_iou``, ``mean_dice``, ``mean_fscore``, ``pre_eval_to_metrics``) are kept for compatibility.
"""
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..ops import confusion_matrix
from ..utils import ConfigError, DataError
from ..utils.image_io import imread

ALLOWED_METRICS = ('mIoU', 'mDice', 'mFscore')
ArrayOrPath = Union[np.ndarray, str, torch.Tensor]


def _as_array(x: ArrayOrPath, what: str) -> np.ndarray:
    if isinstance(x, str):
        if x.endswith('.npy'):
            return np.load(x)
        return imread(x, 'unchanged', 'pillow')
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise DataError(f'{what} must be a numpy array, a tensor or a file path, got {type(x).__name__}')
    return x


def map_labels(label: np.ndarray, label_map: Optional[dict] = None, reduce_zero_label: bool = False) -> np.ndarray:
    """Apply a label map then ``reduce_zero_label`` (0 → 255, others − 1), as mmseg 0.x."""
    label = np.array(label, copy=True)
    if label_map:
        original = label.copy()
        for old, new in label_map.items():
            label[original == old] = new
    if reduce_zero_label:
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    return label


def image_confusion_matrix(pred: ArrayOrPath, label: ArrayOrPath, num_classes: int, ignore_index: int = 255,
                           label_map: Optional[dict] = None, reduce_zero_label: bool = False) -> np.ndarray:
    """The ``C×C`` int64 confusion matrix of one image; pixels labelled ``ignore_index`` are skipped.

    Raises DataError when the shapes differ or a label is outside ``[0, C)`` without being ignored.
    """
    pred, label = _as_array(pred, 'a prediction'), _as_array(label, 'a label map')
    if label_map or reduce_zero_label:
        label = map_labels(label, label_map, reduce_zero_label)
    if pred.shape != label.shape:
        raise DataError(f'prediction of shape {pred.shape} does not match its label map of shape {label.shape}')
    valid = label != ignore_index
    if valid.any() and (label[valid].min() < 0 or label[valid].max() >= num_classes):
        bad = np.unique(label[valid & ((label < 0) | (label >= num_classes))])
        raise DataError(f'label values {bad.tolist()} are outside [0, {num_classes}) and not the ignore index '
                        f'{ignore_index}')
    return confusion_matrix(pred, label, num_classes, ignore_index).cpu().numpy().astype(np.int64, copy=False)


def confusion_to_areas(matrix: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(intersect, union, pred_area, label_area)`` per class from a confusion matrix."""
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise DataError(f'a confusion matrix must be square (C×C), got shape {matrix.shape}')
    intersect = np.diag(matrix).copy()
    area_label = matrix.sum(axis=1)
    area_pred = matrix.sum(axis=0)
    return intersect, area_pred + area_label - intersect, area_pred, area_label


def f_score(precision, recall, beta: float = 1):
    """The F-score ``(1 + β²)·P·R / (β²·P + R)``."""
    return (1 + beta ** 2) * (precision * recall) / ((beta ** 2 * precision) + recall)


def _check_metrics(metrics: Union[str, Sequence[str]]) -> List[str]:
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in ALLOWED_METRICS]
    if unknown:
        raise ConfigError(f'metrics {unknown} are not supported; choose from {list(ALLOWED_METRICS)}')
    return metrics


def total_area_to_metrics(total_area_intersect, total_area_union, total_area_pred_label, total_area_label,
                          metrics: Union[str, Sequence[str]] = 'mIoU', nan_to_num: Optional[float] = None,
                          beta: float = 1) -> Dict[str, np.ndarray]:
    """Per-class metrics (fractions; NaN for classes absent from labels and predictions) and ``aAcc``."""
    metrics = _check_metrics(metrics)
    inter, union, pred, label = (np.asarray(a, dtype=np.float64) for a in (
        total_area_intersect, total_area_union, total_area_pred_label, total_area_label))
    with np.errstate(divide='ignore', invalid='ignore'):
        ret = OrderedDict(aAcc=inter.sum() / label.sum())
        for metric in metrics:
            if metric == 'mIoU':
                ret['IoU'] = inter / union
                ret['Acc'] = inter / label
            elif metric == 'mDice':
                ret['Dice'] = 2 * inter / (pred + label)
                ret['Acc'] = inter / label
            else:
                precision, recall = inter / pred, inter / label
                ret['Fscore'] = f_score(precision, recall, beta)
                ret['Precision'] = precision
                ret['Recall'] = recall
    if nan_to_num is not None:
        ret = OrderedDict((k, np.nan_to_num(v, nan=nan_to_num)) for k, v in ret.items())
    return ret


def confusion_to_metrics(matrix: np.ndarray, metrics: Union[str, Sequence[str]] = 'mIoU',
                         nan_to_num: Optional[float] = None, beta: float = 1) -> Dict[str, np.ndarray]:
    """:func:`total_area_to_metrics` of a (summed) confusion matrix."""
    return total_area_to_metrics(*confusion_to_areas(matrix), metrics=metrics, nan_to_num=nan_to_num, beta=beta)


def intersect_and_union(pred_label: ArrayOrPath, label: ArrayOrPath, num_classes: int, ignore_index: int,
                        label_map: Optional[dict] = None, reduce_zero_label: bool = False):
    """mmseg 0.x: ``(area_intersect, area_union, area_pred_label, area_label)`` of one image (tensors)."""
    matrix = image_confusion_matrix(pred_label, label, num_classes, ignore_index, label_map, reduce_zero_label)
    return tuple(torch.from_numpy(a) for a in confusion_to_areas(matrix))


def sum_confusion(results: Iterable) -> np.ndarray:
    """The sum of confusion matrices (numpy arrays or tensors); DataError when there are none."""
    total = None
    for item in results:
        matrix = np.asarray(item.cpu().numpy() if isinstance(item, torch.Tensor) else item, dtype=np.int64)
        total = matrix.copy() if total is None else total + matrix
    if total is None:
        raise DataError('no evaluation results: the dataset or the test loop produced nothing to evaluate')
    return total


def pre_eval_to_metrics(pre_eval_results: Sequence, metrics: Union[str, Sequence[str]] = 'mIoU',
                        nan_to_num: Optional[float] = None, beta: float = 1) -> Dict[str, np.ndarray]:
    """Metrics from per-image confusion matrices, or from mmseg 0.x ``intersect_and_union`` tuples."""
    results = list(pre_eval_results)
    if results and isinstance(results[0], (tuple, list)) and len(results[0]) == 4:
        areas = [sum(np.asarray(r[i], dtype=np.float64) for r in results) for i in range(4)]
        return total_area_to_metrics(*areas, metrics=metrics, nan_to_num=nan_to_num, beta=beta)
    return confusion_to_metrics(sum_confusion(results), metrics, nan_to_num, beta)


def eval_metrics(results: Sequence[ArrayOrPath], gt_seg_maps: Sequence[ArrayOrPath], num_classes: int,
                 ignore_index: int, metrics: Union[str, Sequence[str]] = 'mIoU', nan_to_num: Optional[float] = None,
                 label_map: Optional[dict] = None, reduce_zero_label: bool = False,
                 beta: float = 1) -> Dict[str, np.ndarray]:
    """mmseg 0.x: metrics of predicted label maps against ground-truth label maps."""
    if len(results) != len(gt_seg_maps):
        raise DataError(f'{len(results)} predictions for {len(gt_seg_maps)} ground-truth label maps')
    matrices = (image_confusion_matrix(p, g, num_classes, ignore_index, label_map, reduce_zero_label)
                for p, g in zip(results, gt_seg_maps))
    return confusion_to_metrics(sum_confusion(matrices), metrics, nan_to_num, beta)


def mean_iou(results, gt_seg_maps, num_classes, ignore_index, nan_to_num=None, label_map=None,
             reduce_zero_label=False) -> Dict[str, np.ndarray]:
    """mmseg 0.x: ``aAcc``, ``IoU`` and ``Acc``."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ['mIoU'], nan_to_num, label_map,
                        reduce_zero_label)


def mean_dice(results, gt_seg_maps, num_classes, ignore_index, nan_to_num=None, label_map=None,
              reduce_zero_label=False) -> Dict[str, np.ndarray]:
    """mmseg 0.x: ``aAcc``, ``Dice`` and ``Acc``."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ['mDice'], nan_to_num, label_map,
                        reduce_zero_label)


def mean_fscore(results, gt_seg_maps, num_classes, ignore_index, nan_to_num=None, label_map=None,
                reduce_zero_label=False, beta=1) -> Dict[str, np.ndarray]:
    """mmseg 0.x: ``aAcc``, ``Fscore``, ``Precision`` and ``Recall``."""
    return eval_metrics(results, gt_seg_maps, num_classes, ignore_index, ['mFscore'], nan_to_num, label_map,
                        reduce_zero_label, beta)
