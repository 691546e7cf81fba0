"""Config files with mmcv 1.x semantics: ``Config.fromfile``, ``load_config_file``, ``ConfigDict``, ``DictAction``."""
from .config import Config, load_config_file
from .config_dict import ConfigDict
from .dict_action import DictAction

__all__ = ['Config', 'ConfigDict', 'DictAction', 'load_config_file']
