"""Choosing between the compiled ``mmcv_ext`` kernels and the reference implementations.

The compiled kernels are used when ``mmcv_ext`` loaded, the op supports the input's device and
dtype, neither the environment variable ``MMSEG_DDRNET_DISABLE_EXT=1`` nor
:func:`set_use_ext` (``ops_cfg=dict(use_ext=False)`` in a config) turned them off, and the op's
first-call self-check on that device passed (:mod:`mmseg_ddrnet.ops.selfcheck`). Each choice
is logged once per op and reason.
"""
import functools
import logging
import os
from contextlib import contextmanager
from types import ModuleType
from typing import Callable, Iterator, Optional, Tuple

from ..utils import ConfigError, print_log

DISABLE_ENV = 'MMSEG_DDRNET_DISABLE_EXT'

_switch = {'use_ext': True}
_logged = set()


@functools.lru_cache(maxsize=None)
def loaded_ext() -> Tuple[Optional[ModuleType], str]:
    """The loaded compiled module ``mmcv_ext._C`` (or None) and why it is missing."""
    try:
        import mmcv_ext
    except ImportError as err:  # pragma: no cover - the package ships mmcv_ext
        return None, f'mmcv_ext cannot be imported ({err})'
    if not mmcv_ext.is_loaded():
        return None, mmcv_ext.load_error()
    return mmcv_ext._C, ''


def ext_available() -> bool:
    """Whether the compiled extension ``mmcv_ext`` is built and loads."""
    return loaded_ext()[0] is not None


def ext_unavailable_reason() -> str:
    """Why ``mmcv_ext`` cannot be used ('' when it can)."""
    return loaded_ext()[1]


def set_use_ext(flag: bool) -> None:
    """Allow (True, the default) or forbid (False) the compiled kernels in this process."""
    _switch['use_ext'] = bool(flag)


def get_use_ext() -> bool:
    """The value last given to :func:`set_use_ext` (the environment variable aside)."""
    return _switch['use_ext']


@contextmanager
def use_ext(flag: bool) -> Iterator[None]:
    """Context manager: :func:`set_use_ext` ``(flag)`` inside the block, the old value after."""
    old = _switch['use_ext']
    set_use_ext(flag)
    try:
        yield
    finally:
        set_use_ext(old)


def configure(ops_cfg: Optional[dict]) -> None:
    """Apply a config's ``ops_cfg`` (keys: ``use_ext``) to this process."""
    ops_cfg = dict(ops_cfg or {})
    unknown = set(ops_cfg) - {'use_ext'}
    if unknown:
        raise ConfigError(f'ops_cfg: unknown keys {sorted(unknown)}; the only key is use_ext')
    if 'use_ext' in ops_cfg:
        set_use_ext(ops_cfg['use_ext'])


def _log_once(op: str, msg: str, level: int) -> None:
    """Log ``msg`` about ``op`` ('*': every op) the first time it is seen."""
    if (op, msg) not in _logged:
        _logged.add((op, msg))
        print_log(f'mmseg_ddrnet.ops{"" if op == "*" else "." + op}: {msg}', level=level)


def select(op: str, unsupported: str = '',
           verify: Optional[Callable[[ModuleType], str]] = None) -> Optional[ModuleType]:
    """The compiled module to run ``op`` with, or None for the reference implementation.

    ``unsupported`` is why the kernels cannot take this input ('' when they can); ``verify(ext)``,
    called last, says why the loaded kernel must not be used ('' when it may: the self-check).
    """
    if os.environ.get(DISABLE_ENV, '') not in ('', '0'):
        _log_once(op, f'using the reference implementation ({DISABLE_ENV} is set)', logging.INFO)
        return None
    if not _switch['use_ext']:
        _log_once(op, 'using the reference implementation (use_ext=False)', logging.INFO)
        return None
    ext, reason = loaded_ext()
    if ext is None:
        _log_once('*', f'using the reference implementations: {reason}', logging.WARNING)
        return None
    if unsupported:
        _log_once(op, f'using the reference implementation: {unsupported}', logging.INFO)
        return None
    failed = verify(ext) if verify is not None else ''
    if failed:
        _log_once(op, failed, logging.WARNING)
        return None
    _log_once(op, 'using the compiled mmcv_ext kernels', logging.INFO)
    return ext
