"""Config files with mmcv 1.x semantics: ``Config.fromfile``, ``ConfigDict``, ``DictAction``."""
from .config import Config
from .config_dict import ConfigDict
from .dict_action import DictAction

__all__ = ['Config', 'ConfigDict', 'DictAction']
