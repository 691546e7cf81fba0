"""Reading checkpoints written by other code, safely.

Source files are read with ``torch.load(weights_only=True)``; objects it refuses (numpy scalars, mmengine
message-hub buffers in training checkpoints) are replaced by inert placeholders and dropped, so no code
from a checkpoint ever runs; a file that would call anything else (``os.system``...) is refused.
``unsafe=True`` (``--unsafe-load``) unpickles a trusted legacy file in full.
"""
import os
import pickle
from typing import Any, List, Tuple

import torch

from ..utils import CheckpointError
from .io import PathLike
from .safe_load import check_checkpoint_file, corrupt_message, load_file, needed_global, refused_error

_MAX_PLACEHOLDERS = 64
#: Modules whose classes and functions foreign checkpoints hold as data (numpy arrays and scalars, mmengine
#: message-hub buffers, config dicts): read as inert placeholders. Any other global is refused.
DATA_MODULES = ('numpy.', 'mmengine.', 'mmcv.', 'mmseg.', 'mmdet.', 'collections.', '_codecs.', 'torch.')
#: Builtins that pickles of those libraries call on their own objects (mmengine's checkpoints hold
#: ``getattr``): as a placeholder it looks nothing up, and a module it could reach would be a refused global.
DATA_BUILTINS = ('getattr', 'builtins.getattr')


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


def read_foreign_checkpoint(filename: PathLike, unsafe: bool = False) -> Any:
    """Load a checkpoint written by other code, safely.

    Uses ``torch.load(weights_only=True)``; a refused global of a data library (numpy, mmengine, mmcv,
    mmseg...: see :data:`DATA_MODULES`) is replaced by an inert placeholder and the load retried, so tensors,
    numbers, strings, lists and dicts come back and nothing is executed. Any other global (``os.system``,
    ``builtins.eval``...) is refused, naming it. ``unsafe=True`` unpickles the file in full instead
    (``--unsafe-load``: only for trusted files).
    """
    filename = os.fspath(filename)
    if unsafe:
        return load_file(filename, unsafe=True)
    check_checkpoint_file(filename)
    refused: List[str] = []
    while True:
        try:
            with torch.serialization.safe_globals([_placeholder(name) for name in refused]):
                return torch.load(filename, map_location='cpu', weights_only=True)
        except pickle.UnpicklingError as err:
            name = needed_global(err, filename)
            if name is not None and ('is blocked' in str(err) or not _is_data(name)):
                raise refused_error(filename, name) from err
            if name is None or name in refused or len(refused) >= _MAX_PLACEHOLDERS:
                raise CheckpointError(corrupt_message(filename, err)) from err
            refused.append(name)
        except MemoryError:
            raise
        except Exception as err:  # noqa: BLE001  unpickling garbage raises anything (IndexError, KeyError...)
            raise CheckpointError(corrupt_message(filename, err)) from err


def _is_data(name: str) -> bool:
    return name.startswith(DATA_MODULES) or name in DATA_BUILTINS


def plain_data(obj: Any) -> Any:
    """``obj`` with every placeholder (see :func:`read_foreign_checkpoint`) removed, recursively."""
    if isinstance(obj, _Opaque):
        return None
    if isinstance(obj, dict):
        return {key: plain_data(value) for key, value in obj.items() if not isinstance(value, _Opaque)}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain_data(value) for value in obj if not isinstance(value, _Opaque))
    return obj
