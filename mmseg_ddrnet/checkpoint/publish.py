"""Publish a checkpoint (mmseg 0.x ``tools/publish_model.py``): weights and meta only, sha256 in the file name."""
import hashlib
import os
from typing import Union

from ..utils import CheckpointError
from .io import load_file, save_checkpoint

PathLike = Union[str, os.PathLike]
TRAINING_ONLY_KEYS = ('optimizer', 'amp', 'rng')  # resume state: optimizer, AMP scaler, RNG states
TRAINING_ONLY_META = ('hook_msgs',)  # paths of the training run's own files
HASH_CHUNK = 1 << 20


def sha256_of(filename: PathLike) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(filename, 'rb') as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def strip_training_state(checkpoint: dict) -> dict:
    """``checkpoint`` without its resume state (``optimizer``, ``amp``, ``rng``, ``meta.hook_msgs``)."""
    out = {key: value for key, value in checkpoint.items() if key not in TRAINING_ONLY_KEYS}
    if isinstance(out.get('meta'), dict):
        out['meta'] = {key: value for key, value in out['meta'].items() if key not in TRAINING_ONLY_META}
    return out


def publish_checkpoint(in_file: PathLike, out_file: PathLike) -> str:
    """Write ``in_file`` without training state as ``<out_file without .pth>-<sha256[:8]>.pth``; return that path.

    The result loads with ``torch.load(weights_only=True)``; ``in_file`` is left untouched.
    """
    in_file, out_file = os.fspath(in_file), os.fspath(out_file)
    checkpoint = load_file(in_file)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{in_file} holds a {type(checkpoint).__name__}, not a checkpoint dict')
    if 'state_dict' not in checkpoint:  # a bare state dict: publish it as the weights
        checkpoint = {'state_dict': checkpoint}
    os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
    save_checkpoint(strip_training_state(checkpoint), out_file)
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    final_file = f'{stem}-{sha256_of(out_file)[:8]}.pth'
    os.replace(out_file, final_file)
    return final_file
