"""Device placement, the one home of it: which device a process, a model or a user's ``--device`` means.

:func:`select_device` reads a user's device (``'cpu'``, ``'cuda'``, ``'cuda:1'``, a ``torch.device`` or None),
:func:`process_device` is the device of a training or test process (``--gpu-id`` or its local rank),
:func:`model_device` where a model lives and :func:`to_device` moves a batch there.
"""
import os
from typing import Any, Optional, Union

import torch
from torch import nn

from .errors import ConfigError
from .logging import print_log

DeviceLike = Union[str, torch.device]
_CPU = torch.device('cpu')


def get_device() -> torch.device:
    """The device of this process: its current GPU when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device())
    return _CPU


def select_device(device: Optional[DeviceLike] = None) -> torch.device:
    """``device`` as a ``torch.device`` (None: :func:`get_device`).

    :class:`ConfigError` naming the value for a device torch does not know, or for CUDA on a machine without it.
    """
    if device is None:
        return get_device()
    try:
        selected = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ConfigError(f'invalid device {device!r}: use cpu, cuda or cuda:N ({err})') from err
    if selected.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError(f'device {device!r} requested but CUDA is not available; use device="cpu"')
    return selected


def available_device(device: str) -> str:
    """``device``, or ``'cpu'`` (with a message) when it names CUDA on a machine without a GPU (the demos' default)."""
    if device.startswith('cuda') and not torch.cuda.is_available():
        print_log(f'no GPU available: running on the CPU instead of {device}')
        return 'cpu'
    return device


def check_gpu_id(gpu_id: int) -> None:
    """:class:`ConfigError` when ``--gpu-id`` names no visible CUDA device (on a machine without CUDA only a
    negative id is an error: the CPU is used)."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpu_id < 0 or (count and gpu_id >= count):
        visible = os.environ.get('CUDA_VISIBLE_DEVICES')
        raise ConfigError(f'--gpu-id {gpu_id}: {count} CUDA device(s) visible (ids 0..{max(count - 1, 0)})'
                          + (f', CUDA_VISIBLE_DEVICES={visible}' if visible is not None else ''))


def process_device(gpu_id: Optional[int] = None, distributed: bool = False) -> torch.device:
    """The device of a training or test process, made CUDA's current device.

    Distributed: the GPU of the local rank (``$LOCAL_RANK``, as ``init_dist`` chose); else ``cuda:gpu_id``
    (default 0). The CPU on a machine without CUDA.
    """
    if not torch.cuda.is_available():
        return _CPU
    index = int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count() if distributed else (gpu_id or 0)
    torch.cuda.set_device(index)
    return torch.device('cuda', index)


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else _CPU


def to_device(data: Any, device: torch.device) -> Any:
    """``data`` with every tensor (in nested dicts, lists and tuples) moved to ``device``."""
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=True)
    if isinstance(data, dict):
        return {key: to_device(value, device) for key, value in data.items()}
    if isinstance(data, (list, tuple)) and not hasattr(data, '_fields'):
        return type(data)(to_device(value, device) for value in data)
    return data
