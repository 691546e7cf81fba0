"""``Compose``: run a list of transforms in order."""
from typing import Callable, Optional, Sequence, Union

from ...registry import PIPELINES, build_from_cfg
from ...utils import ConfigError
from .fused import LoadResizeCrop, fuse


@PIPELINES.register_module()
class Compose:
    """Apply transforms one after the other; a transform returning None drops the sample.

    A run ``LoadImageFromFile, LoadAnnotations, Resize, RandomCrop`` of the built-in transforms is
    executed as one fused step with the same results (:mod:`.fused`); ``transforms`` still lists
    the transforms as configured, :meth:`steps` and ``repr`` show what runs.

    Args:
        transforms: transform configs (dicts with ``type``) or callables.
    """

    def __init__(self, transforms: Sequence[Union[dict, Callable]]):
        if not isinstance(transforms, (list, tuple)):
            raise ConfigError(f'a pipeline must be a list of transforms, got {type(transforms).__name__}')
        self.transforms = []
        for transform in transforms:
            if isinstance(transform, dict):
                transform = build_from_cfg(transform, PIPELINES)
            elif not callable(transform):
                raise ConfigError(f'a pipeline step must be a dict or a callable, got {transform!r}')
            self.transforms.append(transform)
        self._fused_for, self._steps = None, []

    def steps(self) -> list:
        """The callables run: ``transforms`` with the fusable runs fused (recomputed if the list changed)."""
        key = tuple(map(id, self.transforms))
        if key != self._fused_for:
            self._fused_for, self._steps = key, fuse(self.transforms)
        return self._steps

    def __call__(self, results: dict) -> Optional[dict]:
        for transform in self.steps():
            results = transform(results)
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        """The steps that run: a fused step shows the configured transforms it stands for."""
        lines = []
        for step in self.steps():
            if isinstance(step, LoadResizeCrop):
                parts = ''.join(f'\n        {t}' for t in step.transforms)
                lines.append(f'\n    {type(step).__name__}(  # fused, same results as:{parts}\n    )')
            else:
                lines.append(f'\n    {step}')
        return f'{self.__class__.__name__}({"".join(lines)}\n)'
