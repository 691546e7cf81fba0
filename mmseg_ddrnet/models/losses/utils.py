"""Helpers shared by the losses: class weights from configs, the reduction of per-pixel losses, accuracy."""
import json
import os
import pickle
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from ...ops import resize_argmax
from ...ops.reference import AVG_EPS
from ...utils import ConfigError

ClassWeight = Optional[Union[Sequence[float], str]]


def get_class_weight(class_weight: ClassWeight, owner: str) -> Optional[List[float]]:
    """Class weights as a list of floats, from a list or a ``.npy``/``.json``/``.pkl`` file (mmseg 0.x)."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        class_weight = _load_weights(class_weight, owner)
    try:
        weights = [float(w) for w in np.asarray(class_weight, dtype=np.float64).reshape(-1)]
    except (TypeError, ValueError) as err:
        raise ConfigError(f'{owner}: class_weight must be a list of numbers or a file, got {class_weight!r}') from err
    if not weights or any(w < 0 or not np.isfinite(w) for w in weights):
        raise ConfigError(f'{owner}: class_weight must be non-empty, finite and non-negative, got {weights}')
    return weights


def _load_weights(path: str, owner: str):
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise ConfigError(f'{owner}: class_weight file not found: {path}')
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == '.npy':
            return np.load(path, allow_pickle=False)
        if ext == '.json':
            with open(path) as f:
                return json.load(f)
        if ext in ('.pkl', '.pickle'):
            with open(path, 'rb') as f:
                return pickle.load(f)
    except (OSError, ValueError, pickle.UnpicklingError) as err:
        raise ConfigError(f'{owner}: cannot read class_weight file {path}: {err}') from err
    raise ConfigError(f'{owner}: class_weight file {path} must be .npy, .json or .pkl')


def check_loss_name(name: str, owner: str) -> str:
    """``name`` if it is a non-empty string, else a :class:`ConfigError`."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f'{owner}: loss_name must be a non-empty string, got {name!r}')
    return name


def accuracy(logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255,
             align_corners: bool = False) -> torch.Tensor:
    """Pixel accuracy in percent of low-resolution ``logits`` upsampled to the N×H×W ``label``.

    Pixels labelled ``ignore_index`` do not count; 0 when none is left.
    """
    if label.dim() == 4:
        label = label[:, 0]
    pred = resize_argmax(logits.detach(), label.shape[-2:], align_corners)
    valid = label != ignore_index
    num_valid = int(valid.sum())
    if num_valid == 0:
        return logits.new_zeros(())
    correct = (pred[valid] == label[valid]).sum()
    return (correct.float() * (100.0 / num_valid)).to(logits.dtype)


def weight_reduce_loss(loss: torch.Tensor, weight: Optional[torch.Tensor] = None, reduction: str = 'mean',
                       avg_factor: Optional[float] = None) -> torch.Tensor:
    """mmseg 0.x ``weight_reduce_loss``: ``loss * weight``, then ``'none'``, ``'sum'`` or ``'mean'``.

    The mean is over all elements, or ``sum / (avg_factor + eps)`` when ``avg_factor`` is given.
    """
    if weight is not None:
        if weight.shape != loss.shape:
            raise ConfigError(f'a pixel weight of shape {tuple(weight.shape)} does not fit the per-pixel loss '
                              f'of shape {tuple(loss.shape)}')
        loss = loss * weight.to(loss.dtype)
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction != 'mean':
        raise ConfigError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return loss.mean() if avg_factor is None else loss.sum() / (avg_factor + AVG_EPS)
