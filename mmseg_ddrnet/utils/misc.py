"""Small helpers shared across the package."""
import importlib
import re
import traceback
from types import ModuleType
from typing import List, Sequence, Tuple, Union

from .errors import ConfigError
from .logging import warn_once


def import_modules_from_strings(imports: Union[str, Sequence[str]],
                                allow_failed_imports: bool = False) -> List[ModuleType]:
    """Import modules named in a config's ``custom_imports`` so that they register themselves."""
    if not imports:
        return []
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, (list, tuple)) or not all(isinstance(i, str) for i in imports):
        raise ConfigError(f'custom_imports.imports must be a list of module names, got {imports!r}')
    modules = []
    for name in imports:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            reason = f'{err}{openmmlab_import_hint(err)}'
            if allow_failed_imports:
                warn_once(f'custom_imports: {name} could not be imported and is ignored ({reason})')
                continue
            raise ConfigError(f'custom_imports: cannot import {name!r}: {reason}') from err
    return modules


# What a module written for mmseg 0.x imports from mmcv / mmseg, and where it lives here.
_EQUIVALENTS = (
    ('mmseg.models.builder', 'the registries BACKBONES, HEADS, LOSSES, SEGMENTORS, MODELS from '
                             'mmseg_ddrnet.registry; build_* from mmseg_ddrnet.models.builder'),
    ('mmseg.datasets.builder', 'DATASETS, PIPELINES from mmseg_ddrnet.registry'),
    ('mmseg.models', 'BACKBONES/HEADS/LOSSES from mmseg_ddrnet.registry; BaseDecodeHead, BaseSegmentor, '
                     'BaseModule from mmseg_ddrnet.models'),
    ('mmseg.datasets', 'DATASETS, PIPELINES from mmseg_ddrnet.registry; CustomDataset from mmseg_ddrnet.datasets'),
    ('mmseg', 'the registries from mmseg_ddrnet.registry, models from mmseg_ddrnet.models, datasets from '
              'mmseg_ddrnet.datasets, mmseg.apis from mmseg_ddrnet.apis'),
    ('mmcv.runner', 'BaseModule from mmseg_ddrnet.models; Hook from mmseg_ddrnet.engine.hooks; HOOKS, RUNNERS '
                    'from mmseg_ddrnet.registry'),
    ('mmcv.cnn', 'ConvModule, build_norm_layer, build_activation_layer from mmseg_ddrnet.models.utils'),
    ('mmcv', 'Config from mmseg_ddrnet.config; BaseModule from mmseg_ddrnet.models; Hook from '
             'mmseg_ddrnet.engine.hooks; the registries from mmseg_ddrnet.registry'),
    ('mmengine', 'the registries from mmseg_ddrnet.registry; BaseModule from mmseg_ddrnet.models'),
)


def openmmlab_import_hint(err: BaseException) -> str:
    """For an import of mmcv / mmseg / mmengine (not installed: this package replaces them), where the imported
    names live here, as text to append to an error message; '' for any other error."""
    missing = getattr(err, 'name', None) if isinstance(err, ImportError) else None
    if not missing or missing.split('.')[0] not in _OPENMMLAB:
        return ''
    statement, module = _failed_import(err, missing)
    where = next(text for prefix, text in _EQUIVALENTS if module == prefix or module.startswith(prefix + '.'))
    return (f' (mmseg_ddrnet runs mmseg 0.x code without mmcv, mmsegmentation or mmengine; replace '
            f'`{statement}`: {where})')


_OPENMMLAB = ('mmseg', 'mmcv', 'mmengine')


def _failed_import(err: BaseException, missing: str) -> Tuple[str, str]:
    """The user's import statement that failed and the module it names (from the traceback), or ``missing``."""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        match = re.match(r'\s*(from\s+([\w.]+)\s+import\s+.*|import\s+([\w.]+).*)$', frame.line or '')
        if match and (match.group(2) or match.group(3)).split('.')[0] in _OPENMMLAB:
            return match.group(1).strip(), match.group(2) or match.group(3)
    return f'import {missing}', missing
