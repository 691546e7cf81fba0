"""Losses (registered in ``MODELS``); they take low-resolution logits and full-resolution labels."""
from .cross_entropy_loss import CrossEntropyLoss
from .ohem_cross_entropy_loss import OhemCrossEntropy
from .utils import accuracy, get_class_weight

__all__ = ['CrossEntropyLoss', 'OhemCrossEntropy', 'accuracy', 'get_class_weight']
