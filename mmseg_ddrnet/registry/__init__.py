"""The registries of the package, named as in mmsegmentation 0.x.

``BACKBONES``, ``HEADS``, ``LOSSES`` and ``SEGMENTORS`` are the same object as ``MODELS``,
as in mmseg 0.x, so a module registered in one is found from any of them. ``PIXEL_SAMPLERS``
holds the decode heads' pixel samplers (``decode_head.sampler``), as mmseg 0.x's. ``LR_SCHEDULES`` holds the
learning-rate policies under their lower-case ``lr_config.policy`` name, ``RUNNERS`` the runners
(``runner.type``), ``ACTIVATION_LAYERS`` the activations of ``act_cfg``, ``INITIALIZERS`` the weight
initializers of ``init_cfg`` (mmcv's ``Constant``, ``Kaiming``, ``Pretrained``, ...).
"""
from .registry import Registry, build_from_cfg

MODELS = Registry('model')
BACKBONES = MODELS
NECKS = MODELS
HEADS = MODELS
LOSSES = MODELS
SEGMENTORS = MODELS
PIXEL_SAMPLERS = Registry('pixel sampler')
INITIALIZERS = Registry('initializer')

DATASETS = Registry('dataset')
PIPELINES = Registry('pipeline')
HOOKS = Registry('hook')
RUNNERS = Registry('runner')
ACTIVATION_LAYERS = Registry('activation layer')
LR_SCHEDULES = Registry('lr schedule')  # keyed by the lower-case lr_config.policy

__all__ = ['Registry', 'build_from_cfg', 'MODELS', 'BACKBONES', 'NECKS', 'HEADS', 'LOSSES',
           'SEGMENTORS', 'PIXEL_SAMPLERS', 'INITIALIZERS', 'DATASETS', 'PIPELINES', 'HOOKS',
           'LR_SCHEDULES', 'RUNNERS', 'ACTIVATION_LAYERS']
