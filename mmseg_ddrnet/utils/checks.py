"""Argument checks of every layer: a wrong value is a :class:`ConfigError` naming the key and what was expected.

The generic predicates (:func:`is_int`, :func:`is_number`, :func:`as_int_pair`) and :func:`check` live here, the
one home of such checks; the pipelines, the models, the engine and the ops word their own messages with them.

A value given with ``--cfg-options`` that the parser could not read as a Python literal arrives as a
string (``model.train_cfg={}`` is the string ``'{}'``, as in mmcv); these checks turn such values into
one-line errors at the constructor that receives them, instead of a failure deep inside.
"""
import numbers
from typing import Any, Optional, Sequence, Tuple

from .errors import ConfigError


def describe(value: Any, limit: int = 80) -> str:
    """``"<type> <repr>"`` of a config value, the repr shortened to ``limit`` characters."""
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return f'{type(value).__name__} {text}'


def type_error(owner: str, key: str, expected: str, value: Any) -> ConfigError:
    """The error for ``owner``'s ``key`` holding ``value`` where ``expected`` was needed."""
    return ConfigError(f'{owner}: {key} must be {expected}, got {describe(value)}')


def is_int(value: Any) -> bool:
    """An integer that is not a bool (numpy integers included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check(ok: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def as_int_pair(value: Any) -> Optional[Tuple[int, int]]:
    """``value`` as ``(a, a)`` for a positive int, or its two positive ints for a pair; None otherwise."""
    pair = (value, value) if is_int(value) else tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(pair) != 2 or not all(is_int(v) and v > 0 for v in pair):
        return None
    return int(pair[0]), int(pair[1])


def int_pair(value: Any, name: str) -> Tuple[int, int]:
    """:func:`as_int_pair` of ``value``; :class:`ConfigError` naming ``name`` when it is neither."""
    pair = as_int_pair(value)
    check(pair is not None, f'{name} must be a positive int or a pair of them, got {value!r}')
    return pair


def check_bool(owner: str, key: str, value: Any) -> bool:
    """``value`` if it is a bool (``True``/``False``, not a string or a number)."""
    if not isinstance(value, bool):
        raise type_error(owner, key, 'a bool (True or False)', value)
    return value


def check_int(owner: str, key: str, value: Any, minimum: Optional[int] = None, optional: bool = False
              ) -> Optional[int]:
    """``int(value)`` if it is an integer (not a bool) of at least ``minimum``; None passes with ``optional``."""
    if value is None and optional:
        return None
    if not is_int(value) or (minimum is not None and value < minimum):
        bound = '' if minimum is None else {0: ' >= 0', 1: ' > 0'}.get(minimum, f' >= {minimum}')
        raise type_error(owner, key, f'an int{bound}' + (' or None' if optional else ''), value)
    return int(value)


def check_number(owner: str, key: str, value: Any, optional: bool = False) -> Optional[float]:
    """``float(value)`` if it is a real number (not a bool); None passes with ``optional``."""
    if value is None and optional:
        return None
    if not is_number(value):
        raise type_error(owner, key, 'a number' + (' or None' if optional else ''), value)
    return float(value)


def check_str(owner: str, key: str, value: Any, choices: Optional[Sequence[str]] = None,
              optional: bool = False) -> Optional[str]:
    """``value`` if it is a string (one of ``choices`` when given); None passes with ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        expected = 'a str' if choices is None else 'one of ' + ', '.join(repr(c) for c in choices)
        raise type_error(owner, key, expected + (' or None' if optional else ''), value)
    return value


def check_dict(owner: str, key: str, value: Any, optional: bool = False) -> Optional[dict]:
    """``value`` if it is a dict (a config dict); None passes with ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise type_error(owner, key, 'a dict' + (' or None' if optional else ''), value)
    return value


def check_type_cfg(owner: str, key: str, value: Any, optional: bool = False) -> Optional[dict]:
    """``value`` if it is a dict with a ``type`` key (a config of something built from a registry)."""
    if value is None and optional:
        return None
    if not isinstance(value, dict) or 'type' not in value:
        raise type_error(owner, key, 'a dict with a "type" key' + (' or None' if optional else ''), value)
    return value
