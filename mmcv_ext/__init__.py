"""Loader of the compiled ops of mmseg_ddrnet (built by ``pip install --no-build-isolation -e .``).

``import mmcv_ext`` never fails: when the compiled module ``mmcv_ext._C`` is missing or does not
load, :func:`is_loaded` is False and :func:`load_error` says why; ``mmseg_ddrnet.ops`` then uses
its pure-PyTorch reference implementations.
"""
import importlib.util
from typing import Any, Dict

import torch  # noqa: F401  (loads libtorch, which _C links against)

_HINT = ('build it with `pip install --no-build-isolation -e .` in the checkout, against the '
         'installed torch (mmseg_ddrnet works without it, with slower reference ops)')

if importlib.util.find_spec(f'{__name__}._C') is None:
    _C = None
    _LOAD_ERROR = f'the compiled extension mmcv_ext._C is not built; {_HINT}'
else:
    try:
        from . import _C
        _LOAD_ERROR = ''
    except ImportError as _err:
        _C = None
        _LOAD_ERROR = f'the compiled extension mmcv_ext._C does not load ({_err}); re{_HINT}'


def is_loaded() -> bool:
    """Whether ``mmcv_ext._C`` loaded."""
    return _C is not None


def load_error() -> str:
    """Why ``mmcv_ext._C`` did not load ('' when it did)."""
    return _LOAD_ERROR


def build_info() -> Dict[str, Any]:
    """How the extension was built: compiler, torch and CUDA versions, whether CUDA kernels are in."""
    if _C is None:
        return {'loaded': False, 'error': _LOAD_ERROR, 'torch_runtime': torch.__version__}
    return dict(_C.build_info(), loaded=True, torch_runtime=torch.__version__)


__all__ = ['is_loaded', 'load_error', 'build_info']
