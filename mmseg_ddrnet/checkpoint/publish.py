"""Publish a checkpoint (mmseg 0.x ``tools/publish_model.py``): weights and meta only, sha256 in the file name."""
import hashlib
import os
from typing import Union

from ..utils import CheckpointError
from ..utils.io import describe_os_error, fsync_dir
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

    The result loads with ``torch.load(weights_only=True)``; ``in_file`` and a file named ``out_file`` are left
    untouched. The checkpoint is saved under a temporary name in the output folder, hashed, then renamed
    (``os.replace``): a failure leaves no partial or temporary file, and earlier outputs as they were.
    """
    in_file, out_file = os.fspath(in_file), os.fspath(out_file)
    checkpoint = load_file(in_file)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{in_file} holds a {type(checkpoint).__name__}, not a checkpoint dict')
    if 'state_dict' not in checkpoint:  # a bare state dict: publish it as the weights
        checkpoint = {'state_dict': checkpoint}
    folder = os.path.dirname(os.path.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f'.{os.path.basename(out_file)}.{os.getpid()}.publish.tmp')
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    try:
        save_checkpoint(strip_training_state(checkpoint), tmp)  # atomic itself: tmp is complete or absent
        final_file = f'{stem}-{sha256_of(tmp)[:8]}.pth'
        os.replace(tmp, final_file)
    except CheckpointError as err:  # name the output asked for, not the temporary file
        raise CheckpointError(str(err).replace(tmp, out_file)) from err
    except OSError as err:
        raise CheckpointError(f'cannot write checkpoint {out_file}: {describe_os_error(err)}') from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    fsync_dir(folder)
    return final_file
