"""``ConfigDict``: a dict whose keys are also attributes, with nested dicts converted."""
from typing import Any, Dict


def to_config_value(value: Any) -> Any:
    """A copy of ``value`` with every dict inside it (also inside lists and tuples) a new ConfigDict."""
    if isinstance(value, dict):
        return ConfigDict(value)
    if isinstance(value, list):
        return [to_config_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_config_value(v) for v in value)
    return value


def to_plain_value(value: Any) -> Any:
    """``value`` with every ConfigDict inside it made a plain dict (lists and tuples kept)."""
    if isinstance(value, dict):
        return {k: to_plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain_value(v) for v in value)
    return value


class ConfigDict(dict):
    """A ``dict`` with attribute access (``cfg.model.type``), as mmcv's ``ConfigDict``.

    Nested dicts, also those inside lists and tuples, are copied into new ``ConfigDict`` when stored
    (as addict does), so two keys never share a nested dict.
    A missing attribute raises ``AttributeError`` naming the key, so ``getattr(cfg, 'x', None)``
    works; a missing item raises ``KeyError`` as a dict does.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, to_config_value(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'") from None

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """``dict.update`` that converts nested dicts."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """``dict.setdefault`` that converts a nested dict default."""
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> 'ConfigDict':
        """A shallow copy that stays a ``ConfigDict``."""
        return type(self)(self)

    def __copy__(self) -> 'ConfigDict':
        return self.copy()

    def __deepcopy__(self, memo: Dict[int, Any]) -> 'ConfigDict':
        import copy
        new = type(self)()
        memo[id(self)] = new
        for key, value in self.items():
            dict.__setitem__(new, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
        return new

    def __reduce__(self):
        return type(self), (self.to_dict(),)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({dict.__repr__(self)})'

    def to_dict(self) -> dict:
        """A plain ``dict`` copy, recursively (lists and tuples of dicts included)."""
        return to_plain_value(self)
