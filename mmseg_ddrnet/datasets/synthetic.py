"""A small synthetic dataset in the real Cityscapes layout, learnable by a tiny model in minutes.

Each image is a random street-like scene (sky, buildings, vegetation, road, sidewalks, poles, signs,
cars, people) written as the official polygon JSON with Cityscapes label names. Every class is painted
with its own colour and stripe texture plus noise, so colour and texture predict the class while shapes,
sizes and positions vary. ``tools/convert_datasets/cityscapes.py`` then makes the train-id label maps.
"""
import json
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from ..utils import DataError

Polygon = List[List[int]]
DEMO_MARKER = '.synthetic_cityscapes'  # in the root of every generated dataset: it may be replaced

# label name → (BGR base colour, stripe angle in degrees, stripe period in pixels)
_LOOK: Dict[str, Tuple[Tuple[int, int, int], float, float]] = {
    'sky': ((200, 150, 90), 0, 40), 'building': ((70, 70, 120), 90, 8), 'vegetation': ((40, 140, 60), 45, 5),
    'road': ((110, 100, 110), 0, 60), 'sidewalk': ((190, 160, 200), 135, 10), 'pole': ((30, 200, 200), 90, 3),
    'traffic sign': ((0, 220, 240), 0, 4), 'car': ((150, 30, 30), 30, 12), 'person': ((60, 30, 210), 60, 6),
}
_UNLABELLED_BGR = (20, 20, 20)


def _box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return [[int(x0), int(y0)], [int(x1), int(y0)], [int(x1), int(y1)], [int(x0), int(y1)]]


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float) -> Polygon:
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = r * rng.uniform(0.6, 1.0, 9)
    return [[int(cx + a * np.cos(t)), int(cy + a * np.sin(t))] for t, a in zip(angles, radii)]


def _scene(rng: np.random.Generator, h: int, w: int) -> List[Tuple[str, Polygon]]:
    """Objects (label, polygon) in drawing order: later ones cover earlier ones."""
    horizon = int(h * rng.uniform(0.25, 0.45))
    ground = int(h * rng.uniform(0.55, 0.7))
    objects = [('sky', _box(0, 0, w - 1, horizon + 5))]
    x = 0
    while x < w:
        bw = int(w * rng.uniform(0.1, 0.3))
        objects.append(('building', _box(x, horizon - h * rng.uniform(0.05, 0.25), x + bw, ground)))
        x += bw + int(w * rng.uniform(0, 0.08))
    for _ in range(rng.integers(1, 4)):
        objects.append(('vegetation', _blob(rng, rng.uniform(0, w), rng.uniform(horizon, ground), h * 0.15)))
    objects.append(('sidewalk', _box(0, ground, w - 1, h - 1)))
    left, right = w * rng.uniform(0.05, 0.3), w * rng.uniform(0.7, 0.95)
    objects.append(('road', [[int(w * 0.45), ground], [int(w * 0.55), ground], [int(right), h - 1],
                             [int(left), h - 1]]))
    for _ in range(rng.integers(1, 3)):
        px = rng.uniform(0.05, 0.95) * w
        top = ground - h * rng.uniform(0.25, 0.4)
        objects.append(('pole', _box(px, top, px + max(2, w * 0.012), ground + h * 0.05)))
        objects.append(('traffic sign', _box(px - w * 0.02, top, px + w * 0.03, top + h * 0.06)))
    for _ in range(rng.integers(1, 4)):
        cw, cy = w * rng.uniform(0.1, 0.2), rng.uniform(ground, h * 0.9)
        cx = rng.uniform(0, w - cw)
        objects.append(('car', _box(cx, cy - cw * 0.45, cx + cw, cy)))
    for _ in range(rng.integers(0, 3)):
        ph, px = h * rng.uniform(0.12, 0.22), rng.uniform(0, w * 0.95)
        py = rng.uniform(ground, h - 1)
        objects.append(('person', _box(px, py - ph, px + ph * 0.3, py)))
    return objects


def _clip(objects: List[Tuple[str, Polygon]], h: int, w: int) -> List[Tuple[str, Polygon]]:
    return [(label, [[min(max(x, 0), w - 1), min(max(y, 0), h - 1)] for x, y in poly]) for label, poly in objects]


