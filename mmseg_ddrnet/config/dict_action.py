"""``DictAction``: argparse ``--cfg-options key=value ...`` with mmcv 1.x's value syntax.

Values: ``1`` (int), ``0.5`` / ``1e-4`` (float), ``True`` / ``false`` (bool), ``None``, anything else a
string; ``a,b`` and ``[a,b]`` are lists, ``(a,b)`` a tuple, nested as in ``[(1,2),(3,4)]``. A value
in quotes (``'a b'``, ``"1,2"``) is that string, as written. Whitespace around items is ignored.
"""
import argparse
from typing import Any, List, Optional, Sequence

_BRACKETS = {'(': ')', '[': ']'}
_QUOTES = ('"', "'")


def parse_scalar(text: str) -> Any:
    """``text`` as an int, a float, a bool, None, or else the string itself."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ('true', 'false'):
        return text.lower() == 'true'
    return None if text == 'None' else text


def parse_value(text: str) -> Any:
    """Parse one ``--cfg-options`` value; raises ``ValueError`` on unbalanced brackets or quotes."""
    text = text.strip()
    _check_balanced(text)
    if _is_quoted(text):
        return text[1:-1]
    if text[:1] in _BRACKETS and _closing_index(text) == len(text) - 1:
        items = [parse_value(item) for item in _split_top_level(text[1:-1])]
        return tuple(items) if text[0] == '(' else items
    items = _split_top_level(text)
    if len(items) > 1 or text.endswith(','):
        return [parse_value(item) for item in items]
    return parse_scalar(text)


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] in _QUOTES and text[-1] == text[0] and text[0] not in text[1:-1]


def _scan(text: str):
    """Yield ``(index, char, depth)`` for characters outside quotes, checking brackets as it goes."""
    stack: List[str] = []
    quote: Optional[str] = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in _QUOTES:
            quote = char
        elif char in _BRACKETS:
            stack.append(_BRACKETS[char])
            yield i, char, len(stack)
        elif char in ')]':
            if not stack or stack.pop() != char:
                raise ValueError(f'unbalanced {char!r} at position {i + 1}')
            yield i, char, len(stack)
        else:
            yield i, char, len(stack)
    if quote:
        raise ValueError(f'unclosed quote {quote}')
    if stack:
        raise ValueError(f'missing {stack[-1]!r}')


def _check_balanced(text: str) -> None:
    for _ in _scan(text):
        pass


def _closing_index(text: str) -> int:
    """Index of the bracket that closes the one at ``text[0]``."""
    for i, char, depth in _scan(text):
        if char in ')]' and depth == 0:
            return i
    return -1


def _split_top_level(text: str) -> List[str]:
    """Split at commas outside brackets and quotes; a trailing comma adds no item."""
    if not text.strip():
        return []
    items, start = [], 0
    for i, char, depth in _scan(text):
        if char == ',' and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        items.append(text[start:])
    return items


class DictAction(argparse.Action):
    """Collect ``key=value`` arguments into a dict (use with ``nargs='+'``); repeated flags accumulate.

    A malformed item (no ``=``, an empty key, unbalanced brackets or quotes) is an argparse error
    naming the item.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str], option_string: Optional[str] = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in [values] if isinstance(values, str) else values:
            key, sep, value = item.partition('=')
            if not sep or not key.strip():
                parser.error(f'argument {option_string}: {item!r} is not of the form key=value')
            try:
                options[key.strip()] = parse_value(value)
            except ValueError as err:
                parser.error(f'argument {option_string}: cannot parse {item!r}: {err}')
        setattr(namespace, self.dest, options)
