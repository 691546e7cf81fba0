"""Datasets (registered in ``DATASETS``), pipelines, and the loader builders."""
from .builder import build_dataloader, build_dataset, collate, loader_args, worker_init_fn
from .camvid import CamVidDataset
from .cityscapes import CityscapesDataset
from .cityscapes_conversion import convert_cityscapes
from .custom import CustomDataset
from .dataset_wrappers import ConcatDataset, MultiImageMixDataset, RepeatDataset
from .pipelines import *  # noqa: F401,F403  (registers the transforms)
from .samplers import SeededIndex, SeededSampler, sample_random_state
from .synthetic import make_synthetic_cityscapes

__all__ = ['build_dataloader', 'build_dataset', 'collate', 'loader_args',
           'worker_init_fn', 'CamVidDataset', 'CityscapesDataset',
           'CustomDataset', 'ConcatDataset', 'MultiImageMixDataset', 'RepeatDataset', 'SeededIndex', 'SeededSampler',
           'sample_random_state',
           'make_synthetic_cityscapes', 'convert_cityscapes']
