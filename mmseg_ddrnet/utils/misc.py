"""Small helpers shared across the package."""
import importlib
from types import ModuleType
from typing import List, Sequence, Union

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
            if allow_failed_imports:
                warn_once(f'custom_imports: {name} could not be imported and is ignored ({err})')
                continue
            raise ConfigError(f'custom_imports: cannot import {name!r}: {err}') from err
    return modules
