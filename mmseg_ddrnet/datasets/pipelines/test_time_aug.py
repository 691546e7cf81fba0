"""``MultiScaleFlipAug``: run the test transforms once per (scale, flip, direction)."""
from typing import List, Optional, Sequence, Tuple, Union

from ...registry import PIPELINES
from ...utils import ConfigError, warn_once
from .compose import Compose


@PIPELINES.register_module()
class MultiScaleFlipAug:
    """Test-time augmentation with mmseg 0.x semantics.

    Each augmentation sets ``scale``, ``flip`` and ``flip_direction`` in a copy of ``results`` and runs
    ``transforms``; the output maps each key to the list of its values, one per augmentation
    (scales outermost, then flips, then directions).

    Args:
        transforms: the transforms run for each augmentation.
        img_scale: ``(w, h)`` or a list of them; with ``img_ratios`` the base scale to multiply
            (None: the image's own size).
        img_ratios: factors applied to ``img_scale``.
        flip: also run flipped copies.
        flip_direction: one direction or a list of them.
    """

    def __init__(self, transforms: Sequence[dict], img_scale: Union[None, Tuple[int, int], List] = None,
                 img_ratios: Union[None, float, List[float]] = None, flip: bool = False,
                 flip_direction: Union[str, List[str]] = 'horizontal'):
        self.transforms = Compose(transforms)
        if img_ratios is not None:
            img_ratios = img_ratios if isinstance(img_ratios, list) else [img_ratios]
        if img_scale is None:
            if not img_ratios:
                raise ConfigError('MultiScaleFlipAug: give img_scale or img_ratios')
            self.img_scale = None
        elif img_ratios is not None:
            if not (isinstance(img_scale, tuple) and len(img_scale) == 2):
                raise ConfigError(f'MultiScaleFlipAug: img_ratios need a single (w, h) img_scale, got {img_scale}')
            self.img_scale = [(int(img_scale[0] * r), int(img_scale[1] * r)) for r in img_ratios]
        else:
            self.img_scale = [tuple(s) for s in img_scale] if isinstance(img_scale, list) else [tuple(img_scale)]
        self.img_ratios = img_ratios
        self.flip = flip
        self.flip_direction = flip_direction if isinstance(flip_direction, list) else [flip_direction]
        if flip and not any(type(t).__name__ == 'RandomFlip' for t in self.transforms.transforms):
            warn_once('MultiScaleFlipAug: flip=True has no effect without RandomFlip in its transforms')

    def _scales(self, results: dict) -> List[Tuple[int, int]]:
        if self.img_scale is not None:
            return self.img_scale
        h, w = results['img'].shape[:2]
        return [(int(w * r), int(h * r)) for r in self.img_ratios]

    def __call__(self, results: dict) -> Optional[dict]:
        aug_data = []
        for scale in self._scales(results):
            for flip in ([False, True] if self.flip else [False]):
                for direction in self.flip_direction:
                    data = self.transforms(dict(results, scale=scale, flip=flip, flip_direction=direction))
                    if data is None:
                        return None
                    aug_data.append(data)
        return {key: [data[key] for data in aug_data] for key in aug_data[0]}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.transforms}, img_scale={self.img_scale}, '
                f'flip={self.flip}, flip_direction={self.flip_direction})')
