"""``init_cfg`` and ``init_weights()`` with mmcv 1.x ``BaseModule`` semantics.

``initialize(module, init_cfg)`` is mmcv 1.7's: for each config (a dict or a list of them) the initializer
is applied to the sub-modules its ``layer`` names, then its ``override`` (a dict or a list, each with the
``name`` of an attribute, and either only the name, reusing the outer config without ``layer``, or a full
config with ``type``) to the whole named sub-module. A config without ``layer`` and without ``override``
initialises nothing; here it is also named in a warning.

:class:`BaseModule` (what the models here derive from) keeps ``init_cfg`` and runs, in ``init_weights()``,
its own ``init_cfg`` first and then ``init_weights()`` of its direct children that have one; a single
``Pretrained`` dict stops there (the loaded weights are not overwritten by the children's init). A second
call warns and does nothing. Unlike mmcv, the modules are already initialised by their constructors (with
the defaults mmseg applies), so ``init_weights()`` only adds what ``init_cfg`` asks for.
"""
import copy
import logging
from abc import ABCMeta
from typing import Dict, List, Optional, Union

import torch.nn as nn

from ...registry import INITIALIZERS
from ...utils import ConfigError, RegistryError, print_log, warn_once
from ...utils.checks import describe

InitCfg = Optional[Union[dict, List[dict]]]


def _cfg_list(owner: str, key: str, value) -> List[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(cfg, dict) for cfg in value):
        return list(value)
    raise ConfigError(f'{owner}: {key} must be a dict or a list of dicts, got {describe(value)}')


def _build(owner: str, cfg: dict, wholemodule: bool = False):
    """The initializer of ``cfg`` (a :class:`ConfigError` naming ``owner`` when it is wrong)."""
    if 'type' not in cfg:
        raise ConfigError(f'{owner}: init_cfg {cfg!r} needs a "type" key (one of {sorted(INITIALIZERS.module_dict)})')
    try:
        init = INITIALIZERS.build(cfg)
    except (ConfigError, RegistryError) as err:
        msg = str(err) if str(err).startswith(('init_cfg', 'unknown')) else f'init_cfg {cfg["type"]}: {err}'
        raise type(err)(f'{owner}: {msg}') from err
    init.wholemodule = wholemodule
    return init


def _split_override(owner: str, cfg: dict) -> tuple:
    """``(main config, [(name, override config), ...])`` of one ``init_cfg`` entry, as mmcv resolves them."""
    main = copy.deepcopy(dict(cfg))
    override = main.pop('override', None)
    if override is None:
        return main, []
    base = {key: value for key, value in main.items() if key != 'layer'}
    resolved = []
    for entry in _cfg_list(owner, 'init_cfg override', override):
        entry = copy.deepcopy(dict(entry))
        name = entry.pop('name', None)
        if not isinstance(name, str):
            raise ConfigError(f'{owner}: init_cfg override {describe(entry)} needs a "name" (str): the attribute '
                              'to initialise')
        if not entry:
            entry = dict(base)
        elif 'type' not in entry:
            raise ConfigError(f'{owner}: init_cfg override {name!r} sets {sorted(entry)} but no "type"; give only '
                              'the name (to reuse the outer init_cfg) or a full initializer config')
        resolved.append((name, entry))
    return main, resolved


def check_init_cfg(owner: str, init_cfg: InitCfg) -> InitCfg:
    """A deep copy of ``init_cfg``, every initializer in it built once to check its arguments."""
    if init_cfg is None:
        return None
    for cfg in _cfg_list(owner, 'init_cfg', init_cfg):
        main, overrides = _split_override(owner, cfg)
        _build(owner, main)
        for _, entry in overrides:
            _build(owner, entry, wholemodule=True)
    return copy.deepcopy(init_cfg)


def initialize(module: nn.Module, init_cfg: Union[dict, List[dict]]) -> None:
    """Apply ``init_cfg`` (a dict or a list of dicts) to ``module``, as mmcv 1.7's ``initialize``."""
    owner = type(module).__name__
    for cfg in _cfg_list(owner, 'init_cfg', init_cfg):
        main, overrides = _split_override(owner, cfg)
        if not main.get('layer') and not overrides and main.get('type') != 'Pretrained':
            warn_once(f'{owner}: init_cfg {dict(cfg)!r} has neither "layer" nor "override", so it initialises '
                      "nothing (as in mmcv); name the layers, e.g. layer='Conv2d'")
        _build(owner, main)(module)
        _check_override_names(module, cfg)
        for name, entry in overrides:
            _build(owner, entry, wholemodule=True)(getattr(module, name))


