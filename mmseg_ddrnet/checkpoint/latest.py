"""Finding the checkpoint to resume from, skipping files that are truncated or empty."""
import glob
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

from ..utils import print_log

LATEST = 'latest.pth'


def incomplete_reason(path: str) -> Optional[str]:
    """Why ``path`` cannot be a complete checkpoint (empty, truncated, not a ``torch.save`` archive), else None.

    Cheap: reads the zip directory at the end of the file, not the tensors.
    """
    try:
        size = os.path.getsize(path)
        if size == 0:
            return 'it is empty (0 bytes)'
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as err:
        return f'it is truncated or not a checkpoint ({err})'
    if not any(name.endswith('data.pkl') for name in names):
        return 'it is not a torch.save archive (no data.pkl)'
    return None


def _numbered(path: str, suffix: str) -> List[str]:
    """``iter_N`` / ``epoch_N`` checkpoints in ``path``, the largest N first."""
    found = []
    for ckpt in glob.glob(osp.join(path, f'*.{suffix}')):
        match = re.fullmatch(rf'(?:iter|epoch)_(\d+)\.{suffix}', osp.basename(ckpt))
        if match:
            found.append((int(match.group(1)), ckpt))
    return [ckpt for _, ckpt in sorted(found, reverse=True)]


def find_latest_checkpoint(path: str, suffix: str = 'pth', logger: Optional[logging.Logger] = None) -> Optional[str]:
    """``latest.pth`` in ``path``, else the ``iter_N`` / ``epoch_N`` checkpoint with the largest N, else None.

    A truncated or empty file (left by another tool or a full disk) is skipped with a warning naming it and the
    checkpoint used instead.
    """
    candidates = [osp.join(path, f'latest.{suffix}')] + _numbered(path, suffix)
    skipped = []
    for ckpt in candidates:
        if not osp.isfile(ckpt):
            continue
        reason = incomplete_reason(ckpt)
        if reason is None:
            if skipped:
                print_log(f'auto_resume: skipped {"; ".join(skipped)}; using {ckpt} instead', logger,
                          logging.WARNING)
            return ckpt
        skipped.append(f'{ckpt} ({reason})')
    if skipped:
        print_log(f'auto_resume: no complete checkpoint in {path}: skipped {"; ".join(skipped)}', logger,
                  logging.WARNING)
    return None
