"""Keeping freed CPU memory for reuse: no page faults in repeated inference.

glibc's malloc serves every large request (128 kB and up, with a threshold that adapts to at most 32 MB) by a
fresh ``mmap`` and gives it back on ``free``. A DDRNet forward at 1024×2048 allocates and frees ~150 MB of
activations, so every image touches ~37,000 new pages, and the kernel faults and zeroes each one: about a fifth
of the fp32 forward on a 2-core machine. :func:`retain_freed_memory` asks malloc to serve large requests from
its heap and to keep what is freed there (``mallopt(M_MMAP_MAX, 0)`` and a high ``M_TRIM_THRESHOLD``), so from
the second image on the same pages are reused.

The setting is process-wide and lasts until the process ends (forked DataLoader workers inherit it). The price:
the process keeps its peak heap instead of returning it to the system, and allocations of varying sizes may
fragment it; for a process that serves images of one size this costs nothing beyond the first image's peak.
Elsewhere than glibc (musl, macOS, Windows) it does nothing.
"""
import ctypes
import ctypes.util
import functools
from typing import Optional

try:
    import resource
except ImportError:  # Windows
    resource = None

from .logging import print_log

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

#: Freed heap memory (bytes) kept before malloc returns any to the system: mallopt's largest value (2 GiB).
DEFAULT_TRIM_THRESHOLD = 2 ** 31 - 1

_applied = False


@functools.lru_cache(maxsize=None)
def _glibc() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name or 'libc.so.6')
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()  # only glibc has it
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def retain_freed_memory(trim_threshold: int = DEFAULT_TRIM_THRESHOLD) -> bool:
    """Make glibc's malloc keep freed memory for reuse (see the module docstring); whether it took effect.

    Idempotent; ``False`` where the C library is not glibc. ``trim_threshold`` (bytes): how much freed memory
    at the top of the heap is kept before malloc returns some; clipped to ``[0, 2 GiB)``.
    """
    global _applied
    libc = _glibc()
    if libc is None:
        return False
    if _applied:
        return True
    trim = int(min(max(trim_threshold, 0), 2 ** 31 - 1))
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, trim)):
        return False
    _applied = True
    print_log('CPU memory: freed memory is kept for reuse (glibc mallopt M_MMAP_MAX=0, '
                      f'M_TRIM_THRESHOLD={trim}), so repeated images fault no new pages')
    return True


def retains_freed_memory() -> bool:
    """Whether :func:`retain_freed_memory` took effect in this process."""
    return _applied


def minor_page_faults() -> Optional[int]:
    """Minor page faults of this process so far (pages the kernel had to map and zero on first touch);
    None where the platform does not count them."""
    if resource is None:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