def _check_override_names(module: nn.Module, init_cfg: InitCfg) -> None:
    """Every ``override`` of ``init_cfg`` names a sub-module of ``module`` (a :class:`ConfigError` otherwise)."""
    owner = type(module).__name__
    for cfg in _cfg_list(owner, 'init_cfg', init_cfg) if init_cfg else []:
        for name, _ in _split_override(owner, cfg)[1]:
            if not isinstance(getattr(module, name, None), nn.Module):
                raise ConfigError(f'{owner}: init_cfg override name={name!r}: {owner} has no sub-module {name!r}')


class _CheckedInitCfg(ABCMeta):
    """Checks the ``override`` names of ``init_cfg`` once the module is fully built (its sub-modules exist)."""

    def __call__(cls, *args, **kwargs):
        module = super().__call__(*args, **kwargs)
        _check_override_names(module, getattr(module, 'init_cfg', None))
        return module


class BaseModule(nn.Module, metaclass=_CheckedInitCfg):
    """An ``nn.Module`` with mmcv 1.x's ``init_cfg`` / ``init_weights()`` (see the module docstring).

    Args:
        init_cfg: an initializer config (``dict(type='Kaiming', layer='Conv2d')``,
            ``dict(type='Pretrained', checkpoint=...)``, ...) or a list of them; checked when the module is built
            (its initializers' arguments, and the ``override`` names once the constructor has returned).
    """

    def __init__(self, init_cfg: InitCfg = None):
        super().__init__()
        self._is_init = False
        self.init_cfg = check_init_cfg(type(self).__name__, init_cfg)

    @property
    def is_init(self) -> bool:
        """Whether ``init_weights()`` has run (a ``Pretrained`` dict leaves it False, as mmcv)."""
        return self._is_init

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then the children's ``init_weights()``; once (a second call only warns)."""
        top = '_params_init_info' not in self.__dict__
        if top:
            _start_init_info(self)
        try:
            self._init_once()
        finally:
            if top:
                _finish_init_info(self)

    def _init_once(self) -> None:
        name = type(self).__name__
        if self._is_init:
            warn_once(f'init_weights of {name} has been called more than once; the later calls do nothing')
            return
        if self.init_cfg:
            print_log(f'initialize {name} with init_cfg {self.init_cfg}')
            initialize(self, self.init_cfg)
            _note_init(self, f'{name} init_cfg {self.init_cfg}')
            if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
                return  # the children's init would overwrite the loaded weights
        for child in self.children():
            if hasattr(child, 'init_weights'):
                child.init_weights()
                _note_init(child, f'init_weights of {type(child).__name__}')
        self._is_init = True

    def __repr__(self) -> str:
        text = super().__repr__()
        return text + f'\ninit_cfg={self.init_cfg}' if self.init_cfg else text


class ModuleList(BaseModule, nn.ModuleList):
    """``nn.ModuleList`` whose ``init_weights()`` reaches its members (several auxiliary heads)."""

    def __init__(self, modules=None, init_cfg: InitCfg = None):
        BaseModule.__init__(self, init_cfg)
        nn.ModuleList.__init__(self, modules)


# ------------------------------------------------------------ which init last changed each parameter
# mmcv's ``_params_init_info``: during a top-level ``init_weights()`` every parameter records the last
# initializer that changed it (seen here through the tensor's in-place version counter); the table is
# written to the log file when the call ends (at DEBUG level to the console when there is no log file).
def _start_init_info(top: nn.Module) -> None:
    info: Dict[nn.Parameter, list] = {
        p: [p._version, f'the value is the same before and after calling init_weights of {type(top).__name__}']
        for p in top.parameters()}
    for m in top.modules():
        m.__dict__['_params_init_info'] = info


def _note_init(module: nn.Module, what: str) -> None:
    info = module.__dict__.get('_params_init_info')
    if info is None:
        return
    for p in module.parameters():
        entry = info.get(p)
        if entry is None:
            raise ConfigError(f'{type(module).__name__}.init_weights added or replaced a parameter; '
                              'init_weights must only change parameter values')
        if entry[0] != p._version:
            entry[:] = [p._version, what]


def _finish_init_info(top: nn.Module) -> None:
    info = top.__dict__['_params_init_info']
    for m in top.modules():
        m.__dict__.pop('_params_init_info', None)
    lines = [f'{name} - {tuple(p.shape)}: {info[p][1]}' for name, p in top.named_parameters() if p in info]
    table = 'Name of parameter - Initialization information\n' + '\n'.join(lines)
    logger = logging.getLogger('mmseg_ddrnet')
    files = [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    if files:
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, table, None, None)
        for handler in files:
            handler.handle(record)
    else:
        print_log(table, level=logging.DEBUG)
