"""mmseg 0.x ``CrossEntropyLoss`` on low-resolution logits and full-resolution labels."""
from typing import Optional

import torch
import torch.nn as nn

from ...ops import seg_cross_entropy
from ...ops.reference import pixel_cross_entropy
from ...registry import MODELS
from ...utils import ConfigError
from ...utils.checks import check_bool, check_number, check_str
from .utils import ClassWeight, check_loss_name, get_class_weight, weight_reduce_loss


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with mmseg 0.x reduction.

    The logits are upsampled (bilinear) to the label size inside the loss. ``reduction='mean'``
    averages over all N·H·W pixels (ignored ones count as 0) or, with ``avg_non_ignore``, over the
    non-ignored ones; ``'sum'`` sums. ``class_weight[c]`` multiplies the loss of class-c pixels and
    is not renormalised.

    ``accepts_low_res_logits = True``: decode heads pass the low-resolution logits (see
    :class:`~mmseg_ddrnet.models.heads.BaseDecodeHead`). With a per-pixel ``weight`` (a pixel
    sampler's) or ``reduction_override`` it takes mmseg 0.x's path: per-pixel losses of the resized
    logits, times ``weight``, reduced as 0.x's ``weight_reduce_loss`` (mean over all pixels, or over
    the non-ignored ones with ``avg_non_ignore``).

    Args:
        use_sigmoid, use_mask: mmseg's binary and mask variants; not supported (must be False).
        reduction: ``'mean'`` or ``'sum'``.
        class_weight: per-class weights, a list or a ``.npy``/``.json``/``.pkl`` file.
        loss_weight: factor of the loss.
        loss_name: the key of the loss in the head's loss dict (must start with ``loss_`` to count).
        avg_non_ignore: average over non-ignored pixels only.
    """

    accepts_low_res_logits = True

    def __init__(self, use_sigmoid: bool = False, use_mask: bool = False, reduction: str = 'mean',
                 class_weight: ClassWeight = None, loss_weight: float = 1.0, loss_name: str = 'loss_ce',
                 avg_non_ignore: bool = False):
        super().__init__()
        if check_bool('CrossEntropyLoss', 'use_sigmoid', use_sigmoid) or check_bool('CrossEntropyLoss', 'use_mask',
                                                                                    use_mask):
            raise ConfigError('CrossEntropyLoss: use_sigmoid=True and use_mask=True are not supported; '
                              'DDRNet uses the softmax cross-entropy (leave both False)')
        self.reduction = check_str('CrossEntropyLoss', 'reduction', reduction, ('mean', 'sum'))
        self.class_weight = get_class_weight(class_weight, 'CrossEntropyLoss')
        self.loss_weight = check_number('CrossEntropyLoss', 'loss_weight', loss_weight)
        self.avg_non_ignore = check_bool('CrossEntropyLoss', 'avg_non_ignore', avg_non_ignore)
        self._loss_name = check_loss_name(loss_name, 'CrossEntropyLoss')

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: torch.Tensor, label: torch.Tensor, weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None,
                ignore_index: int = 255, align_corners: bool = False, **kwargs) -> torch.Tensor:
        """The loss of N×C×h×w ``logits`` against N×H×W ``label`` (optional N×H×W pixel ``weight``)."""
        if weight is None and avg_factor is None and reduction_override is None:
            return self._fast_loss(logits, label, ignore_index, align_corners)
        reduction = reduction_override or self.reduction
        loss = pixel_cross_entropy(logits, label, self.class_weight, ignore_index, align_corners)
        if avg_factor is None and self.avg_non_ignore and reduction == 'mean':
            avg_factor = int((label != ignore_index).sum())
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction, avg_factor)

    def _fast_loss(self, logits: torch.Tensor, label: torch.Tensor, ignore_index: int,
                   align_corners: bool) -> torch.Tensor:
        """The reduced loss through the fused ``seg_cross_entropy`` (no per-pixel tensor)."""
        avg_non_ignore = self.avg_non_ignore and self.reduction == 'mean'
        loss = seg_cross_entropy(logits, label, weight=self.class_weight, ignore_index=ignore_index,
                                 avg_non_ignore=avg_non_ignore, align_corners=align_corners)
        if self.reduction == 'sum':
            loss = loss * label.numel()
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_name={self.loss_name!r}, loss_weight={self.loss_weight}, '
                f'avg_non_ignore={self.avg_non_ignore}, class_weight={self.class_weight}')

