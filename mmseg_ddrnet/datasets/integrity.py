"""Start-up checks of a dataset's files: existence, image/label pairing and sizes from file headers."""
import os
import os.path as osp
from typing import List, Optional, Tuple

from tqdm import tqdm

from ..utils import DataError
from ..utils.image_io import image_size

_PROGRESS_FROM = 2000  # show a progress bar for datasets at least this large


def scan_images(img_dir: str, suffix: str) -> List[str]:
    """Paths relative to ``img_dir`` of the files ending with ``suffix``, searched recursively."""
    found = []
    for root, _, files in os.walk(img_dir, followlinks=True):
        rel = osp.relpath(root, img_dir)
        found.extend(f if rel == '.' else osp.join(rel, f) for f in files if f.endswith(suffix))
    return sorted(found)


def _sample_problem(img_path: str, ann_path: Optional[str]) -> Optional[str]:
    if not osp.isfile(img_path):
        return f'image {img_path} not found'
    if ann_path is not None and not osp.isfile(ann_path):
        return f'image {img_path} has no label map {ann_path}'
    try:
        img_size = image_size(img_path)
        ann_size = image_size(ann_path) if ann_path is not None else None
    except DataError as err:
        return str(err)
    if img_size and ann_size and img_size != ann_size:
        return (f'label map {ann_path} is {ann_size[1]}x{ann_size[0]} but image {img_path} is '
                f'{img_size[1]}x{img_size[0]}')
    return None


def check_samples(img_infos: List[dict], img_dir: str, ann_dir: Optional[str]) -> List[Tuple[int, str]]:
    """``(index, reason)`` of each sample whose files are missing, unreadable or of different sizes.

    Reads only file headers (PNG and JPEG), so thousands of samples take well under a second.
    """
    bad = []
    infos = tqdm(img_infos, desc='checking dataset', unit='img', disable=len(img_infos) < _PROGRESS_FROM)
    for idx, info in enumerate(infos):
        ann = info.get('ann')
        ann_path = osp.join(ann_dir, ann['seg_map']) if ann is not None and ann_dir is not None else None
        problem = _sample_problem(osp.join(img_dir, info['filename']), ann_path)
        if problem is not None:
            bad.append((idx, problem))
    return bad
