"""Reading a config file into a dict: predefined variables, ``_base_`` inheritance, ``{{_base_.x}}`` values.

The rules are mmcv 1.x's:

* ``{{ fileDirname }}``, ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}`` and ``{{ fileExtname }}``
  are replaced by the file's folder, name, name without extension and extension, in the file's text;
* ``_base_`` (a path or a list of paths, relative to the file) names configs loaded first, recursively;
  two bases of one file may not set the same top-level key; the file then merges into its bases
  (see :mod:`.merge`);
* ``{{ _base_.a.b }}`` is the value of ``a.b`` in the merged bases; base names are not visible as
  Python names in the child otherwise. Written in a string literal, ``'{{ _base_.a }}'`` is the value
  itself, and ``'x_{{ _base_.a }}'`` puts ``str(value)`` into the string;
* imported modules, functions, classes and names starting with ``__`` are not config keys;
* ``_deprecation_ = dict(expected='new.py', reference='url')`` makes loading the file log a warning.
"""
import ast
import copy
import json
import os
import re
import traceback
import types
import uuid
from typing import Any, Dict, List, Tuple, Union

from ..utils.errors import ConfigError
from ..utils.misc import openmmlab_import_hint
from ..utils.logging import warn_once
from .config_dict import ConfigDict
from .merge import merge_a_into_b

BASE_KEY = '_base_'
DEPRECATION_KEY = '_deprecation_'
RESERVED_KEYS = ('filename', 'text', 'pretty_text')
SUPPORTED_EXTENSIONS = ('.py', '.json')
_PREDEFINED = re.compile(r'\{\{\s*(fileDirname|fileBasename|fileBasenameNoExtension|fileExtname)\s*\}\}')
_BASE_VAR = re.compile(r'\{\{\s*' + BASE_KEY + r'\.([\w.]+?)\s*\}\}')
_DROPPED_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


def file_to_dict(filename: str, use_predefined_variables: bool = True) -> Tuple[ConfigDict, str]:
    """Load a config file with its bases; returns ``(cfg_dict, text)``, text being every file's source."""
    return _load(os.path.abspath(os.path.expanduser(filename)), use_predefined_variables, ())


def _load(path: str, use_predefined: bool, chain: Tuple[str, ...]) -> Tuple[ConfigDict, str]:
    if path in chain:
        cycle = ' -> '.join(os.path.basename(p) for p in chain + (path,))
        raise ConfigError(f'circular _base_ inheritance: {cycle} ({path})')
    raw = source = _read(path, chain)
    ext = os.path.splitext(path)[1]
    if ext not in SUPPORTED_EXTENSIONS:
        raise ConfigError(f'config file {path}: unsupported extension {ext!r} '
                          f'(expected one of {", ".join(SUPPORTED_EXTENSIONS)})')
    if use_predefined:
        source = _substitute_predefined(source, path)
    source, markers = _mark_base_vars(source)
    parsed = _parse_python(source, path) if ext == '.py' else _parse_json(source, path)
    base_files = _base_files(parsed, path)
    base_cfg, base_texts = _load_bases(base_files, path, use_predefined, chain + (path,))
    base_vars = BaseVariables(path, markers, base_cfg)
    cfg = _exec_python(parsed, path, base_vars) if ext == '.py' else parsed
    cfg = base_vars.substitute(cfg)
    cfg.pop(BASE_KEY, None)
    _warn_if_deprecated(cfg.pop(DEPRECATION_KEY, None), path)
    for key in RESERVED_KEYS:
        if key in cfg:
            raise ConfigError(f'config file {path}: {key!r} is a reserved name and cannot be a config key')
    merged = merge_a_into_b(cfg, base_cfg)
    text = '\n'.join(base_texts + [path + '\n' + raw])
    return merged, text


def _warn_if_deprecated(info: Any, path: str) -> None:
    if info is None:
        return
    info = info if isinstance(info, dict) else {}
    expected = f'; use {info["expected"]} instead' if 'expected' in info else ''
    reference = f' (see {info["reference"]})' if 'reference' in info else ''
    warn_once(f'config file {path} is deprecated{expected}{reference}')


def _read(path: str, chain: Tuple[str, ...]) -> str:
    if not os.path.isfile(path):
        referrer = f' (in _base_ of {chain[-1]})' if chain else ''
        raise ConfigError(f'config file not found: {path}{referrer}')
    with open(path, encoding='utf-8') as f:
        return f.read()


def _substitute_predefined(source: str, path: str) -> str:
    dirname, basename = os.path.split(path)
    stem, ext = os.path.splitext(basename)
    values = {'fileDirname': dirname, 'fileBasename': basename,
              'fileBasenameNoExtension': stem, 'fileExtname': ext}
    return _PREDEFINED.sub(lambda m: values[m.group(1)].replace('\\', '/'), source)


def _mark_base_vars(source: str) -> Tuple[str, Dict[str, str]]:
    """Replace each ``{{_base_.key}}`` by a unique name; returns the new source and ``{name: key}``."""
    tag = uuid.uuid4().hex[:8]
    markers: Dict[str, str] = {}

    def mark(match: 're.Match') -> str:
        name = f'__base_{tag}_{len(markers)}__'
        markers[name] = match.group(1)
        return name
    return _BASE_VAR.sub(mark, source), markers


