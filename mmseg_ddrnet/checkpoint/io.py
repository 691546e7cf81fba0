"""Checkpoint I/O: atomic saves, safe (``weights_only``) loads, and state-dict loading that names what does not fit.

A checkpoint is ``{'meta': {...}, 'state_dict': {...}, 'optimizer': {...}, ...}`` holding only tensors,
numbers, strings, bytes, lists, tuples, sets and dicts, so that ``torch.load(weights_only=True)`` reads it:
a checkpoint is never unpickled with arbitrary code.
"""
import logging
import os
import re
import shutil
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ..utils import CheckpointError, print_log
from ..utils.dist import unwrap_model
from ..utils.faults import fault_point
from ..utils.io import atomic_write, describe_os_error, fsync_dir
from .safe_load import load_error_reason, load_file  # noqa: F401  (re-exported: the one checkpoint reader)

PathLike = Union[str, os.PathLike]
StateDict = Dict[str, torch.Tensor]

_SAFE_LEAVES = (torch.Tensor, bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device,
                torch.Size)
_SAFE_CONTAINERS = (dict, list, tuple, set, frozenset)
_IGNORED_MISSING = ('num_batches_tracked',)  # BN counters absent from older checkpoints; harmless


def weights_to_cpu(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """A copy of ``state_dict`` with every tensor detached and on the CPU (metadata kept)."""
    out = OrderedDict((key, value.detach().cpu()) for key, value in state_dict.items())
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        out._metadata = metadata
    return out


def get_state_dict(model: nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """The model's state dict with DDP/DP wrappers removed (no ``module.`` prefix), as CPU copies."""
    state = unwrap_model(model).state_dict()
    out = OrderedDict((key, value.detach().cpu().clone()) for key, value in state.items())
    out._metadata = getattr(state, '_metadata', None)
    return out


def _find_unsafe(obj: Any, path: str = '') -> Optional[Tuple[str, str]]:
    """The first ``(path, type name)`` in ``obj`` that ``torch.load(weights_only=True)`` would refuse."""
    if isinstance(obj, _SAFE_LEAVES):
        return None
    if isinstance(obj, dict):
        items: Iterable = obj.items()
    elif isinstance(obj, _SAFE_CONTAINERS):
        items = enumerate(obj)
    else:
        return path or '<root>', f'{type(obj).__module__}.{type(obj).__qualname__}'
    for key, value in items:
        found = _find_unsafe(value, f'{path}.{key}' if path else str(key))
        if found is not None:
            return found
    return None


def save_checkpoint(state: dict, filename: PathLike) -> None:
    """Write ``state`` to ``filename`` atomically.

    The data goes to a temporary file in the same folder, is flushed and fsynced, then renamed over
    ``filename`` with ``os.replace``: a crash at any point leaves either the old file or the new one,
    never a partial file. Raises :class:`CheckpointError` if ``state`` holds something that
    ``torch.load(weights_only=True)`` could not read back (e.g. a numpy array).
    """
    unsafe = _find_unsafe(state)
    if unsafe is not None:
        raise CheckpointError(
            f'cannot save checkpoint {filename}: {unsafe[0]} is a {unsafe[1]}, which torch.load(weights_only=True) '
            'cannot read; store tensors, numbers, strings, lists and dicts only')
    filename = os.fspath(filename)
    try:
        with atomic_write(filename, 'wb') as f:
            torch.save(state, f)
    except OSError as err:  # full disk, file size limit, unwritable folder: the previous file is intact
        raise CheckpointError(f'cannot write checkpoint {filename}: {describe_os_error(err)}') from err
    except RuntimeError as err:  # torch.save wraps the write error of its zip writer
        cause = err.__cause__ or err.__context__
        if isinstance(cause, OSError):
            raise CheckpointError(f'cannot write checkpoint {filename}: {describe_os_error(cause)}') from err
        raise


def link_checkpoint(target: PathLike, link: PathLike) -> None:
    """Point ``link`` (e.g. ``latest.pth``) at ``target``'s data atomically, as a hard link (a copy where
    linking is impossible): a temporary name in the same folder, ``os.replace``, then fsync of the folder."""
    target, link = os.fspath(target), os.fspath(link)
    tmp = f'{link}.{os.getpid()}.tmp'
    try:
        if os.path.lexists(tmp):
            os.remove(tmp)
        try:
            os.link(target, tmp)
        except OSError:
            with open(target, 'rb') as src, atomic_write(tmp, 'wb') as dst:
                shutil.copyfileobj(src, dst)
        fault_point(f'link:{os.path.basename(link)}')
        os.replace(tmp, link)
    except OSError as err:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise CheckpointError(f'cannot update {link} (-> {target}): {describe_os_error(err)}') from err
    fsync_dir(os.path.dirname(os.path.abspath(link)))


def extract_state_dict(checkpoint: Any, filename: PathLike = '<checkpoint>') -> StateDict:
    """The state dict of a loaded checkpoint: ``checkpoint['state_dict']`` or a bare state dict."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'checkpoint {filename} is a {type(checkpoint).__name__}, not a dict of weights')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"checkpoint {filename}: 'state_dict' is a {type(state_dict).__name__}, not a dict")
    not_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f'checkpoint {filename} has no state_dict: the entries {_short_list(not_tensors)} are not tensors '
            "(expected {'state_dict': {...}} or a bare state dict)")
    return state_dict


def revise_state_dict_keys(state_dict: StateDict, revise_keys: Sequence[Tuple[str, str]]) -> StateDict:
    """Apply each ``(pattern, replacement)`` regex substitution to every key, in order."""
    out = OrderedDict(state_dict)
    for pattern, replacement in revise_keys:
        out = OrderedDict((re.sub(pattern, replacement, key), value) for key, value in out.items())
    return out


def _short_list(keys: List[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def load_state_dict(module: nn.Module, state_dict: StateDict, strict: bool = False,
                    logger: Optional[logging.Logger] = None, skip_mismatched: bool = False) -> None:
    """Copy ``state_dict`` into ``module`` (DDP unwrapped).

    A tensor whose shape differs from the model's is an error naming the keys and both shapes, unless
    ``skip_mismatched`` (fine-tuning with ``load_from``, as mmcv's non-strict loading): then it is left
    as initialised and named in a warning.
    Missing and unexpected keys are an error when ``strict``, a logged warning otherwise
    (missing BN ``num_batches_tracked`` counters are ignored). A checkpoint that fits less than half of the
    model's tensors (by name and shape) is another architecture: an error, whatever ``strict``.
    """
    module = unwrap_model(module)
    own = module.state_dict()
    if state_dict and own and not any(key in own for key in state_dict):
        raise CheckpointError(
            f'checkpoint is for another model: none of its {len(state_dict)} tensors '
            f'({_short_list(list(state_dict), 3)}) is a parameter of this {type(module).__name__} '
            f'({_short_list(list(own), 3)})')
    mismatched = [f'{key}: checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}'
                  for key, value in state_dict.items() if key in own and own[key].shape != value.shape]
    counted = [key for key in own if not key.endswith(_IGNORED_MISSING)]
    fitting = sum(key in state_dict and state_dict[key].shape == own[key].shape for key in counted)
    if 2 * fitting < len(counted):
        raise CheckpointError(
            f'checkpoint does not fit this {type(module).__name__}: only {fitting} of its {len(counted)} tensors are '
            f'in the checkpoint with the same name and shape ({len(mismatched)} differ in shape: '
            f'{_short_list(mismatched, 3)}); is it another architecture or model variant?')
    if mismatched and skip_mismatched:
        print_log(f'Skipped {len(mismatched)} checkpoint tensor(s) whose shape differs from the model '
                  f'(left as initialised): {"; ".join(mismatched[:20])}', logger, logging.WARNING)
        state_dict = {key: value for key, value in state_dict.items()
                      if key not in own or own[key].shape == value.shape}
    elif mismatched:
        raise CheckpointError(
            f'checkpoint does not fit the model: {len(mismatched)} tensor(s) differ in shape '
            f'({"; ".join(mismatched[:20])}{"; ..." if len(mismatched) > 20 else ""}); '
            'was it trained with another num_classes or model variant?')
    unexpected = [key for key in state_dict if key not in own]
    missing = [key for key in own if key not in state_dict and not key.endswith(_IGNORED_MISSING)]
    module.load_state_dict(state_dict, strict=False)
    problems = []
    if unexpected:
        problems.append(f'unexpected key(s) in the checkpoint: {_short_list(unexpected)}')
    if missing:
        problems.append(f'missing key(s) in the checkpoint: {_short_list(missing)}')
    if not problems:
        return
    if strict:
        raise CheckpointError('checkpoint does not match the model: ' + '; '.join(problems))
    print_log('The model and the checkpoint differ: ' + '; '.join(problems), logger, logging.WARNING)


def load_checkpoint(model: nn.Module, filename: PathLike, map_location: Any = 'cpu', strict: bool = False,
                    revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''),),
                    logger: Optional[logging.Logger] = None, skip_mismatched: bool = False,
                    unsafe: bool = False) -> dict:
    """Load the weights of ``filename`` into ``model`` and return the whole checkpoint (as a dict).

    Accepts our format (``{'meta', 'state_dict', ...}``) and bare state dicts; ``revise_keys`` regex
    substitutions (default: drop a DDP ``module.`` prefix) are applied to the keys first.
    Raises :class:`CheckpointError` for a missing, corrupt or unsafe file and for weights that do not fit
    (a checkpoint of another model, whatever ``strict``). ``unsafe``: see :func:`load_file`.
    """
    checkpoint = load_file(filename, map_location, unsafe=unsafe)
    state_dict = revise_state_dict_keys(extract_state_dict(checkpoint, filename), revise_keys)
    try:
        load_state_dict(model, state_dict, strict=strict, logger=logger, skip_mismatched=skip_mismatched)
    except CheckpointError as err:
        raise CheckpointError(f'{os.fspath(filename)}: {err}') from err
    return checkpoint
