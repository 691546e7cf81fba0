"""``Compose``: run a list of transforms in order."""
from typing import Callable, Optional, Sequence, Union

from ...registry import PIPELINES, build_from_cfg
from ...utils import ConfigError


@PIPELINES.register_module()
class Compose:
    """Apply transforms one after the other; a transform returning None drops the sample.

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

    def __call__(self, results: dict) -> Optional[dict]:
        for transform in self.transforms:
            results = transform(results)
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t}' for t in self.transforms)
        return f'{self.__class__.__name__}({inner}\n)'
