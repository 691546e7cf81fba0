"""Optional dependencies (onnx, onnxruntime, matplotlib): imported on use, a one-line error when missing."""
import importlib
from types import ModuleType
from typing import Optional

from .errors import ConfigError


def import_optional(module: str, purpose: str, package: Optional[str] = None) -> ModuleType:
    """Import ``module``, or raise :class:`ConfigError` naming the package to install and what needs it.

    ``package`` is the pip name when it differs from the module's (default: the top-level module name).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = package or module.split('.')[0]
        raise ConfigError(f'{purpose} needs the optional package {package} (pip install {package}); '
                          f'importing {module} failed: {err}') from err
