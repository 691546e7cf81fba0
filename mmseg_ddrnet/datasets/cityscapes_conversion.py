"""Cityscapes polygon JSON → ``*_labelTrainIds.png`` (cityscapesscripts' ``json2labelImg``), in parallel."""
import json
import os
import os.path as osp
from multiprocessing import Pool
from typing import List, Optional, Tuple

from tqdm import tqdm

from ..utils import DataError

JSON_SUFFIX = '_gtFine_polygons.json'
TRAIN_IDS_SUFFIX = '_gtFine_labelTrainIds.png'
IMG_SUFFIX = '_leftImg8bit.png'


def _convert_one(json_file: str) -> Tuple[str, Optional[str]]:
    """Write the train-id PNG next to ``json_file``; returns ``(json_file, error message or None)``."""
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2labelImg import createLabelImage
    out_file = json_file[:-len(JSON_SUFFIX)] + TRAIN_IDS_SUFFIX
    try:
        annotation = Annotation()
        annotation.fromJsonFile(json_file)
        createLabelImage(annotation, 'trainIds').save(out_file)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
        return json_file, f'corrupt polygon file {json_file}: {type(err).__name__}: {err}'
    except SystemExit:  # cityscapesscripts exits on an unknown label name
        return json_file, f'polygon file {json_file} uses a label name unknown to cityscapesscripts'
    except OSError as err:
        return json_file, f'cannot convert {json_file}: {err}'
    return json_file, None


def find_polygon_files(gt_dir: str) -> List[str]:
    """All ``*_gtFine_polygons.json`` under ``gt_dir``, sorted."""
    found = []
    for root, _, files in os.walk(gt_dir, followlinks=True):
        found.extend(osp.join(root, f) for f in files if f.endswith(JSON_SUFFIX))
    return sorted(found)


def convert_cityscapes(cityscapes_path: str, gt_dir: str = 'gtFine', nproc: int = 1,
                       out_dir: Optional[str] = None) -> List[str]:
    """Make the train-id label maps and the ``train/val/test.txt`` split files of a Cityscapes folder.

    Args:
        cityscapes_path: the folder with ``leftImg8bit/`` and ``gtFine/``.
        gt_dir: the annotation folder, relative to ``cityscapes_path``.
        nproc: worker processes for the conversion.
        out_dir: where the split files go (default: ``cityscapes_path``).

    Returns:
        The label files written.
    """
    if not osp.isdir(cityscapes_path):
        raise DataError(f'Cityscapes folder {cityscapes_path!r} does not exist (download leftImg8bit_trainvaltest.zip '
                        'and gtFine_trainvaltest.zip from https://www.cityscapes-dataset.com and unzip them into it)')
    gt_path = osp.join(cityscapes_path, gt_dir)
    if not osp.isdir(gt_path):
        raise DataError(f'annotation folder {gt_path!r} does not exist (wrong CITYSCAPES_PATH or --gt-dir?)')
    json_files = find_polygon_files(gt_path)
    if not json_files:
        raise DataError(f'no *{JSON_SUFFIX} found under {gt_path}')
    errors = _run(json_files, max(1, nproc))
    if errors:
        more = f' (and {len(errors) - 1} more)' if len(errors) > 1 else ''
        raise DataError(errors[0] + more)
    write_split_files(cityscapes_path, gt_path, out_dir or cityscapes_path)
    return [f[:-len(JSON_SUFFIX)] + TRAIN_IDS_SUFFIX for f in json_files]


def _run(json_files: List[str], nproc: int) -> List[str]:
    progress = dict(total=len(json_files), desc='json → labelTrainIds', unit='file')
    if nproc == 1:
        results = [_convert_one(f) for f in tqdm(json_files, **progress)]
    else:
        with Pool(nproc) as pool:
            results = list(tqdm(pool.imap(_convert_one, json_files, chunksize=8), **progress))
    return [err for _, err in results if err is not None]


def write_split_files(cityscapes_path: str, gt_path: str, out_dir: str) -> None:
    """``<split>.txt`` listing ``<city>/<city>_<seq>_<frame>`` for each split folder of ``gt_path``, as mmseg 0.x."""
    os.makedirs(out_dir, exist_ok=True)
    for split in ('train', 'val', 'test'):
        split_dir = osp.join(gt_path, split)
        if not osp.isdir(split_dir):
            continue
        names = sorted(osp.relpath(f, split_dir)[:-len(JSON_SUFFIX)] for f in find_polygon_files(split_dir))
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
            f.writelines(name + '\n' for name in names)
