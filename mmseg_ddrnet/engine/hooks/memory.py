"""``EmptyCacheHook`` (mmcv 1.x): release the cached CUDA memory at chosen points of training and validation."""
import torch

from ...registry import HOOKS
from .hook import Hook


def empty_cuda_cache() -> None:
    """``torch.cuda.empty_cache()`` when CUDA is available; nothing otherwise."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@HOOKS.register_module()
class EmptyCacheHook(Hook):
    """Empties the CUDA caching allocator's cache (a no-op without CUDA), in training and in validation.

    Args:
        before_epoch: before each epoch.
        after_epoch: after each epoch.
        after_iter: after each iteration.
    """

    def __init__(self, before_epoch: bool = False, after_epoch: bool = True, after_iter: bool = False):
        self._before_epoch = before_epoch
        self._after_epoch = after_epoch
        self._after_iter = after_iter

    def before_train_epoch(self, runner) -> None:
        if self._before_epoch:
            empty_cuda_cache()

    def after_train_epoch(self, runner) -> None:
        if self._after_epoch:
            empty_cuda_cache()

    def after_train_iter(self, runner) -> None:
        if self._after_iter:
            empty_cuda_cache()

    before_val_epoch = before_train_epoch
    after_val_epoch = after_train_epoch
    after_val_iter = after_train_iter
