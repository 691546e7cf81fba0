"""Reading checkpoints written by other code, safely.

Source files are read with ``torch.load(weights_only=True)``; objects it refuses (numpy scalars, mmengine
message-hub buffers in training checkpoints) are replaced by inert placeholders and dropped, so no code
from a checkpoint ever runs.
"""
import os
import pickle
import re
from typing import Any, List, Tuple

import torch

from ..utils import CheckpointError
from .io import PathLike, load_error_reason

_MAX_PLACEHOLDERS = 64


class _Opaque:
    """Stands in for a class a checkpoint names but that ``weights_only`` refuses: built, never run."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _placeholder(qualified_name: str) -> Tuple[type, str]:
    if '.' not in qualified_name:  # torch names builtins without their module
        qualified_name = f'builtins.{qualified_name}'
    return type(qualified_name.rsplit('.', 1)[-1], (_Opaque,), {'__module__': 'opaque'}), qualified_name


def read_foreign_checkpoint(filename: PathLike) -> Any:
    """Load a checkpoint written by other code, safely.

    Uses ``torch.load(weights_only=True)``; every global it refuses is replaced by an inert placeholder
    and the load retried, so tensors, numbers, strings, lists and dicts come back and nothing is executed.
    """
    filename = os.fspath(filename)
    if not os.path.isfile(filename):
        raise CheckpointError(f'checkpoint file not found: {filename}')
    refused: List[str] = []
    while True:
        try:
            with torch.serialization.safe_globals([_placeholder(name) for name in refused]):
                return torch.load(filename, map_location='cpu', weights_only=True)
        except pickle.UnpicklingError as err:
            needed = re.search(r'GLOBAL ([\w.]+)', str(err))
            if needed is not None and 'is blocked' in str(err):
                raise CheckpointError(f'checkpoint {filename} calls {needed.group(1)} when unpickled; refused as '
                                      'unsafe (a weights file never needs it)') from err
            if needed is None or needed.group(1) in refused or len(refused) >= _MAX_PLACEHOLDERS:
                raise CheckpointError(f'cannot read checkpoint {filename}: the file is corrupt '
                                      f'or not a PyTorch checkpoint ({load_error_reason(err)})') from err
            refused.append(needed.group(1))
        except MemoryError:
            raise
        except Exception as err:  # noqa: BLE001  unpickling garbage raises anything (IndexError, KeyError...)
            raise CheckpointError(f'cannot read checkpoint {filename}: the file is corrupt or truncated '
                                  f'({load_error_reason(err)})') from err


def plain_data(obj: Any) -> Any:
    """``obj`` with every placeholder (see :func:`read_foreign_checkpoint`) removed, recursively."""
    if isinstance(obj, _Opaque):
        return None
    if isinstance(obj, dict):
        return {key: plain_data(value) for key, value in obj.items() if not isinstance(value, _Opaque)}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain_data(value) for value in obj if not isinstance(value, _Opaque))
    return obj
