"""mmseg 0.x's ``mmseg.apis.test`` module path: the test loops live in :mod:`mmseg_ddrnet.evaluation`."""
from ..evaluation import multi_gpu_test, single_gpu_test

__all__ = ['single_gpu_test', 'multi_gpu_test']
