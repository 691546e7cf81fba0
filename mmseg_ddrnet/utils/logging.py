"""The package logger: rank 0 logs at the chosen level, other ranks only errors."""
import logging
import sys
from typing import Optional, Union

LOGGER_NAME = 'mmseg_ddrnet'
_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


def _rank() -> int:
    try:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except ImportError:  # pragma: no cover
        pass
    return 0


def get_root_logger(log_file: Optional[str] = None, log_level: int = logging.INFO) -> logging.Logger:
    """The ``mmseg_ddrnet`` logger; adds a file handler for ``log_file`` once (rank 0 only)."""
    logger = logging.getLogger(LOGGER_NAME)
    rank = _rank()
    if not any(getattr(h, '_mmseg_stream', False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._mmseg_stream = True
        logger.addHandler(handler)
        logger.propagate = False
    if log_file is not None and rank == 0:
        known = {getattr(h, 'baseFilename', None) for h in logger.handlers}
        import os
        if os.path.abspath(log_file) not in known:
            fh = logging.FileHandler(log_file, mode='a')
            fh.setFormatter(logging.Formatter(_FORMAT))
            logger.addHandler(fh)
    logger.setLevel(log_level if rank == 0 else logging.ERROR)
    return logger


def print_log(msg: str, logger: Optional[Union[logging.Logger, str]] = None,
              level: int = logging.INFO) -> None:
    """Log ``msg`` to ``logger`` (default: the package logger); ``'silent'`` drops it."""
    if logger == 'silent':
        return
    if logger is None or isinstance(logger, str):
        logger = get_root_logger()
    logger.log(level, msg)


_warned = set()


def warn_once(msg: str, logger: Optional[logging.Logger] = None) -> None:
    """Log a warning the first time ``msg`` is seen in this process."""
    if msg in _warned:
        return
    _warned.add(msg)
    print_log(msg, logger, logging.WARNING)
