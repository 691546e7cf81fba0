"""Python side of the compiled kernels: argument plumbing, reductions and the autograd Function.

Every function takes the loaded ``mmcv_ext._C`` module first; inputs are already validated.
"""
import functools
from types import ModuleType
from typing import Optional, Tuple

import torch

from .checks import bad_label_error, bad_prediction_error
from .reference import AVG_EPS

#: Logit dtypes the kernels take (half types are computed in float32).
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: Index dtypes the confusion-matrix kernel reads directly; others are converted to int64.
INDEX_DTYPES = (torch.uint8, torch.int32, torch.int64)


def unsupported_reason(ext: Optional[ModuleType], *tensors: torch.Tensor,
                       dtypes: Tuple[torch.dtype, ...] = FLOAT_DTYPES) -> str:
    """Why the kernels cannot take these tensors ('' when they can)."""
    for t in tensors:
        if t.device.type == 'cuda' and ext is not None and not _has_cuda(ext):
            return 'mmcv_ext was built without CUDA kernels'
        if t.device.type not in ('cpu', 'cuda'):
            return f'no kernel for device {t.device.type}'
    if dtypes and tensors[0].dtype not in dtypes:
        return f'no kernel for dtype {tensors[0].dtype}'
    return ''


@functools.lru_cache(maxsize=None)
def _has_cuda(ext: ModuleType) -> bool:
    return bool(ext.build_info()['cuda'])


def resize_argmax(ext: ModuleType, logits: torch.Tensor, size: Tuple[int, int],
                  align_corners: bool) -> torch.Tensor:
    """Fused bilinear resize + argmax over classes; see ``reference.resize_argmax``."""
    return ext.resize_argmax(logits.contiguous(), size[0], size[1], bool(align_corners))


def confusion_matrix(ext: ModuleType, pred: torch.Tensor, label: torch.Tensor,
                     num_classes: int, ignore_index: int) -> torch.Tensor:
    """Parallel C×C histogram; see ``reference.confusion_matrix``."""
    pred = pred if pred.dtype in INDEX_DTYPES else pred.long()
    label = label if label.dtype in INDEX_DTYPES else label.long()
    counts = ext.confusion_matrix(pred.contiguous(), label.contiguous(), num_classes, ignore_index)
    if int(counts[-1]) > 0:
        raise bad_prediction_error(num_classes)
    return counts[:-1].view(num_classes, num_classes)


def seg_cross_entropy(ext: ModuleType, logits: torch.Tensor, label: torch.Tensor,
                      weight: Optional[torch.Tensor], ignore_index: int, avg_non_ignore: bool,
                      align_corners: bool, thres: Optional[float], min_kept: int) -> torch.Tensor:
    """Fused resize + cross-entropy (+ OHEM); see ``reference.seg_cross_entropy``."""
    return _SegCrossEntropy.apply(logits, label, weight, ext, int(ignore_index),
                                  bool(avg_non_ignore), bool(align_corners), thres, int(min_kept))


class _SegCrossEntropy(torch.autograd.Function):
    """The loss and its gradient, both upsampling the logits on the fly."""

    @staticmethod
    def forward(ctx, logits, label, weight, ext, ignore_index, avg_non_ignore, align_corners,
                thres, min_kept):
        logits, label = logits.contiguous(), label.contiguous()
        pixel_loss, prob, lse, stats = ext.seg_ce_forward(logits, label, weight, ignore_index,
                                                          align_corners)
        n_valid, n_bad = stats.tolist()
        if n_bad:
            raise bad_label_error('seg_cross_entropy', label, logits.shape[1], ignore_index)
        keep = None
        if thres is None:
            denom = (n_valid + AVG_EPS) if avg_non_ignore else label.numel()
            loss = pixel_loss.sum() / denom
            scale = pixel_loss.new_full((1,), 1.0 / denom)
        else:
            keep = _ohem_keep(prob, n_valid, thres, min_kept)
            count = keep.sum().clamp(min=1).to(pixel_loss.dtype)
            loss = (pixel_loss * keep).sum() / count
            scale = (1.0 / count).view(1)
        ctx.save_for_backward(logits, label, weight, lse, keep, scale)
        ctx.ext, ctx.ignore_index, ctx.align_corners = ext, ignore_index, align_corners
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        logits, label, weight, lse, keep, scale = ctx.saved_tensors
        grad = ctx.ext.seg_ce_backward(logits, label, weight, lse, keep,
                                       (scale * grad_loss).contiguous(), ctx.ignore_index,
                                       ctx.align_corners)
        return (grad.to(logits.dtype),) + (None,) * 8


def _ohem_keep(prob: torch.Tensor, n_valid: int, thres: float, min_kept: int) -> torch.Tensor:
    """Mask of the hard pixels: target probability below ``max(p_k, thres)``.

    ``prob`` is +inf at ignored pixels, so the k-th smallest value over all pixels is the k-th
    smallest over the valid ones and ignored pixels are never kept.
    """
    if n_valid == 0:
        return torch.zeros_like(prob, dtype=torch.bool)
    kth = kth_smallest(prob.view(-1), min(min_kept, n_valid - 1) + 1)
    return prob < kth.clamp(min=thres)


def kth_smallest(values: torch.Tensor, k: int, use_topk: Optional[bool] = None) -> torch.Tensor:
    """The ``k``-th smallest (1-based) element of a flat tensor, as a 0-d tensor.

    ``torch.kthvalue`` (quickselect) on the CPU; on CUDA it runs one thread block per slice, so
    there ``torch.topk`` (multi-block radix select) is used instead (``use_topk`` forces either).
    Both return the same element, so the result is identical.
    """
    if use_topk is None:
        use_topk = values.device.type == 'cuda'
    if use_topk:
        return torch.topk(values, k, largest=False, sorted=False).values.max()
    return torch.kthvalue(values, k).values
