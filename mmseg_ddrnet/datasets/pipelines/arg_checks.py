"""Argument checks shared by the transforms (a ``ConfigError`` naming the argument)."""
from numbers import Number
from typing import Tuple

from ...utils import ConfigError


def check(ok: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def is_number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def int_pair(value, name: str) -> Tuple[int, int]:
    """``value`` as ``(a, a)`` or its two positive ints; ConfigError naming ``name`` otherwise."""
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (list, tuple)) else ()
    check(len(pair) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair),
           f'{name} must be a positive int or a pair of them, got {value!r}')
    return pair