def _base_files(parsed: Union[ast.Module, ConfigDict], path: str) -> List[str]:
    """The ``_base_`` paths of a parsed config, resolved against its folder."""
    bases = _python_base_value(parsed, path) if isinstance(parsed, ast.Module) else parsed.get(BASE_KEY, [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, (list, tuple)) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f'config file {path}: _base_ must be a path or a list of paths, got {bases!r}')
    folder = os.path.dirname(path)
    return [os.path.normpath(os.path.join(folder, os.path.expanduser(b))) for b in bases]


def _python_base_value(tree: ast.Module, path: str) -> Any:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BASE_KEY for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError(f'{path}:{node.lineno}: _base_ must be a literal path or list of paths') from None
    return []


def _load_bases(base_files: List[str], path: str, use_predefined: bool,
                chain: Tuple[str, ...]) -> Tuple[ConfigDict, List[str]]:
    merged = ConfigDict()
    owner: Dict[str, str] = {}
    texts = []
    for base in base_files:
        cfg, text = _load(base, use_predefined, chain)
        for key in cfg:
            if key in owner:
                raise ConfigError(f'config file {path}: key {key!r} is set by two of its bases, '
                                  f'{owner[key]} and {base}; a key may come from one base only')
            owner[key] = base
        merged.update(cfg)
        texts.append(text)
    return merged, texts


def _parse_python(source: str, path: str) -> ast.Module:
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as err:
        raise ConfigError(f'syntax error in config file {err.filename}, line {err.lineno}: {err.msg}'
                          + (f': {err.text.strip()}' if err.text else '')) from None


def _exec_python(tree: ast.Module, path: str, base_vars: 'BaseVariables') -> ConfigDict:
    code = compile(tree, path, 'exec')
    namespace: Dict[str, Any] = {'__file__': path, '__name__': '__mmseg_ddrnet_config__'}
    namespace.update({name: copy.deepcopy(value) for name, value in base_vars.values.items()})
    try:
        exec(code, namespace)
    except NameError as err:
        if err.name in base_vars.keys:
            raise base_vars.unknown(err.name) from None
        hint = (f' (names of _base_ files are not Python names in a config: write {{{{_base_.{err.name}}}}})'
                if err.name in base_vars.base_names else '')
        raise _user_code_error(err, path, hint) from err
    except Exception as err:  # noqa: BLE001 - any error in user code is reported with its line
        raise _user_code_error(err, path, openmmlab_import_hint(err)) from err
    return ConfigDict({name: value for name, value in namespace.items()
                       if not name.startswith('__') and not isinstance(value, _DROPPED_TYPES)})


def _user_code_error(err: Exception, path: str, hint: str = '') -> ConfigError:
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == path]
    where = f', line {lines[-1]}' if lines else ''
    return ConfigError(f'error in config file {path}{where}: {type(err).__name__}: {err}{hint}')


def _parse_json(source: str, path: str) -> ConfigDict:
    try:
        data = json.loads(source)
    except json.JSONDecodeError as err:
        raise ConfigError(f'invalid JSON in config file {path}, line {err.lineno}: {err.msg}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'config file {path}: expected a JSON object at the top level')
    return ConfigDict(data)


class BaseVariables:
    """The ``{{_base_.key}}`` references of one file: marker names and the base values they stand for.

    A reference to a key the bases lack is an error only where it is used (not in a comment).
    """

    def __init__(self, path: str, keys: Dict[str, str], base_cfg: ConfigDict):
        self.path = path
        self.keys = keys
        self.base_names = set(base_cfg)
        self.values: Dict[str, Any] = {}
        for marker, key in keys.items():
            found, value = _lookup(base_cfg, key)
            if found:
                self.values[marker] = value

    def unknown(self, marker: str) -> ConfigError:
        """The error for a reference to a key the base configs do not define."""
        key = self.keys[marker]
        return ConfigError(f'config file {self.path}: {{{{_base_.{key}}}}} refers to a key '
                           f'the base configs do not define: {key!r}')

    def substitute(self, value: Any) -> Any:
        """``value`` with markers left in strings replaced: a whole string by the base value, else by its str."""
        if not self.keys:
            return value
        if isinstance(value, str):
            return self._substitute_str(value)
        if isinstance(value, dict):
            return ConfigDict({k: self.substitute(v) for k, v in value.items()})
        if isinstance(value, (list, tuple)):
            return type(value)(self.substitute(v) for v in value)
        return value

    def _substitute_str(self, text: str) -> Any:
        for marker in self.keys:
            if marker in text and marker not in self.values:
                raise self.unknown(marker)
        if text in self.values:
            return copy.deepcopy(self.values[text])
        for marker, base_value in self.values.items():
            text = text.replace(marker, str(base_value))
        return text


def _lookup(cfg: Any, key: str) -> Tuple[bool, Any]:
    """``(True, value)`` of dotted ``key`` in ``cfg`` (digits index lists), or ``(False, None)``."""
    for part in key.split('.'):
        if isinstance(cfg, dict) and part in cfg:
            cfg = cfg[part]
        elif isinstance(cfg, (list, tuple)) and part.isdigit() and int(part) < len(cfg):
            cfg = cfg[int(part)]
        else:
            return False, None
    return True, cfg
