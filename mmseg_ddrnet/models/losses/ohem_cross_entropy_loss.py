"""DDRNet's online hard example mining cross-entropy (``OhemCrossEntropy``)."""
from typing import Optional

import torch
import torch.nn as nn

from ...ops import seg_cross_entropy
from ...registry import MODELS
from ...utils import ConfigError
from ...utils.checks import check_int, check_number
from .utils import ClassWeight, check_loss_name, get_class_weight


@MODELS.register_module()
class OhemCrossEntropy(nn.Module):
    """Cross-entropy over the hard pixels only (DDRNet / mmseg 1.x ``OhemCrossEntropy``).

    The non-ignored pixels are sorted by the softmax probability of their label, ``p``; the
    threshold is ``max(p_sorted[min(min_kept, n - 1)], thres)`` and the pixels with ``p`` below it
    are kept; the loss is the mean of their (class-weighted) cross-entropies, 0 without valid pixels.
    The logits are upsampled (bilinear) to the label size inside the loss
    (``accepts_low_res_logits = True``). It mines the hard pixels itself, so it takes no pixel
    weights and does not combine with a head's pixel sampler (``accepts_pixel_weight = False``).

    Args:
        ignore_label: label to ignore; None (default) follows the head's ``ignore_index``.
        ignore_index: the mmseg 0.x spelling of ``ignore_label`` (set one of them).
        thres: probability threshold below which pixels are hard.
        min_kept: at least this many pixels are kept (at least 1).
        class_weight: per-class weights, a list or a ``.npy``/``.json``/``.pkl`` file.
        loss_weight: factor of the loss.
        loss_name: the key of the loss in the head's loss dict.
    """

    accepts_low_res_logits = True
    accepts_pixel_weight = False

    def __init__(self, ignore_label: Optional[int] = None, thres: float = 0.7, min_kept: int = 100000,
                 class_weight: ClassWeight = None, loss_weight: float = 1.0, loss_name: str = 'loss_ohem',
                 ignore_index: Optional[int] = None):
        super().__init__()
        check_int('OhemCrossEntropy', 'ignore_label', ignore_label, optional=True)
        check_int('OhemCrossEntropy', 'ignore_index', ignore_index, optional=True)
        if ignore_label is not None and ignore_index is not None and ignore_label != ignore_index:
            raise ConfigError(f'OhemCrossEntropy: ignore_label={ignore_label} and ignore_index={ignore_index} '
                              'differ; set one of them')
        self.ignore_label = ignore_label if ignore_label is not None else ignore_index
        if check_number('OhemCrossEntropy', 'thres', thres) < 0 or thres > 1:
            raise ConfigError(f'OhemCrossEntropy: thres must be a probability in [0, 1], got {thres!r}')
        self.thres = float(thres)
        self.min_kept = max(1, check_int('OhemCrossEntropy', 'min_kept', min_kept))
        self.class_weight = get_class_weight(class_weight, 'OhemCrossEntropy')
        self.loss_weight = check_number('OhemCrossEntropy', 'loss_weight', loss_weight)
        self._loss_name = check_loss_name(loss_name, 'OhemCrossEntropy')

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255,
                align_corners: bool = False, *, weight: Optional[torch.Tensor] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """The loss of N×C×h×w ``logits`` against N×H×W ``label``."""
        if weight is not None or reduction_override is not None:
            raise ConfigError('OhemCrossEntropy mines hard pixels itself and takes no pixel weight or '
                              'reduction_override; remove decode_head.sampler or use CrossEntropyLoss')
        ignore = ignore_index if self.ignore_label is None else self.ignore_label
        loss = seg_cross_entropy(logits, label, weight=self.class_weight, ignore_index=ignore,
                                 align_corners=align_corners, thres=self.thres, min_kept=self.min_kept)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_name={self.loss_name!r}, loss_weight={self.loss_weight}, thres={self.thres}, '
                f'min_kept={self.min_kept}, class_weight={self.class_weight}')
