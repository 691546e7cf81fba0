"""The training pipeline's ``LoadImageFromFile → LoadAnnotations → Resize → RandomCrop`` in one step.

Run one after the other, these decode the whole image, resize all of it (up to 4096×2048 for
Cityscapes at ratio 2) and keep a 512×1024 window. :class:`LoadResizeCrop` gives the same results
(the same random draws in the same order, the same dict) while decoding only the image rows above
the window and resizing only the window (``mmseg_ddrnet.ops.read_png_rows`` and
``ops.resize_crop``). :class:`Compose` uses it for every such run of the four built-in transforms;
it runs them one by one where the compiled kernels are off or the configuration is one it does not
cover (non-colour or float32 loading, Pillow decoding, a scale fixed by test-time augmentation).
"""
from typing import Callable, List

import numpy as np

from ...ops import image as image_ops
from ...ops.dispatch import select
from ...utils.image_io import read_bytes
from .loading import LoadAnnotations, LoadImageFromFile
from .geometric import RandomCrop, Resize


def _stand_in(shape) -> np.ndarray:
    """A zero-cost uint8 array of ``shape`` for the transforms that only read ``results['img'].shape``."""
    return np.broadcast_to(np.zeros((), np.uint8), tuple(shape))


class LoadResizeCrop:
    """``load``, ``annotations``, ``resize`` and ``crop`` fused (see the module docstring)."""

    def __init__(self, load: LoadImageFromFile, annotations: LoadAnnotations, resize: Resize, crop: RandomCrop):
        self.load, self.annotations, self.resize, self.crop = load, annotations, resize, crop
        self.transforms = [load, annotations, resize, crop]
        self.covered = load.color_type == 'color' and not load.to_float32 and load.imdecode_backend == 'cv2'

    def sequential(self, results: dict) -> dict:
        for transform in self.transforms:
            results = transform(results)
        return results

    def __call__(self, results: dict) -> dict:
        if not self.covered or 'scale' in results or select('resize_crop') is None:
            return self.sequential(results)
        filename, name = self.load.paths(results)
        data = read_bytes(filename)
        size = image_ops.png_fast_size(data)
        img = None if size is not None else image_ops.read_png_rows(data, None, filename)
        shape = (size[0], size[1], 3) if img is None else img.shape
        results = self.annotations(self.load.apply(results, _stand_in(shape), filename, name))
        self.resize.random_scale(results)
        new_w, new_h = self.resize.target_size((shape[1], shape[0]), results['scale'])
        results = self.resize.apply(results, _stand_in((new_h, new_w, 3)), (shape[1], shape[0]))
        bbox = self.crop.choose_bbox(results)
        y1, y2, x1, x2 = bbox[0], min(bbox[1], new_h), bbox[2], min(bbox[3], new_w)
        if img is None:
            img = image_ops.read_png_rows(data, image_ops.rows_needed(shape[0], new_h, y2), filename)
        window = image_ops.resize_crop(img, (new_h, new_w), (y1, y2, x1, x2), src_h=shape[0])
        return self.crop.apply(results, window, bbox)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({", ".join(map(repr, self.transforms))})'


_FUSABLE = (LoadImageFromFile, LoadAnnotations, Resize, RandomCrop)


def fuse(transforms: List[Callable]) -> List[Callable]:
    """``transforms`` with each run of exactly the four built-in transforms replaced by a LoadResizeCrop."""
    steps, i = [], 0
    while i < len(transforms):
        run = transforms[i:i + len(_FUSABLE)]
        if len(run) == len(_FUSABLE) and all(type(t) is cls for t, cls in zip(run, _FUSABLE)):
            steps.append(LoadResizeCrop(*run))
            i += len(_FUSABLE)
        else:
            steps.append(transforms[i])
            i += 1
    return steps
