"""Loading pretrained weights into a module (``init_cfg=dict(type='Pretrained', ...)``, a backbone's ``pretrained``).

The checkpoint goes through the safe loader (``torch.load(weights_only=True)``) and is loaded non-strictly,
as mmcv's ``PretrainedInit``. A module may declare ``pretrained_revise_keys`` (regex substitutions applied to
the keys when no ``prefix`` is given; default: drop a DDP ``module.`` prefix), ``pretrained_hint`` (how to
get the weights, shown when the file is missing) and ``convert_pretrained(state_dict)`` (turns a foreign key
layout into its own; applied first, e.g. official DDRNet checkpoints for ``DualResNet``).
"""
import os
import re
from typing import Optional
from urllib.parse import urlparse

import torch.nn as nn

from ...checkpoint import extract_state_dict, load_file, load_state_dict, revise_state_dict_keys
from ...utils import CheckpointError, print_log

_DEFAULT_REVISE_KEYS = ((r'^module\.', ''),)


def load_pretrained(module: nn.Module, checkpoint: str, prefix: Optional[str] = None,
                    map_location: Optional[str] = None) -> None:
    """Load ``checkpoint`` (a file path or an http(s) URL) into ``module`` (non-strict).

    With ``prefix`` (``'backbone.'``) only the entries under it are loaded, the prefix removed; none there is a
    :class:`CheckpointError`, as is a missing file (with the module's ``pretrained_hint``).
    """
    path = _download(checkpoint, module) if _is_url(checkpoint) else os.path.expanduser(str(checkpoint))
    if not os.path.isfile(path):
        hint = getattr(module, 'pretrained_hint', None)
        raise CheckpointError(f'pretrained checkpoint of {type(module).__name__} not found: {path}'
                              + (f'; {hint}' if hint else ''))
    state_dict = extract_state_dict(load_file(path, map_location or 'cpu'), path)
    state_dict = revise_state_dict_keys(state_dict, _DEFAULT_REVISE_KEYS)
    convert = getattr(module, 'convert_pretrained', None)
    if convert is not None:
        try:
            state_dict = convert(state_dict)
        except CheckpointError as err:
            raise CheckpointError(f'{path}: {err}') from err
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state_dict = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
        if not state_dict:
            raise CheckpointError(f'init_cfg Pretrained: no entry of {path} starts with prefix {prefix!r}')
        print_log(f'load {prefix} in {type(module).__name__} from {path}')
    else:
        revise = getattr(module, 'pretrained_revise_keys', ())
        state_dict = revise_state_dict_keys(state_dict, revise)
        print_log(f'load pretrained {type(module).__name__} weights from {path}')
    try:
        load_state_dict(module, state_dict, strict=False)
    except CheckpointError as err:
        raise CheckpointError(f'{path}: {err}') from err


def _is_url(name: str) -> bool:
    return urlparse(str(name)).scheme in ('http', 'https')


def _download(url: str, module: nn.Module) -> str:
    """The cached local copy of ``url`` in torch hub's checkpoint folder, downloaded once."""
    import torch.hub

    folder = os.path.join(torch.hub.get_dir(), 'checkpoints')
    path = os.path.join(folder, re.sub(r'[^\w.-]', '_', os.path.basename(urlparse(url).path)) or 'checkpoint.pth')
    if not os.path.isfile(path):
        os.makedirs(folder, exist_ok=True)
        print_log(f'downloading {url} to {path}')
        try:
            torch.hub.download_url_to_file(url, path, progress=True)
        except OSError as err:
            hint = getattr(module, 'pretrained_hint', None)
            raise CheckpointError(f'cannot download the pretrained weights {url}: {err}'
                                  + (f'; {hint}' if hint else '')) from err
    return path
