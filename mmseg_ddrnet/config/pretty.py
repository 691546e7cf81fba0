"""Formatting a config as Python source that reloads to an equal config.

Dicts are written ``dict(a=1)`` when every key is an identifier and ``{'a-b': 1}`` otherwise (a
top-level key that is not an identifier as ``globals()['a-b'] = 1``);
a value that does not fit in the line width is broken over several lines, one item a line.
"""
import keyword
import math
from typing import Any, List, Mapping

from ..utils.errors import ConfigError

INDENT = 4
_SCALARS = (str, bool, int, type(None))


def format_config(cfg: Mapping, width: int = 100, strict: bool = True) -> str:
    """``cfg`` as ``key = value`` lines of Python.

    With ``strict``, a value that Python source cannot express (an object, a numpy number)
    is a :class:`ConfigError` naming its key; otherwise its ``repr`` is written.
    """
    lines = []
    for key, value in cfg.items():
        target = key if _is_identifier(key) else f'globals()[{_inline(key, strict, str(key))}]'
        lines.append(f'{target} = {_format(value, len(target) + 3, 0, width, strict, str(key))}')
    return '\n'.join(lines) + '\n'


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _format(value: Any, column: int, indent: int, width: int, strict: bool, path: str) -> str:
    """``value`` as source starting at ``column``, its continuation lines indented by ``indent``."""
    flat = _inline(value, strict, path)
    if column + len(flat) <= width or not isinstance(value, (dict, list, tuple)) or not value:
        return flat
    inner = ' ' * (indent + INDENT)
    items = []
    if isinstance(value, dict):
        as_call = all(_is_identifier(k) for k in value)
        for key, item in value.items():
            head = f'{key}=' if as_call else f'{_inline(key, strict, path)}: '
            body = _format(item, indent + INDENT + len(head), indent + INDENT, width, strict, f'{path}.{key}')
            items.append(inner + head + body)
        open_, close = ('dict(', ')') if as_call else ('{', '}')
    elif not any(isinstance(item, (dict, list, tuple)) for item in value):
        items = _fill([_inline(item, strict, f'{path}.{i}') for i, item in enumerate(value)], inner, width)
    else:
        for i, item in enumerate(value):
            items.append(inner + _format(item, indent + INDENT, indent + INDENT, width, strict, f'{path}.{i}'))
    if not isinstance(value, dict):
        open_, close = ('[', ']') if isinstance(value, list) else ('(', ')')
    return open_ + '\n' + ',\n'.join(items) + ',\n' + ' ' * indent + close


def _fill(words: List[str], inner: str, width: int) -> List[str]:
    """Scalar items packed into as few lines as fit in ``width`` (without their final commas)."""
    lines = [inner + words[0]]
    for word in words[1:]:
        if len(lines[-1]) + len(', ') + len(word) + 1 <= width:
            lines[-1] += ', ' + word
        else:
            lines.append(inner + word)
    return lines


def _inline(value: Any, strict: bool, path: str) -> str:
    """``value`` as source on one line."""
    if isinstance(value, dict):
        if all(_is_identifier(k) for k in value):
            return 'dict(' + ', '.join(f'{k}={_inline(v, strict, f"{path}.{k}")}' for k, v in value.items()) + ')'
        return '{' + ', '.join(f'{_inline(k, strict, path)}: {_inline(v, strict, f"{path}.{k}")}'
                               for k, v in value.items()) + '}'
    if isinstance(value, (list, tuple)):
        items = [_inline(v, strict, f'{path}.{i}') for i, v in enumerate(value)]
        if isinstance(value, list):
            return '[' + ', '.join(items) + ']'
        return '(' + ', '.join(items) + (',)' if len(items) == 1 else ')')
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float('{value}')"
    if type(value) in _SCALARS or not strict:
        return repr(value)
    raise ConfigError(f'config value {path}={value!r} of type {type(value).__name__} '
                      'cannot be written as Python source')
