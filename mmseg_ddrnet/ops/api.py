"""The public ops: validate the input, then run the compiled kernel or the reference."""
from typing import Optional

import torch

from . import compiled, dispatch, reference, selfcheck
from .checks import (Size, check_confusion_inputs, check_logits, check_not_empty, check_ohem,
                     check_size, class_weight, compute_dtype, squeeze_label)


def _select(op: str, *tensors: torch.Tensor, dtypes=compiled.FLOAT_DTYPES):
    """The compiled module for ``op`` on these tensors, or None for the reference."""
    unsupported = compiled.unsupported_reason(dispatch.loaded_ext()[0], *tensors, dtypes=dtypes)
    return dispatch.select(op, unsupported, verify=lambda ext: selfcheck.problem(op, tensors[0].device, ext))


def resize_argmax(logits: torch.Tensor, size: Size, align_corners: bool = False) -> torch.Tensor:
    """``F.interpolate(logits, size, mode='bilinear', align_corners).argmax(1)`` as int64 N×H×W.

    An empty batch (N = 0) gives an empty 0×H×W result.
    The compiled kernel never materialises the N×C×H×W resized logits. Half-precision logits
    are interpolated in float32.
    """
    check_logits('resize_argmax', logits)
    size = check_size('resize_argmax', size)
    ext = _select('resize_argmax', logits)
    if ext is None:
        return reference.resize_argmax(logits, size, align_corners)
    return compiled.resize_argmax(ext, logits, size, align_corners)


def seg_cross_entropy(logits: torch.Tensor, label: torch.Tensor, weight=None,
                      ignore_index: int = 255, avg_non_ignore: bool = False,
                      align_corners: bool = False, thres: Optional[float] = None,
                      min_kept: int = 0) -> torch.Tensor:
    """Cross-entropy of N×C×h×w logits resized to the N×H×W (or N×1×H×W) labels.

    mmseg's ``CrossEntropyLoss`` reduction without ``thres`` (mean over all pixels, or over the
    non-ignored ones with ``avg_non_ignore``; ``weight[c]`` multiplies the loss of class-c pixels
    and is not renormalised), DDRNet's ``OhemCrossEntropy`` with ``thres``. Returns a float32
    scalar (float64 for double logits); see :func:`mmseg_ddrnet.ops.reference.seg_cross_entropy`.
    An empty batch or label (no pixel to average over) is a :class:`DataError`.
    """
    op = 'seg_cross_entropy'
    check_logits(op, logits)
    label = squeeze_label(op, logits, label)
    check_not_empty(op, logits, label)
    check_ohem(op, thres, min_kept)
    ext = _select(op, logits)
    if ext is None:
        return reference.seg_cross_entropy(logits, label, weight, ignore_index, avg_non_ignore,
                                           align_corners, thres, min_kept)
    weight = class_weight(op, weight, logits.shape[1],
                          logits.new_empty(0, dtype=compute_dtype(logits)))
    return compiled.seg_cross_entropy(ext, logits, label, weight, ignore_index, avg_non_ignore,
                                      align_corners, thres, min_kept)


def confusion_matrix(pred, label, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """C×C int64 confusion matrix, rows = ground truth, columns = prediction.

    Pixels whose label is ``ignore_index`` or outside ``[0, num_classes)`` are not counted.
    ``pred`` and ``label`` are integer tensors or numpy arrays of the same shape.
    """
    flat_pred, flat_label = check_confusion_inputs(pred, label, num_classes)
    ext = _select('confusion_matrix', flat_pred, flat_label, dtypes=())
    if ext is None:
        return reference.confusion_matrix(flat_pred, flat_label, num_classes, ignore_index)
    return compiled.confusion_matrix(ext, flat_pred, flat_label, num_classes, ignore_index)
