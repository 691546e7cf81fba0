"""Fused ops for segmentation: the only entry point the rest of the package calls.

Each op runs the compiled ``mmcv_ext`` kernel when it is built and supports the input, and the
pure-PyTorch reference in :mod:`mmseg_ddrnet.ops.reference` (its specification) otherwise.
Turn the kernels off with ``MMSEG_DDRNET_DISABLE_EXT=1``, :func:`set_use_ext` / :func:`use_ext`,
or a config's ``ops_cfg = dict(use_ext=False)`` (applied by :func:`configure`). Each kernel is compared
with its reference on its first call on each CUDA device (:mod:`~mmseg_ddrnet.ops.selfcheck`; on the CPU too
with ``MMSEG_DDRNET_SELFCHECK_CPU=1``) and replaced by it there if they disagree.
The data pipeline's image ops (numpy uint8 images) are in :mod:`mmseg_ddrnet.ops.image`.
"""
from . import image, reference, selfcheck
from .api import confusion_matrix, resize_argmax, seg_cross_entropy
from .dispatch import (DISABLE_ENV, configure, ext_available, ext_unavailable_reason, get_use_ext,
                       set_use_ext, use_ext)
from .selfcheck import SELFCHECK_CPU_ENV

__all__ = ['resize_argmax', 'seg_cross_entropy', 'confusion_matrix', 'image', 'reference', 'ext_available',
           'ext_unavailable_reason', 'set_use_ext', 'get_use_ext', 'use_ext', 'configure',
           'DISABLE_ENV', 'selfcheck', 'SELFCHECK_CPU_ENV']
