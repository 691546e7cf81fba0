"""Losses (registered in ``MODELS``); they take low-resolution logits and full-resolution labels.

The built-in losses set the class attribute ``accepts_low_res_logits = True``: decode heads then pass them
the low-resolution logits (``loss(seg_logit, label, ignore_index=, align_corners=)``) and they upsample
inside. A loss without it (any mmseg 0.x loss) gets 0.x's call, the logits resized to the label size:
``loss(seg_logit_full, label, weight=seg_weight, ignore_index=)``. See ``BaseDecodeHead``.
"""
from .cross_entropy_loss import CrossEntropyLoss
from .ohem_cross_entropy_loss import OhemCrossEntropy
from .utils import accuracy, get_class_weight

__all__ = ['CrossEntropyLoss', 'OhemCrossEntropy', 'accuracy', 'get_class_weight']
