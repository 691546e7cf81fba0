from .cli import run_cli
from .errors import CheckpointError, ConfigError, DataError, MMSegDDRNetError, NumericalError, RegistryError
from .logging import get_root_logger, print_log, warn_once
from .misc import import_modules_from_strings

__all__ = ['run_cli', 'MMSegDDRNetError', 'ConfigError', 'RegistryError', 'CheckpointError',
           'DataError', 'NumericalError', 'get_root_logger', 'print_log', 'warn_once', 'import_modules_from_strings']
