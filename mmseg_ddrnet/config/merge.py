"""Merging a child config into its base, and dotted ``--cfg-options`` into a config (mmcv 1.x rules).

* a dict in the child merges into the dict of the same key in the base, recursively;
* ``_delete_=True`` in a child dict replaces the base dict instead;
* any other value (a list included) replaces the base value;
* with ``allow_list_keys``, a key made of digits indexes into a base list (``pipeline.2.img_scale``).
"""
import difflib
from typing import Any, Dict, Mapping, Optional

from ..utils.errors import ConfigError
from ..utils.logging import warn_once
from .config_dict import ConfigDict, to_plain_value

DELETE_KEY = '_delete_'


def strip_delete_keys(value: Any) -> Any:
    """``value`` without ``_delete_`` markers (left where a child dict had no base to replace)."""
    if isinstance(value, dict):
        return ConfigDict({k: strip_delete_keys(v) for k, v in value.items() if k != DELETE_KEY})
    if isinstance(value, (list, tuple)):
        return type(value)(strip_delete_keys(v) for v in value)
    return value


def merge_a_into_b(a: Mapping, b: Any, allow_list_keys: bool = False, prefix: str = '') -> Any:
    """A copy of ``b`` (a dict, or a list with ``allow_list_keys``) updated with ``a``; neither is changed.

    ``prefix`` is the dotted path of ``b``, used to name the culprit in errors.
    """
    b = list(b) if isinstance(b, list) else ConfigDict(b)
    for key, value in a.items():
        full_key = f'{prefix}{key}'
        if isinstance(b, list):
            index = _list_index(key, b, allow_list_keys, full_key)
            b[index] = _merge_value(value, b[index], allow_list_keys, full_key)
        elif key in b:
            b[key] = _merge_value(value, b[key], allow_list_keys, full_key)
        else:
            b[key] = strip_delete_keys(value)
    return b


def _merge_value(value: Any, base: Any, allow_list_keys: bool, full_key: str) -> Any:
    if not isinstance(value, dict):
        return value
    if value.get(DELETE_KEY, False):
        return strip_delete_keys(value)
    value = {k: v for k, v in value.items() if k != DELETE_KEY}
    allowed = (dict, list) if allow_list_keys else (dict,)
    if not isinstance(base, allowed):
        raise ConfigError(f'{full_key} is {_short(base)} ({type(base).__name__}), not a dict that '
                          f'{_short(value)} can merge into; set {DELETE_KEY}=True in the new dict to replace it')
    return merge_a_into_b(value, base, allow_list_keys, prefix=f'{full_key}.')


def _short(value: Any, limit: int = 80) -> str:
    text = repr(to_plain_value(value))
    return text if len(text) <= limit else text[:limit - 5] + ' ...' + text[-1]


def _list_index(key: Any, base: list, allow_list_keys: bool, full_key: str) -> int:
    if not allow_list_keys:
        raise ConfigError(f'{full_key}: list items cannot be set by index here')
    if not (isinstance(key, str) and key.isdigit()):
        raise ConfigError(f'{full_key}: {key!r} is not an index into a list of {len(base)} items')
    index = int(key)
    if index >= len(base):
        raise ConfigError(f'{full_key}: index {index} is out of range for a list of {len(base)} items')
    return index


def options_to_tree(full_key: str, value: Any) -> Dict[str, Any]:
    """``('a.b.c', v)`` → ``{'a': {'b': {'c': v}}}``."""
    parts = full_key.split('.') if isinstance(full_key, str) else ['']
    if '' in parts:
        raise ConfigError(f'invalid option key {full_key!r}: expected dotted names like model.backbone.type')
    tree: Dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        tree = {part: tree}
    return tree


def merge_options(options: Mapping[str, Any], cfg: Mapping, allow_list_keys: bool = True) -> ConfigDict:
    """A copy of ``cfg`` updated with dotted ``options``, in order; errors name the option's full key."""
    for full_key, value in options.items():
        hint = typo_hint(full_key, cfg)
        if hint is not None:
            warn_once(f'option {full_key}: {hint}; it is added as a new key')
        try:
            cfg = merge_a_into_b(options_to_tree(full_key, value), cfg, allow_list_keys)
        except ConfigError as err:
            raise ConfigError(f'cannot set option {full_key}: {err}') from None
    return ConfigDict(cfg)


def typo_hint(full_key: str, cfg: Mapping) -> Optional[str]:
    """``'... did you mean <key>?'`` when ``full_key`` leaves the existing keys of ``cfg`` at a part that is
    close to an existing sibling (a likely typo); None when the key exists or nothing is close."""
    node: Any = cfg
    parts = full_key.split('.')
    for depth, part in enumerate(parts):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            keys = [str(key) for key in node] if isinstance(node, Mapping) else []
            close = difflib.get_close_matches(part, keys, n=1, cutoff=0.75)
            if not close:
                return None
            known = '.'.join(parts[:depth] + close)
            return f'{".".join(parts[:depth + 1])} does not exist in the config; did you mean {known}?'
    return None
