"""Data pipelines (registered in ``PIPELINES``) with mmseg 0.x names and semantics, grouped by what a transform
does: ``loading``, ``geometric``, ``photometric``, ``formatting``, ``mixing``, ``test_time_aug``; ``compose`` runs
them (with the ``fused`` load-resize-crop step); ``image_ops`` holds mmcv's array helpers."""
from .compose import Compose
from .formatting import (Collect, DefaultFormatBundle, ImageToTensor, ToDataContainer, ToTensor, Transpose,
                         to_tensor)
from .geometric import Pad, RandomCrop, RandomFlip, RandomRotate, Resize, ResizeToMultiple, SegRescale
from .loading import LoadAnnotations, LoadImageFromFile
from .mixing import RandomMosaic
from .photometric import (CLAHE, AdjustGamma, Normalize, PhotoMetricDistortion, RandomCutOut, Rerange,
                          RGB2Gray)
from .test_time_aug import MultiScaleFlipAug

__all__ = ['Compose', 'Collect', 'DefaultFormatBundle', 'ImageToTensor', 'ToTensor', 'to_tensor',
           'LoadAnnotations', 'LoadImageFromFile', 'PhotoMetricDistortion', 'MultiScaleFlipAug', 'Normalize',
           'Pad', 'RandomCrop', 'RandomFlip', 'Resize', 'CLAHE', 'AdjustGamma', 'RandomCutOut', 'RandomRotate',
           'Rerange', 'ResizeToMultiple', 'RGB2Gray', 'SegRescale', 'ToDataContainer', 'Transpose', 'RandomMosaic']
