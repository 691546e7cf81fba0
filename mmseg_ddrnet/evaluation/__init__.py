"""Test loops (mmseg 0.x ``single_gpu_test``/``multi_gpu_test``) and the collection of results across ranks."""
from .test_loops import multi_gpu_test, single_gpu_test

__all__ = ['single_gpu_test', 'multi_gpu_test']