def _paint(label_ids: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A BGR uint8 image: per class colour + oriented stripes, then per-image brightness and noise."""
    from cityscapesscripts.helpers.labels import name2label
    h, w = label_ids.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = _UNLABELLED_BGR
    for name, (bgr, angle, period) in _LOOK.items():
        mask = label_ids == name2label[name].id
        if not mask.any():
            continue
        theta = np.deg2rad(angle)
        stripes = 25 * np.sin(2 * np.pi * (xs[mask] * np.cos(theta) + ys[mask] * np.sin(theta)) / period)
        img[mask] = np.asarray(bgr, np.float32) + stripes[:, None]
    img += rng.uniform(-20, 20) + rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_sample(root: str, split: str, city: str, index: int, size: Tuple[int, int],
                  rng: np.random.Generator, noise: float) -> None:
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2labelImg import createLabelImage
    h, w = size
    stem = f'{city}_000000_{index:06d}'
    img_dir, gt_dir = (osp.join(root, top, split, city) for top in ('leftImg8bit', 'gtFine'))
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    objects = _clip(_scene(rng, h, w), h, w)
    json_file = osp.join(gt_dir, f'{stem}_gtFine_polygons.json')
    with open(json_file, 'w') as f:
        json.dump({'imgHeight': h, 'imgWidth': w,
                   'objects': [{'label': label, 'polygon': poly} for label, poly in objects]}, f)
    annotation = Annotation()
    annotation.fromJsonFile(json_file)
    label_ids = np.asarray(createLabelImage(annotation, 'ids'))
    cv2.imwrite(osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'), label_ids)
    cv2.imwrite(osp.join(img_dir, f'{stem}_leftImg8bit.png'), _paint(label_ids, rng, noise))


def make_synthetic_cityscapes(root: str, num_train: int = 8, num_val: int = 4, size: Tuple[int, int] = (256, 512),
                              seed: int = 0, cities: Sequence[str] = ('aachen', 'bremen'), noise: float = 12.0) -> str:
    """Write a synthetic Cityscapes-layout dataset under ``root`` and return ``root``.

    Writes ``leftImg8bit/{train,val}/<city>/<city>_000000_0000NN_leftImg8bit.png``, and next to each
    in ``gtFine/`` the ``_gtFine_polygons.json`` (official format, Cityscapes label names) and the
    ``_gtFine_labelIds.png`` of the download. Samples are spread over ``cities`` in turn.
    Deterministic for a ``seed``; ``size`` is ``(height, width)``; ``noise`` is the standard deviation
    of the pixel noise (it also sets how well the PNGs compress).

    The dataset is written into a temporary folder beside ``root`` that then takes its place, so ``root`` holds
    exactly this dataset (none of the files of an earlier or interrupted run) or, after a failure, what it held
    before. An existing ``root`` must be empty or an earlier dataset of this function (``DataError`` otherwise).
    """
    if not cities:
        raise ValueError('make_synthetic_cityscapes: cities must not be empty')
    root = osp.normpath(root)
    _check_replaceable(root)
    parent, name = osp.split(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    _remove_leftovers(parent, name)
    tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=parent)
    try:
        for split_id, (split, count) in enumerate((('train', num_train), ('val', num_val))):
            for i in range(count):
                rng = np.random.default_rng([seed, split_id, i])
                _write_sample(tmp, split, cities[i % len(cities)], i, size, rng, noise)
        with open(osp.join(tmp, DEMO_MARKER), 'w') as f:
            f.write('written by mmseg_ddrnet.datasets.make_synthetic_cityscapes; regenerating replaces this folder\n')
        _put_in_place(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _check_replaceable(root: str) -> None:
    if not osp.exists(root):
        return
    if not osp.isdir(root):
        raise DataError(f'{root} exists and is not a folder: choose another place for the demo dataset')
    if os.listdir(root) and not osp.isfile(osp.join(root, DEMO_MARKER)) and not _is_unmarked_demo(root):
        raise DataError(f'{root} is not empty and has no {DEMO_MARKER} (the mark of a generated demo dataset): '
                        'delete it or choose another folder; nothing was changed')


# The names this function gives its files (and the converter adds): <city>_000000_<index>_<kind>.
_DEMO_FILE = re.compile(r'[a-z]+_000000_\d{6}_(leftImg8bit\.png|gtFine_(polygons\.json|labelIds\.png|labelTrainIds\.png))$')


def _is_unmarked_demo(root: str) -> bool:
    """Whether ``root`` is a demo dataset of a version that wrote no marker: only ``leftImg8bit/``, ``gtFine/`` and
    the converter's split lists, every file named as this function names them, sample 0 among them (real
    Cityscapes images with fine labels are frame 000019 of their sequence, never 000000)."""
    top = set(os.listdir(root))
    if not {'leftImg8bit', 'gtFine'} <= top <= {'leftImg8bit', 'gtFine', 'train.txt', 'val.txt', 'test.txt'}:
        return False
    names = [name for part in ('leftImg8bit', 'gtFine') for _, _, files in os.walk(osp.join(root, part))
             for name in files]
    return (bool(names) and all(_DEMO_FILE.match(name) for name in names)
            and any('_000000_000000_' in name for name in names))


def _remove_leftovers(parent: str, name: str) -> None:
    """Delete the temporary folders of runs that were killed before they could clean up."""
    for entry in os.listdir(parent):
        if entry.startswith(f'.{name}.tmp-') or entry.startswith(f'.{name}.old-'):
            shutil.rmtree(osp.join(parent, entry), ignore_errors=True)


def _put_in_place(tmp: str, root: str) -> None:
    """Rename ``tmp`` to ``root``; an existing ``root`` is moved aside first and deleted afterwards."""
    if not osp.exists(root):
        os.rename(tmp, root)
        return
    parent, name = osp.split(osp.abspath(root))
    old = tempfile.mkdtemp(prefix=f'.{name}.old-', dir=parent)
    os.rename(root, osp.join(old, name))
    os.rename(tmp, root)
    shutil.rmtree(old, ignore_errors=True)
