"""Fault injection for crash-consistency tests: ``MMSEG_DDRNET_CRASH_AT`` kills the process at a named point.

``MMSEG_DDRNET_CRASH_AT=NAME[@N]`` sends SIGKILL to the process itself (no cleanup at all, as ``kill -9``) the
``N``-th time (default 1) it reaches a point whose name matches the shell pattern ``NAME``. The points:

- ``write:<file name>``: a complete temporary file was fsynced, just before it replaces ``<file name>``
  (:func:`mmseg_ddrnet.utils.io.atomic_write`; e.g. ``write:iter_*.pth``);
- ``link:<file name>``: the new ``latest.pth`` link exists under its temporary name, before the rename;
- ``train_iter:<n>``: iteration ``n`` (1-based) ran its forward pass, before the backward pass and the step;
- ``val_batch``: one validation batch was evaluated.

Unset (the normal case), :func:`fault_point` costs one attribute test.
"""
import fnmatch
import os
import signal
from typing import Optional, Tuple

ENV_VAR = 'MMSEG_DDRNET_CRASH_AT'


def _parse(spec: Optional[str]) -> Optional[Tuple[str, int]]:
    if not spec:
        return None
    pattern, _, count = spec.rpartition('@') if '@' in spec else (spec, '', '1')
    return pattern, max(int(count), 1)


_SPEC = _parse(os.environ.get(ENV_VAR))
_seen = 0


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL if ``MMSEG_DDRNET_CRASH_AT`` selects this occurrence of ``name``."""
    global _seen
    if _SPEC is None or not fnmatch.fnmatchcase(name, _SPEC[0]):
        return
    _seen += 1
    if _seen == _SPEC[1]:
        os.kill(os.getpid(), signal.SIGKILL)
