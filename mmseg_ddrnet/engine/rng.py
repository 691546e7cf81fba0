"""Seeding and the state of every random number generator, in a form checkpoints can hold.

:func:`get_rng_state` returns only tensors, numbers, strings, lists and dicts (``torch.load(weights_only=True)``
reads it back), so that a resumed run draws the same random numbers as one never interrupted.
"""
import os
import random
from typing import Any, Dict, Optional

import numpy as np
import torch

from ..utils.dist import broadcast_object, get_dist_info


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, numpy and torch (every device); ``deterministic`` also fixes cuDNN's algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ['PYTHONHASHSEED'] = str(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def init_random_seed(seed: Optional[int] = None) -> int:
    """``seed``, or a random seed drawn on rank 0 and broadcast, so that every rank starts the same."""
    if seed is not None:
        return int(seed)
    rank, _ = get_dist_info()
    drawn = int(np.random.randint(2**31)) if rank == 0 else 0
    return int(broadcast_object(drawn, src=0))


def get_rng_state() -> Dict[str, Any]:
    """The state of Python's, numpy's and torch's (CPU and CUDA) generators, checkpoint-safe."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        'python': {'version': version, 'state': list(internal), 'gauss': gauss},
        'numpy': {'kind': kind, 'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos),
                  'has_gauss': int(has_gauss), 'cached_gaussian': float(cached)},
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore generators from :func:`get_rng_state`'s output."""
    py = state['python']
    random.setstate((py['version'], tuple(py['state']), py['gauss']))
    np_state = state['numpy']
    np.random.set_state((np_state['kind'], np_state['keys'].numpy().astype(np.uint32), np_state['pos'],
                         np_state['has_gauss'], np_state['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])
