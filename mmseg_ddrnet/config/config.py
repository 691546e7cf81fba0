"""``Config``: a loaded config file, with mmcv 1.x's API (``fromfile``, ``merge_from_dict``, ``dump``)."""
import copy
import json
import os
import tempfile
from typing import Any, Dict, Iterator, Mapping, Optional

from ..utils.errors import ConfigError
from ..utils.io import atomic_write
from ..utils.misc import import_modules_from_strings
from .config_dict import ConfigDict
from .loader import RESERVED_KEYS, file_to_dict
from .merge import merge_options
from .pretty import format_config


class Config:
    """A config: a :class:`ConfigDict` of values plus the file it came from.

    Attribute and item access go to the values (``cfg.model.type``, ``cfg['data']``, ``cfg.get``,
    ``'model' in cfg``). Build one with :meth:`fromfile`, or ``Config(dict(...))``.

    Args:
        cfg_dict: the values.
        cfg_text: the source text (by default the file's text, if ``filename`` is given).
        filename: the file the values came from.
    """

    def __init__(self, cfg_dict: Optional[Mapping] = None, cfg_text: Optional[str] = None,
                 filename: Optional[str] = None):
        cfg_dict = {} if cfg_dict is None else cfg_dict
        if not isinstance(cfg_dict, Mapping):
            raise ConfigError(f'a config must be built from a dict, got {type(cfg_dict).__name__}')
        for key in RESERVED_KEYS:
            if key in cfg_dict:
                raise ConfigError(f'{key!r} is a reserved name and cannot be a config key')
        filename = None if filename is None else str(filename)
        if cfg_text is None:
            cfg_text = _read_text(filename) if filename and os.path.isfile(filename) else ''
        object.__setattr__(self, '_cfg_dict', ConfigDict(cfg_dict))
        object.__setattr__(self, '_filename', filename)
        object.__setattr__(self, '_text', cfg_text)

    @staticmethod
    def fromfile(filename: str, use_predefined_variables: bool = True,
                 import_custom_modules: bool = True) -> 'Config':
        """Load a ``.py`` (or ``.json``) config with its ``_base_`` files.

        With ``import_custom_modules``, the modules listed in ``custom_imports`` are imported
        (so that they register their classes).
        """
        filename = str(filename)
        cfg_dict, cfg_text = file_to_dict(filename, use_predefined_variables)
        if import_custom_modules and cfg_dict.get('custom_imports'):
            _import_custom_modules(cfg_dict['custom_imports'], filename)
        return Config(cfg_dict, cfg_text=cfg_text, filename=filename)

    @staticmethod
    def fromstring(cfg_str: str, file_format: str = '.py', import_custom_modules: bool = True) -> 'Config':
        """Load a config from its source text (``file_format`` is ``'.py'`` or ``'.json'``)."""
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, 'config' + file_format)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(cfg_str)
            cfg = Config.fromfile(path, import_custom_modules=import_custom_modules)
        return Config(cfg._cfg_dict, cfg_text=cfg_str)

    @property
    def filename(self) -> Optional[str]:
        """The path the config was loaded from, or None."""
        return self._filename

    @property
    def text(self) -> str:
        """The source of the config file and of its bases, each preceded by its path."""
        return self._text

    @property
    def pretty_text(self) -> str:
        """The merged config as formatted Python source that reloads to an equal config."""
        return format_config(self._cfg_dict, strict=False)

    def dump(self, file: Optional[str] = None) -> Optional[str]:
        """Write the merged config to ``file`` (``.py`` or ``.json``); without ``file``, return the text."""
        fmt = os.path.splitext(str(file if file is not None else self._filename or 'config.py'))[1]
        if fmt == '.py':
            text = format_config(self._cfg_dict, strict=True)
        elif fmt == '.json':
            text = json.dumps(self._cfg_dict.to_dict(), indent=4) + '\n'
        else:
            raise ConfigError(f'cannot dump a config to {file}: use a .py or .json file name')
        if file is None:
            return text
        with atomic_write(file, 'w') as f:
            f.write(text)
        return None

    def merge_from_dict(self, options: Mapping[str, Any], allow_list_keys: bool = True) -> None:
        """Update the config from dotted keys, e.g. ``{'model.backbone.norm_cfg.type': 'BN'}``.

        A key made of digits indexes into a list (``data.train.pipeline.2.img_scale``) when
        ``allow_list_keys``; intermediate dicts are created for new keys. An option that cannot
        apply (an index out of range, a key into a non-dict) is a :class:`ConfigError` naming it.
        """
        object.__setattr__(self, '_cfg_dict', merge_options(options, self._cfg_dict, allow_list_keys))

    def to_dict(self) -> dict:
        """The values as plain, nested dicts."""
        return self._cfg_dict.to_dict()

    def __getattr__(self, name: str) -> Any:
        if name.startswith('__') or name in ('_cfg_dict', '_filename', '_text'):
            raise AttributeError(name)
        return getattr(self._cfg_dict, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._cfg_dict[name] = value

    def __delattr__(self, name: str) -> None:
        delattr(self._cfg_dict, name)

    def __getitem__(self, name: str) -> Any:
        return self._cfg_dict[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._cfg_dict[name] = value

    def __delitem__(self, name: str) -> None:
        del self._cfg_dict[name]

    def __contains__(self, name: object) -> bool:
        return name in self._cfg_dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._cfg_dict)

    def __len__(self) -> int:
        return len(self._cfg_dict)

    def __eq__(self, other: object) -> bool:
        other_dict = other._cfg_dict if isinstance(other, Config) else other
        return isinstance(other_dict, dict) and self._cfg_dict == other_dict

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f'Config (path: {self._filename}): {dict.__repr__(self._cfg_dict)}'

    def __getstate__(self) -> Dict[str, Any]:
        return {'cfg_dict': self._cfg_dict.to_dict(), 'filename': self._filename, 'text': self._text}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        object.__setattr__(self, '_cfg_dict', ConfigDict(state['cfg_dict']))
        object.__setattr__(self, '_filename', state['filename'])
        object.__setattr__(self, '_text', state['text'])

    def __copy__(self) -> 'Config':
        return Config(self._cfg_dict.copy(), cfg_text=self._text, filename=self._filename)

    def __deepcopy__(self, memo: Dict[int, Any]) -> 'Config':
        new = Config(cfg_text=self._text, filename=self._filename)
        memo[id(self)] = new
        object.__setattr__(new, '_cfg_dict', copy.deepcopy(self._cfg_dict, memo))
        return new


def load_config_file(filename: str, cfg_options: Optional[Mapping[str, Any]] = None) -> Config:
    """``Config.fromfile(filename)`` with the ``--cfg-options`` overrides merged (the tools' config loading).

    A missing file raises :class:`ConfigError` naming the path as given.
    """
    if not os.path.isfile(filename):
        raise ConfigError(f'config file not found: {filename}')
    cfg = Config.fromfile(filename)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _read_text(filename: str) -> str:
    with open(filename, encoding='utf-8') as f:
        return f.read()


def _import_custom_modules(custom_imports: Any, filename: str) -> None:
    if not isinstance(custom_imports, dict) or 'imports' not in custom_imports:
        raise ConfigError(f'{filename}: custom_imports must be dict(imports=[...], allow_failed_imports=False), '
                          f'got {custom_imports!r}')
    unknown = set(custom_imports) - {'imports', 'allow_failed_imports'}
    if unknown:
        raise ConfigError(f'{filename}: unknown custom_imports keys {sorted(unknown)}')
    try:
        import_modules_from_strings(custom_imports['imports'], custom_imports.get('allow_failed_imports', False))
    except ConfigError as err:
        raise ConfigError(f'config file {filename}: {err}') from err
