"""Process and thread setup (mmseg 0.x ``mmseg/utils/set_env.py``), the one home of it.

:func:`setup_multi_processes` applies a config's ``mp_start_method``, ``opencv_num_threads`` and the
``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` defaults in the main process; :func:`setup_worker_threads` applies the
OpenCV setting again in each data-loader worker, where a thread setting of the parent does not reliably survive
``fork`` (OpenCV's pool is re-created) and never survives ``spawn``.
"""
import multiprocessing as mp
import os
from typing import Any, Optional

import cv2
import torch

from .checks import is_int
from .errors import ConfigError
from .logging import warn_once

DEFAULT_OPENCV_THREADS = 0  # mmseg 0.x: OpenCV runs single-threaded (the loader workers are the parallelism)
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')
_opencv_threads: Optional[int] = None  # what setup_multi_processes applied; the loaders pass it to their workers


def setup_multi_processes(cfg: Any) -> None:
    """Set up multi-processing as mmseg 0.x does for a config (tools/train.py, tools/test.py).

    - ``mp_start_method``: Python's start method, when the config sets it (with a warning when it replaces
      another one already chosen). Unset, the start method is left alone (0.x forced ``fork``).
    - ``opencv_num_threads`` (default 0): ``cv2.setNumThreads`` here and in every data-loader worker.
    - ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` are set to 1, with a warning, when unset and
      ``data.workers_per_gpu`` (or ``data.train_dataloader.workers_per_gpu``) is above 1: the subprocesses do not
      overload the machine. This process keeps the torch threads it started with.
    """
    global _opencv_threads
    method = cfg.get('mp_start_method')
    if method is not None:
        if method not in mp.get_all_start_methods():
            raise ConfigError(f'mp_start_method must be one of {mp.get_all_start_methods()}, got {method!r}')
        current = mp.get_start_method(allow_none=True)
        if current is not None and current != method:
            warn_once(f'multi-processing start method {method!r} (mp_start_method) replaces {current!r}')
        mp.set_start_method(method, force=True)
    threads = cfg.get('opencv_num_threads', DEFAULT_OPENCV_THREADS)
    if not is_int(threads):
        raise ConfigError(f'opencv_num_threads must be an int (0: no OpenCV threads), got {threads!r}')
    cv2.setNumThreads(threads)
    _opencv_threads = threads
    if _workers_per_gpu(cfg) > 1:
        _limit_subprocess_threads()


def _workers_per_gpu(cfg: Any) -> int:
    """The loader workers per process, as mmseg 0.x reads them for the thread defaults."""
    data = cfg.get('data') or {}
    workers = data.get('workers_per_gpu', 1)
    train_loader = data.get('train_dataloader') or {}
    workers = max(train_loader.get('workers_per_gpu', 1), workers)
    return workers if isinstance(workers, int) else 1


def _limit_subprocess_threads() -> None:
    torch.get_num_threads()  # fixes this process's intra-op threads before the variables change
    for name in THREAD_VARIABLES:
        if name not in os.environ:
            warn_once(f'Setting {name} environment variable for each process to be 1 in default, to avoid your '
                      'system being overloaded, please further tune the variable for optimal performance in '
                      'your application as needed.')
            os.environ[name] = '1'


def opencv_worker_threads() -> Optional[int]:
    """The ``opencv_num_threads`` that :func:`setup_multi_processes` applied (None: it was not called)."""
    return _opencv_threads


def setup_worker_threads(opencv_threads: Optional[int]) -> None:
    """In a data-loader worker: apply ``opencv_num_threads`` (nothing for None)."""
    if opencv_threads is not None:
        cv2.setNumThreads(opencv_threads)
