"""High-level APIs (mmseg 0.x ``mmseg.apis``), imported on first use so that importing the package stays cheap."""
import importlib
from typing import Any

_EXPORTS = {
    'init_segmentor': '.inference', 'build_segmentor_from_checkpoint': '.inference',
    'inference_segmentor': '.inference', 'show_result': '.inference',
    'show_result_pyplot': '.inference',
    'single_gpu_test': '.test', 'multi_gpu_test': '.test',
    'train_segmentor': '.train', 'init_random_seed': '.train', 'set_random_seed': '.train',
    'find_latest_checkpoint': '.train',
    'segment_video': '.video', 'open_capture': '.video', 'open_writer': '.video',
    'prepare_for_inference': '..models.deploy',
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTS))
