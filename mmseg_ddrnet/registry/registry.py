"""Registries map the ``type`` names used in configs to classes (or functions), as in mmcv."""
import difflib
import inspect
from typing import Any, Callable, Dict, Optional, Union

from ..utils.errors import ConfigError, RegistryError


class Registry:
    """A name → class map that builds objects from config dicts.

    Args:
        name: what the registry holds, used in error messages (``'model'``, ``'dataset'``).
        build_func: how to build from a config; :func:`build_from_cfg` by default.
    """

    def __init__(self, name: str, build_func: Optional[Callable] = None):
        self.name = name
        self._module_dict: Dict[str, Any] = {}
        self._refused: Dict[str, str] = {}
        self.build_func = build_func or build_from_cfg

    def __len__(self) -> int:
        return len(self._module_dict)

    def __contains__(self, key: str) -> bool:
        return key in self._module_dict

    def __repr__(self) -> str:
        return f'Registry(name={self.name}, items={sorted(self._module_dict)})'

    @property
    def module_dict(self) -> Dict[str, Any]:
        return dict(self._module_dict)

    def get(self, key: str) -> Optional[Any]:
        """The class registered as ``key``, or None."""
        return self._module_dict.get(key)

    def build(self, cfg: dict, *args, **kwargs) -> Any:
        return self.build_func(cfg, self, *args, **kwargs)

    def refuse(self, name: str, reason: str) -> None:
        """Make building ``name`` (a type known elsewhere, e.g. in mmcv) fail with ``reason``; registering a
        module under that name later lifts the refusal."""
        self._refused[name] = reason

    def refusal(self, name: str) -> Optional[str]:
        """Why ``name`` is refused, or None."""
        return self._refused.get(name)

    def _register(self, module: Any, name: Optional[Union[str, list]] = None, force: bool = False) -> None:
        if not (inspect.isclass(module) or inspect.isfunction(module)):
            raise TypeError(f'only classes and functions can be registered, got {type(module)}')
        names = [module.__name__] if name is None else ([name] if isinstance(name, str) else list(name))
        for key in names:
            old = self._module_dict.get(key)
            if old is not None and old is not module and not force:
                raise RegistryError(
                    f'{key!r} is already registered in the {self.name} registry '
                    f'(by {old.__module__}.{old.__qualname__}); pass force=True to replace it')
            self._module_dict[key] = module
            self._refused.pop(key, None)

    def register_module(self, name: Optional[Union[str, list]] = None, force: bool = False,
                        module: Any = None) -> Any:
        """Register a class or function, as a decorator or by ``module=``."""
        if module is not None:
            self._register(module, name, force)
            return module

        def _decorator(cls):
            self._register(cls, name, force)
            return cls
        return _decorator

    def unknown_type_error(self, type_name: str) -> RegistryError:
        close = difflib.get_close_matches(type_name, list(self._module_dict), n=5, cutoff=0.5)
        hint = f'; did you mean {", ".join(close)}?' if close else ''
        known = ', '.join(sorted(self._module_dict)) or 'none'
        return RegistryError(
            f'unknown {self.name} type {type_name!r}{hint} (registered: {known}; '
            'add your own module to custom_imports in the config)')


def build_from_cfg(cfg: dict, registry: Registry, default_args: Optional[dict] = None) -> Any:
    """Build an object from ``cfg['type']`` in ``registry``, with the other keys as arguments.

    ``default_args`` fill keys the config does not set.
    """
    if not isinstance(cfg, dict):
        raise ConfigError(f'a {registry.name} config must be a dict, got {type(cfg).__name__}: {cfg!r}')
    if 'type' not in cfg and not (default_args and 'type' in default_args):
        raise ConfigError(f'a {registry.name} config needs a "type" key, got keys {sorted(cfg)}')
    args = dict(cfg)
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    obj_type = args.pop('type')
    if isinstance(obj_type, str):
        obj_cls = registry.get(obj_type)
        if obj_cls is None and registry.refusal(obj_type) is not None:
            raise ConfigError(f'{registry.name} type {obj_type!r} is not supported: {registry.refusal(obj_type)}')
        if obj_cls is None:
            raise registry.unknown_type_error(obj_type)
    elif inspect.isclass(obj_type) or inspect.isfunction(obj_type):
        obj_cls = obj_type
    else:
        raise ConfigError(f'"type" of a {registry.name} config must be a name or a class, got {obj_type!r}')
    try:
        return obj_cls(**args)
    except TypeError as err:
        # A wrong or missing argument in the config: name the class it was meant for.
        if _is_signature_error(err, obj_cls):
            raise ConfigError(f'{obj_cls.__name__}: {err}') from err
        raise


def _is_signature_error(err: TypeError, obj_cls: Any) -> bool:
    msg = str(err)
    return ('__init__()' in msg or f'{obj_cls.__name__}(' in msg or 'argument' in msg) and (
        'unexpected keyword' in msg or 'missing' in msg or 'positional argument' in msg)
