"""Input validation shared by the reference and the compiled implementations of the ops.

Bad input is a user error (:class:`~mmseg_ddrnet.utils.DataError`) naming the op and the argument.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..utils import ConfigError, DataError
from ..utils.checks import is_int

Size = Union[int, Sequence[int]]


def check_logits(op: str, logits: torch.Tensor) -> None:
    """``logits`` must be a floating N×C×h×w tensor with at least one class and one pixel."""
    if not isinstance(logits, torch.Tensor):
        raise DataError(f'{op}: logits must be a torch.Tensor, got {type(logits).__name__}')
    if logits.dim() != 4 or not logits.is_floating_point():
        raise DataError(f'{op}: logits must be a floating N×C×h×w tensor, '
                        f'got {logits.dtype} of shape {tuple(logits.shape)}')
    if 0 in logits.shape[1:]:
        raise DataError(f'{op}: logits of shape {tuple(logits.shape)} have no class or no pixel')


def check_size(op: str, size: Size) -> Tuple[int, int]:
    """``size`` as an (H, W) pair of positive ints."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in pair):
        raise DataError(f'{op}: size must be a positive int or an (H, W) pair, got {size!r}')
    return int(pair[0]), int(pair[1])


def squeeze_label(op: str, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """An N×H×W int64 view of an N×H×W or N×1×H×W integer label on the logits' device."""
    if not isinstance(label, torch.Tensor):
        raise DataError(f'{op}: label must be a torch.Tensor, got {type(label).__name__}')
    if label.dim() == 4 and label.shape[1] == 1:
        label = label[:, 0]
    if label.dim() != 3 or label.shape[0] != logits.shape[0]:
        raise DataError(f'{op}: label must be N×H×W or N×1×H×W with N={logits.shape[0]} '
                        f'(the logits\' batch), got shape {tuple(label.shape)}')
    if label.is_floating_point() or label.is_complex() or label.dtype == torch.bool:
        raise DataError(f'{op}: label must hold integers, got {label.dtype}')
    if label.device != logits.device:
        raise DataError(f'{op}: label is on {label.device} but logits are on {logits.device}')
    return label.long()


def check_not_empty(op: str, logits: torch.Tensor, label: torch.Tensor) -> None:
    """A loss needs at least one image and one labelled pixel position (its mean is undefined otherwise)."""
    if logits.shape[0] == 0 or label.numel() == 0:
        raise DataError(f'{op}: empty input (logits of shape {tuple(logits.shape)}, label of shape '
                        f'{tuple(label.shape)}): the loss over no pixel is undefined; skip empty batches')


def check_ohem(op: str, thres: Optional[float], min_kept: int) -> None:
    """OHEM parameters: ``thres`` None or a number, ``min_kept`` a non-negative int."""
    if thres is not None and (isinstance(thres, bool) or not isinstance(thres, (int, float))):
        raise ConfigError(f'{op}: thres must be a number or None, got {thres!r}')
    if isinstance(min_kept, bool) or not isinstance(min_kept, (int, np.integer)) or min_kept < 0:
        raise ConfigError(f'{op}: min_kept must be a non-negative int, got {min_kept!r}')


def class_weight(op: str, weight, num_classes: int, like: torch.Tensor) -> Optional[torch.Tensor]:
    """Class weights as a 1-D tensor of ``num_classes`` values in ``like``'s dtype and device."""
    if weight is None:
        return None
    weight = torch.as_tensor(weight, dtype=like.dtype, device=like.device)
    if weight.dim() != 1 or weight.numel() != num_classes:
        raise ConfigError(f'{op}: class weight must hold one value per class ({num_classes}), '
                          f'got shape {tuple(weight.shape)}')
    return weight.contiguous()


def bad_label_error(op: str, label: torch.Tensor, num_classes: int, ignore_index: int) -> DataError:
    """The error for labels outside ``[0, num_classes)`` that are not ``ignore_index``."""
    bad = label[(label != ignore_index) & ((label < 0) | (label >= num_classes))]
    values = sorted(set(bad.unique()[:5].tolist()))
    return DataError(f'{op}: label values {values} are outside [0, {num_classes}) and are not '
                     f'ignore_index={ignore_index}; check the dataset\'s label maps and num_classes')


def check_label_range(op: str, label: torch.Tensor, num_classes: int, ignore_index: int) -> None:
    """Raise :class:`DataError` if a label is neither a class index nor ``ignore_index``."""
    bad = (label != ignore_index) & ((label < 0) | (label >= num_classes))
    if bool(bad.any()):
        raise bad_label_error(op, label, num_classes, ignore_index)


def as_index_tensor(op: str, name: str, x) -> torch.Tensor:
    """A tensor of integers from a tensor or a numpy array."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise DataError(f'{op}: {name} must be a tensor or a numpy array, got {type(x).__name__}')
    if x.is_floating_point() or x.is_complex():
        raise DataError(f'{op}: {name} must hold integers, got {x.dtype}')
    return x


def compute_dtype(logits: torch.Tensor) -> torch.dtype:
    """float64 for double logits, float32 for every other floating dtype."""
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def check_confusion_inputs(pred, label, num_classes: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Validated, flattened ``(pred, label)`` tensors for :func:`confusion_matrix`."""
    op = 'confusion_matrix'
    pred, label = as_index_tensor(op, 'pred', pred), as_index_tensor(op, 'label', label)
    if not is_int(num_classes) or num_classes < 1:
        raise DataError(f'{op}: num_classes must be a positive int, got {num_classes!r}')
    squeeze = [s for s in pred.shape if s != 1], [s for s in label.shape if s != 1]
    if squeeze[0] != squeeze[1]:
        raise DataError(f'{op}: pred of shape {tuple(pred.shape)} and label of shape '
                        f'{tuple(label.shape)} do not match')
    if pred.device != label.device:
        raise DataError(f'{op}: pred is on {pred.device} but label is on {label.device}')
    return pred.reshape(-1), label.reshape(-1)


def bad_prediction_error(num_classes: int) -> DataError:
    """The error for predictions outside ``[0, num_classes)``."""
    return DataError(f'confusion_matrix: predictions outside [0, {num_classes}) were given; '
                     f'check num_classes against the model\'s number of classes')
