"""Loading ImageNet-pretrained backbone weights (``pretrained=`` / ``init_cfg=dict(type='Pretrained')``)."""
import os
from urllib.parse import urlparse

import torch.nn as nn

from ...checkpoint import load_checkpoint
from ...utils import CheckpointError, print_log

PRETRAINED_HINT = (
    'download the ImageNet-pretrained DDRNet weights (the official ones: https://github.com/ydhongHIT/DDRNet, '
    'e.g. DDRNet23s_imagenet.pth) and convert them with '
    '`python tools/convert_checkpoint.py --src-format official-imagenet <downloaded.pth> <converted.pth>`, '
    'then point the backbone\'s init_cfg checkpoint (or pretrained) at the converted file')

# Keys of a whole-segmentor or DDP checkpoint, reduced to the backbone's own names.
_REVISE_KEYS = ((r'^module\.', ''), (r'^backbone\.', ''))


def load_pretrained(backbone: nn.Module, checkpoint: str) -> None:
    """Load ``checkpoint`` (a file path or an http(s) URL) into ``backbone`` (non-strict).

    Raises :class:`CheckpointError` when the file is missing, with instructions to get the weights.
    """
    path = _download(checkpoint) if _is_url(checkpoint) else os.path.expanduser(str(checkpoint))
    if not os.path.isfile(path):
        raise CheckpointError(f'pretrained backbone checkpoint not found: {path}; {PRETRAINED_HINT}')
    print_log(f'load pretrained backbone weights from {path}')
    load_checkpoint(backbone, path, map_location='cpu', strict=False, revise_keys=_REVISE_KEYS)


def _is_url(name: str) -> bool:
    return urlparse(str(name)).scheme in ('http', 'https')


def _download(url: str) -> str:
    """The cached local copy of ``url`` in torch hub's checkpoint folder, downloaded once."""
    import torch.hub

    folder = os.path.join(torch.hub.get_dir(), 'checkpoints')
    path = os.path.join(folder, os.path.basename(urlparse(url).path))
    if not os.path.isfile(path):
        os.makedirs(folder, exist_ok=True)
        print_log(f'downloading {url} to {path}')
        try:
            torch.hub.download_url_to_file(url, path, progress=True)
        except OSError as err:
            raise CheckpointError(f'cannot download the pretrained backbone {url}: {err}; {PRETRAINED_HINT}') from err
    return path
