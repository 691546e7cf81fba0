"""tools/convert_datasets/cityscapes.py on generated polygon JSONs, and its errors."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmseg_ddrnet.datasets.cityscapes_conversion import convert_cityscapes
from mmseg_ddrnet.utils import DataError

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'convert_datasets' / 'cityscapes.py'


def write_json(root, split, city, frame, objects, h=6, w=8):
    folder = root / 'gtFine' / split / city
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{city}_000000_{frame:06d}_gtFine_polygons.json'
    path.write_text(json.dumps({'imgHeight': h, 'imgWidth': w,
                                'objects': [{'label': lab, 'polygon': poly} for lab, poly in objects]}))
    return path


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def tool_main(*args):
    spec = importlib.util.spec_from_file_location('convert_cityscapes_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(a) for a in args])


def test_converts_polygons_to_train_ids_and_writes_splits(tmp_path):
    full = [[0, 0], [7, 0], [7, 5], [0, 5]]
    write_json(tmp_path, 'train', 'ulm', 1, [('road', full), ('car', [[4, 2], [7, 2], [7, 5], [4, 5]])])
    write_json(tmp_path, 'train', 'aachen', 2, [('sky', full), ('ego vehicle', [[0, 4], [7, 4], [7, 5], [0, 5]])])
    write_json(tmp_path, 'val', 'lindau', 3, [('person', full)])
    assert tool_main(tmp_path, '--nproc', 2, '-o', tmp_path / 'splits') == 0
    ulm = cv2.imread(str(tmp_path / 'gtFine/train/ulm/ulm_000000_000001_gtFine_labelTrainIds.png'), -1)
    expected = np.zeros((6, 8), np.uint8)  # road = train id 0
    expected[2:, 4:] = 13  # car
    np.testing.assert_array_equal(ulm, expected)
    aachen = cv2.imread(str(tmp_path / 'gtFine/train/aachen/aachen_000000_000002_gtFine_labelTrainIds.png'), -1)
    assert (aachen[:4] == 10).all() and (aachen[4:] == 255).all()  # sky; ego vehicle is ignored
    assert (tmp_path / 'splits/train.txt').read_text().split() == ['aachen/aachen_000000_000002',
                                                                   'ulm/ulm_000000_000001']
    assert (tmp_path / 'splits/val.txt').read_text().split() == ['lindau/lindau_000000_000003']
    assert not (tmp_path / 'splits/test.txt').exists()


def test_tool_errors(tmp_path):
    result = run_tool(tmp_path / 'missing')
    assert result.returncode == 1 and result.stderr.startswith('error: Cityscapes folder')
    assert len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(DataError, match='annotation folder .* --gt-dir'):
        tool_main(tmp_path)
    (tmp_path / 'gtFine').mkdir()
    with pytest.raises(DataError, match=r'no \*_gtFine_polygons.json found'):
        tool_main(tmp_path)


def test_corrupt_and_unknown_label_json_named(tmp_path):
    bad = write_json(tmp_path, 'train', 'ulm', 1, [('road', [[0, 0], [5, 0], [5, 5]])])
    bad.write_text('{"imgHeight": 6, "imgWid')
    with pytest.raises(DataError, match=f'corrupt polygon file {bad}'):
        convert_cityscapes(str(tmp_path))
    bad.unlink()
    unknown = write_json(tmp_path, 'train', 'ulm', 2, [('dragon', [[0, 0], [5, 0], [5, 5]])])
    with pytest.raises(DataError, match=f'{unknown} uses a label name unknown'):
        convert_cityscapes(str(tmp_path), nproc=2)
