"""Reading checkpoint files without running their code, and one-line diagnoses of files that cannot be read.

Every checkpoint the package reads goes through :func:`load_file`: ``torch.load(weights_only=True)``, which
rebuilds tensors, numbers, strings, lists and dicts only. A file whose unpickling would call anything else
(``os.system``, a numpy constructor, a user class) is refused with a :class:`CheckpointError` naming the file
and the global it needs; ``unsafe=True`` (the tools' ``--unsafe-load``, for the user's own legacy files)
unpickles it in full, with a warning.
"""
import logging
import os
import pickle
import pickletools
import re
import zipfile
from typing import Any, List, Optional, Union

import torch

from ..utils import CheckpointError, print_log

PathLike = Union[str, os.PathLike]

UNSAFE_HINT = ('if the file is your own and you trust it, load it with --unsafe-load (tools/train.py, '
               'tools/test.py, tools/convert_checkpoint.py; unsafe=True in Python) or re-save its tensors')
_ZIP_MAGIC, _PICKLE_PROTO = b'PK\x03\x04', 0x80
_MAX_SCAN_BYTES = 64 << 20  # a pickle's globals come first; never read more than this to name them


def load_file(filename: PathLike, map_location: Any = 'cpu', unsafe: bool = False) -> Any:
    """The object saved in checkpoint ``filename``, read with ``torch.load(weights_only=True)``.

    ``unsafe=True`` unpickles the file in full instead (it can run any code the file holds) and logs a
    warning. Raises :class:`CheckpointError`, naming the file, for a missing, empty, truncated or corrupt
    file, a file that is not a PyTorch checkpoint, and (unless ``unsafe``) one that needs an unsafe global.
    """
    filename = os.fspath(filename)
    check_checkpoint_file(filename)
    if unsafe:
        print_log(f'--unsafe-load: unpickling {filename} in full, which runs any code the file holds; '
                  'use it only for files you trust', level=logging.WARNING)
    try:
        return torch.load(filename, map_location=map_location, weights_only=not unsafe)
    except pickle.UnpicklingError as err:
        unsafe_global = None if unsafe else needed_global(err, filename)
        if unsafe_global is not None:
            raise refused_error(filename, unsafe_global) from err
        raise CheckpointError(corrupt_message(filename, err)) from err
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001  unpickling garbage raises anything (IndexError, KeyError...)
        raise CheckpointError(corrupt_message(filename, err)) from err


def check_checkpoint_file(filename: str) -> None:
    """Raise :class:`CheckpointError` unless ``filename`` is a non-empty file that starts like a checkpoint."""
    if not os.path.exists(filename):
        raise CheckpointError(f'checkpoint file not found: {filename}')
    if not os.path.isfile(filename):
        raise CheckpointError(f'checkpoint {filename} is not a file')
    with open(filename, 'rb') as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f'cannot read checkpoint {filename}: the file is empty (0 bytes)')
    if head != _ZIP_MAGIC and head[0] != _PICKLE_PROTO:
        kind = 'a text file' if _looks_like_text(head) else f'it starts with {head!r}'
        raise CheckpointError(f'{filename} is not a PyTorch checkpoint ({kind}; torch.save writes a zip archive '
                              'or, before torch 1.6, a pickle)')


def refused_error(filename: str, name: str) -> CheckpointError:
    """The error for a checkpoint whose unpickling needs the global ``name``."""
    return CheckpointError(f'refused to load checkpoint {filename}: unpickling it would call {name}, which '
                           f'torch.load(weights_only=True) refuses because it could run code; {UNSAFE_HINT}')


def corrupt_message(filename: str, err: BaseException) -> str:
    """The one-line message for a checkpoint that cannot be unpickled."""
    return f'cannot read checkpoint {filename}: the file is truncated or corrupt ({load_error_reason(err)})'


def load_error_reason(err: BaseException) -> str:
    """The informative line of a ``torch.load`` error: the unpickler's complaint, else the first line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    picked = next((line for line in lines if line.startswith(('Unsupported', 'WeightsUnpickler', 'Trying to'))
                   and line != 'WeightsUnpickler error:'), lines[0] if lines else type(err).__name__)
    return picked.split('. ')[0].rstrip('.') if len(picked) > 100 else picked  # torch's advice stays out


def needed_global(err: BaseException, filename: str) -> Optional[str]:
    """The global the ``weights_only`` unpickler refused (from its message, else by reading the pickle)."""
    found = re.search(r'GLOBAL ([\w.]+)', str(err))
    if found is not None:
        return found.group(1)
    names = [name for name in pickle_globals(filename) if not _allowed_by_torch(name)]
    return names[0] if names else None


def pickle_globals(filename: str) -> List[str]:
    """The globals (``module.name``) the pickle(s) in ``filename`` refer to, read without unpickling."""
    try:
        if zipfile.is_zipfile(filename):
            with zipfile.ZipFile(filename) as archive:
                member = next((n for n in archive.namelist() if n.endswith('data.pkl')), None)
                return [] if member is None else _globals_of(archive.read(member)[:_MAX_SCAN_BYTES])
        with open(filename, 'rb') as f:
            return _globals_of(f.read(_MAX_SCAN_BYTES))
    except (OSError, zipfile.BadZipFile):
        return []


def _globals_of(data: bytes) -> List[str]:
    """Globals of the consecutive pickles in ``data`` (torch's legacy format writes several)."""
    names: List[str] = []
    pos = 0
    while pos < len(data):
        end = _scan(data, pos, names)
        if end is None or end <= pos:
            break
        pos = end
    return names


def _scan(data: bytes, pos: int, names: List[str]) -> Optional[int]:
    """Append the globals of the pickle at ``data[pos:]`` to ``names``; its end, or None if it is broken."""
    strings: List[Optional[str]] = []  # the value each op pushed, when it was a string
    memo = {}
    try:
        for op, arg, at in pickletools.genops(data[pos:]):
            if op.name in ('GLOBAL', 'INST'):
                names.append(str(arg).replace(' ', '.'))
            elif op.name == 'STACK_GLOBAL' and len(strings) >= 2 and None not in strings[-2:]:
                names.append(f'{strings[-2]}.{strings[-1]}')
            if op.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8', 'UNICODE', 'STRING', 'BINSTRING',
                           'SHORT_BINSTRING'):
                strings.append(str(arg))
            elif op.name in ('BINGET', 'LONG_BINGET', 'GET'):
                strings.append(memo.get(int(arg)))
            elif op.name in ('BINPUT', 'LONG_BINPUT', 'PUT'):
                memo[int(arg)] = strings[-1] if strings else None
            elif op.name == 'MEMOIZE':
                memo[len(memo)] = strings[-1] if strings else None
            elif op.name not in ('STACK_GLOBAL', 'PROTO', 'FRAME'):
                strings.append(None)
            if op.name == 'STOP':
                return pos + at + 1
    except Exception:  # noqa: BLE001  a truncated or garbled pickle: keep what was read
        return None
    return None


def _allowed_by_torch(name: str) -> bool:
    """Whether the ``weights_only`` unpickler accepts the global ``name`` (torch's own rebuild functions)."""
    return name.startswith(('torch.', 'collections.OrderedDict', '_codecs.encode')) or name in (
        'builtins.set', 'builtins.frozenset', 'builtins.bytearray', 'builtins.slice', 'builtins.complex')


def _looks_like_text(head: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head)
