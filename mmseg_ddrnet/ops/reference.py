"""Pure-PyTorch reference implementations: the specification of every op in this package.

The compiled ``mmcv_ext`` kernels must agree with these functions; half-precision logits are
computed in float32 (double stays double), as the kernels do.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from .checks import (Size, bad_prediction_error, check_confusion_inputs, check_label_range,
                     check_logits, check_not_empty, check_ohem, check_size, class_weight,
                     compute_dtype, squeeze_label)

#: Added to the denominator of ``avg_non_ignore`` means (mmseg's ``weight_reduce_loss``).
AVG_EPS = torch.finfo(torch.float32).eps


def upsample(logits: torch.Tensor, size: Sequence[int], align_corners: bool) -> torch.Tensor:
    """Bilinear resize in the compute dtype; a no-op when ``logits`` already have ``size``."""
    x = logits.to(compute_dtype(logits))
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=align_corners)


def resize_argmax(logits: torch.Tensor, size: Size, align_corners: bool = False) -> torch.Tensor:
    """Class index (int64, N×H×W) of bilinearly resized N×C×h×w logits."""
    check_logits('resize_argmax', logits)
    return upsample(logits, check_size('resize_argmax', size), align_corners).argmax(1)


def seg_cross_entropy(logits: torch.Tensor, label: torch.Tensor,
                      weight: Optional[torch.Tensor] = None, ignore_index: int = 255,
                      avg_non_ignore: bool = False, align_corners: bool = False,
                      thres: Optional[float] = None, min_kept: int = 0) -> torch.Tensor:
    """Cross-entropy of low-resolution logits against full-resolution labels (a scalar).

    The logits are resized bilinearly to the label size. Without ``thres`` it is mmseg's
    ``CrossEntropyLoss``: the per-pixel loss (times ``weight[label]``, ignored pixels 0) averaged
    over all N·H·W pixels, or over the non-ignored ones with ``avg_non_ignore``. With ``thres``
    it is DDRNet's ``OhemCrossEntropy``: the non-ignored pixels whose target-class probability
    is below ``max(p_sorted[min(min_kept, n - 1)], thres)`` are kept and their losses averaged.
    The loss is 0 (with a zero gradient) when no pixel is valid or kept; an empty batch or label
    (no pixel at all) is a :class:`~mmseg_ddrnet.utils.DataError`.
    """
    op = 'seg_cross_entropy'
    check_ohem(op, thres, min_kept)
    check_logits(op, logits)
    check_not_empty(op, logits, squeeze_label(op, logits, label))
    x, label, pixel_loss = _upsampled_pixel_loss(op, logits, label, weight, ignore_index, align_corners)
    if thres is not None:
        return _ohem(x, label, pixel_loss, ignore_index, thres, min_kept)
    if avg_non_ignore:
        n_valid = int((label != ignore_index).sum())
        return pixel_loss.sum() / (n_valid + AVG_EPS)
    return pixel_loss.mean()


def pixel_cross_entropy(logits: torch.Tensor, label: torch.Tensor, weight: Optional[torch.Tensor] = None,
                        ignore_index: int = 255, align_corners: bool = False) -> torch.Tensor:
    """Per-pixel (N×H×W) cross-entropy of the logits resized to the label size (``weight[label]`` times it,
    ignored pixels 0): the unreduced loss of :func:`seg_cross_entropy` without OHEM."""
    return _upsampled_pixel_loss('pixel_cross_entropy', logits, label, weight, ignore_index, align_corners)[2]


def _upsampled_pixel_loss(op: str, logits: torch.Tensor, label: torch.Tensor, weight, ignore_index: int,
                          align_corners: bool):
    """``(resized logits, N×H×W label, per-pixel loss)`` after checking the inputs for ``op``."""
    check_logits(op, logits)
    label = squeeze_label(op, logits, label)
    num_classes = logits.shape[1]
    weight = class_weight(op, weight, num_classes, logits.new_empty(0, dtype=compute_dtype(logits)))
    check_label_range(op, label, num_classes, ignore_index)
    x = upsample(logits, label.shape[-2:], align_corners)
    return x, label, F.cross_entropy(x, label, weight=weight, ignore_index=ignore_index, reduction='none')


def _ohem(x: torch.Tensor, label: torch.Tensor, pixel_loss: torch.Tensor, ignore_index: int,
          thres: float, min_kept: int) -> torch.Tensor:
    """DDRNet's online hard example mining over per-pixel losses (see ``seg_cross_entropy``)."""
    valid = (label != ignore_index).view(-1)
    target = label.masked_fill(label == ignore_index, 0)
    prob = F.softmax(x, dim=1).gather(1, target.unsqueeze(1)).view(-1)[valid]
    if prob.numel() == 0:
        return pixel_loss.sum() * 0.0
    prob, order = prob.sort()
    threshold = prob[min(min_kept, prob.numel() - 1)].clamp(min=thres)
    kept = pixel_loss.view(-1)[valid][order][prob < threshold]
    if kept.numel() == 0:
        return pixel_loss.sum() * 0.0
    return kept.mean()


def confusion_matrix(pred, label, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """C×C int64 counts of (ground truth, prediction) pairs; rows are the ground truth.

    ``pred`` and ``label`` are integer tensors or numpy arrays of the same shape (size-1 dims
    aside). Pixels whose label is ``ignore_index`` or outside ``[0, num_classes)`` are not
    counted; a counted pixel whose prediction is outside ``[0, num_classes)`` is an error.
    """
    pred, label = check_confusion_inputs(pred, label, num_classes)
    mask = (label != ignore_index) & (label >= 0) & (label < num_classes)
    p, t = pred[mask].long(), label[mask].long()
    if bool(((p < 0) | (p >= num_classes)).any()):
        raise bad_prediction_error(num_classes)
    return torch.bincount(t * num_classes + p, minlength=num_classes ** 2).view(num_classes,
                                                                                  num_classes)
