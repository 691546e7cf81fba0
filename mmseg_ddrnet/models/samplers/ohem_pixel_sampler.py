"""mmseg 0.x's online hard example mining pixel sampler (``OHEMPixelSampler``)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...ops.checks import check_label_range
from ...registry import PIXEL_SAMPLERS
from ...utils import ConfigError, DataError
from .base_pixel_sampler import BasePixelSampler


@PIXEL_SAMPLERS.register_module()
class OHEMPixelSampler(BasePixelSampler):
    """Keeps the hard pixels of a batch (weight 1) and drops the others (weight 0).

    With ``thresh``: the valid pixels whose softmax probability of their label is below
    ``max(p_sorted[min(min_kept * N, n - 1)], thresh)``; without: the ``min_kept * N`` valid pixels
    of highest loss (the sum of the head's losses with ``reduction_override='none'``). ``N`` is the
    batch size, ``n`` the number of valid (non-ignored) pixels.

    Args:
        context: the decode head (its ``ignore_index`` and ``loss_decode``).
        thresh: probability threshold of hard pixels; None selects by loss.
        min_kept: pixels kept per image at least (> 1).
    """

    def __init__(self, context: nn.Module, thresh: Optional[float] = None, min_kept: int = 100000) -> None:
        super().__init__()
        if thresh is not None and (isinstance(thresh, bool) or not isinstance(thresh, (int, float))):
            raise ConfigError(f'OHEMPixelSampler: thresh must be a number or None, got {thresh!r}')
        if isinstance(min_kept, bool) or not isinstance(min_kept, int) or min_kept <= 1:
            raise ConfigError(f'OHEMPixelSampler: min_kept must be an int > 1, got {min_kept!r}')
        self.context = context
        self.thresh = None if thresh is None else float(thresh)
        self.min_kept = min_kept

    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """N×H×W weights (0/1, the logits' dtype) of N×C×H×W logits and N×1×H×W labels of the same size."""
        label = _check_inputs(seg_logit, seg_label)
        check_label_range('OHEMPixelSampler', label, seg_logit.shape[1], self.context.ignore_index)
        with torch.no_grad():
            valid = label != self.context.ignore_index
            batch_kept = self.min_kept * label.shape[0]
            if self.thresh is not None:
                hard = self._below_threshold(seg_logit, label, valid, batch_kept)
            else:
                hard = self._top_losses(seg_logit, label, valid, batch_kept)
            return hard.to(seg_logit.dtype)

    def _below_threshold(self, seg_logit: torch.Tensor, label: torch.Tensor, valid: torch.Tensor,
                         batch_kept: int) -> torch.Tensor:
        target = label.masked_fill(~valid, 0).unsqueeze(1)
        prob = F.softmax(seg_logit.float(), dim=1).gather(1, target).squeeze(1)
        sorted_prob = prob[valid].sort().values
        min_threshold = sorted_prob[min(batch_kept, sorted_prob.numel() - 1)].item() \
            if sorted_prob.numel() > 0 else 0.0
        return valid & (prob < max(min_threshold, self.thresh))

    def _top_losses(self, seg_logit: torch.Tensor, label: torch.Tensor, valid: torch.Tensor,
                    batch_kept: int) -> torch.Tensor:
        losses = 0.0
        for loss_module in self.context.loss_decode:
            losses = losses + loss_module(seg_logit, label, weight=None, ignore_index=self.context.ignore_index,
                                          reduction_override='none')
        if not isinstance(losses, torch.Tensor) or losses.shape != label.shape:
            shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
            raise ConfigError(f"OHEMPixelSampler(thresh=None) needs per-pixel losses (reduction_override='none') "
                              f'of shape {tuple(label.shape)}, got {shape}; set thresh or fix the losses')
        order = losses[valid].sort(descending=True).indices
        kept = torch.zeros_like(order, dtype=torch.bool)
        kept[order[:batch_kept]] = True
        hard = torch.zeros_like(valid)
        hard[valid] = kept
        return hard


def _check_inputs(seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
    """The N×H×W int64 label, checking it has the logits' batch and size."""
    label = seg_label[:, 0] if seg_label.dim() == 4 and seg_label.shape[1] == 1 else seg_label
    if label.dim() != 3 or label.shape[0] != seg_logit.shape[0] or label.shape[-2:] != seg_logit.shape[-2:]:
        raise DataError(f'OHEMPixelSampler: logits {tuple(seg_logit.shape)} and label {tuple(seg_label.shape)} '
                        'must have the same batch and size (N×C×H×W, N×1×H×W)')
    return label.long()
