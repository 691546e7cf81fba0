"""Atomic file writes: a crash leaves either the old file or the new one, never a torn one."""
import contextlib
import errno
import os
import tempfile
from typing import IO, Iterator, Union

from .errors import ConfigError
from .faults import fault_point


@contextlib.contextmanager
def atomic_write(path: Union[str, os.PathLike], mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and ``os.replace`` it onto ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=folder)
    os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600 files; give the usual mode
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        fault_point(f'write:{os.path.basename(path)}')
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_dir(folder)


def check_writable_dir(path: Union[str, os.PathLike], what: str = 'work dir') -> None:
    """Create ``path`` if needed and prove it writable with a temporary file; :class:`ConfigError` if not.

    The message names the folder and the errno (e.g. ``[Errno 13] Permission denied``).
    """
    path = os.path.abspath(os.fspath(path))
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise ConfigError(f'{what} {path} is not writable: {describe_os_error(err)}') from err


def describe_os_error(err: OSError) -> str:
    """``[Errno 28] No space left on device (ENOSPC)`` for an ``OSError``."""
    code = err.errno
    if code is None:
        return str(err)
    return f'[Errno {code}] {os.strerror(code)} ({errno.errorcode.get(code, "?")})'


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: str) -> None:
    """Persist the rename itself (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
