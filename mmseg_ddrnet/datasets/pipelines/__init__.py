"""Data pipelines (registered in ``PIPELINES``) with mmseg 0.x names and semantics."""
from .compose import Compose
from .formatting import Collect, DefaultFormatBundle, ImageToTensor, ToTensor, to_tensor
from .loading import LoadAnnotations, LoadImageFromFile
from .photometric import PhotoMetricDistortion
from .test_time_aug import MultiScaleFlipAug
from .transforms import Normalize, Pad, RandomCrop, RandomFlip, Resize
from .transforms_extra import (CLAHE, AdjustGamma, RandomCutOut, RandomRotate, Rerange, ResizeToMultiple, RGB2Gray,
                               SegRescale, ToDataContainer, Transpose)
from .transforms_mosaic import RandomMosaic

__all__ = ['Compose', 'Collect', 'DefaultFormatBundle', 'ImageToTensor', 'ToTensor', 'to_tensor',
           'LoadAnnotations', 'LoadImageFromFile', 'PhotoMetricDistortion', 'MultiScaleFlipAug', 'Normalize',
           'Pad', 'RandomCrop', 'RandomFlip', 'Resize', 'CLAHE', 'AdjustGamma', 'RandomCutOut', 'RandomRotate',
           'Rerange', 'ResizeToMultiple', 'RGB2Gray', 'SegRescale', 'ToDataContainer', 'Transpose', 'RandomMosaic']
