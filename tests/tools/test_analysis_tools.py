"""tools/confusion_matrix.py, tools/browse_dataset.py and tools/publish_model.py on a tiny CamVid-layout dataset."""
import errno
import hashlib
import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tiny_seg import HW, REPO  # noqa: E402

from mmseg_ddrnet.apis.analysis import dataset_confusion_matrix, normalize_rows  # noqa: E402
from mmseg_ddrnet.config import Config  # noqa: E402
from mmseg_ddrnet.metrics import CAMVID_PALETTE  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.utils import CheckpointError, ConfigError, DataError  # noqa: E402


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f'mmseg_ddrnet_tools_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


confusion_tool, browse_tool, publish_tool, test_tool = (_load(n) for n in ('confusion_matrix', 'browse_dataset',
                                                                          'publish_model', 'test'))


@pytest.fixture(scope='module')
def dataset(tiny):
    return build_dataset(Config.fromfile(tiny[1]).data.test)


# ------------------------------------------------------------------------------------------ confusion matrix
def test_confusion_matrix_of_label_maps_counts_by_hand(dataset):
    preds = [dataset.get_gt_seg_map_by_idx(i).astype(np.int64) for i in range(len(dataset))]
    preds[0] = np.where(preds[0] == 8, 2, preds[0])  # image 0: class 8 predicted as 2
    matrix = dataset_confusion_matrix(dataset, preds)
    h, w = HW
    band = h * (w // 4)
    assert matrix[8, 2] == band and matrix[8, 8] == 2 * band  # rows: ground truth
    assert matrix.sum() == 3 * 3 * band  # the void band (label 11 -> 255) is not counted
    percent = normalize_rows(matrix)
    assert percent[8, 2] == pytest.approx(100 / 3) and np.isnan(percent[10]).all()


def test_confusion_matrix_tool_takes_maps_and_matrices(tiny, dataset):
    pytest.importorskip('matplotlib')
    tmp, config, checkpoint = tiny
    test_tool.main([config, checkpoint, '--out', str(tmp / 'maps.pkl')])
    test_tool.main([config, checkpoint, '--eval', 'mIoU', '--out', str(tmp / 'matrices.pkl'),
                    '--work-dir', str(tmp / 'work')])
    maps = pickle.loads((tmp / 'maps.pkl').read_bytes())
    matrices = pickle.loads((tmp / 'matrices.pkl').read_bytes())
    assert maps[0].shape == HW and matrices[0].shape == (11, 11)
    np.testing.assert_array_equal(dataset_confusion_matrix(dataset, maps), dataset_confusion_matrix(dataset, matrices))
    for name in ('maps', 'matrices'):
        confusion_tool.main([config, str(tmp / f'{name}.pkl'), str(tmp / f'cm_{name}'), '--color-theme', 'plasma',
                             '--title', 'tiny'])
        image = cv2.imread(str(tmp / f'cm_{name}' / 'confusion_matrix.png'))
        assert image is not None and min(image.shape[:2]) > 300


def test_confusion_matrix_rejects_formatted_results(tiny, dataset):
    with pytest.raises(DataError, match='label maps or confusion matrices'):
        dataset_confusion_matrix(dataset, ['a.png', 'b.png', 'c.png'])
    with pytest.raises(DataError, match='3 images'):
        dataset_confusion_matrix(dataset, [np.zeros(HW, np.int64)])


def test_confusion_matrix_without_matplotlib_is_one_line(tiny):
    tmp, config, checkpoint = tiny
    test_tool.main([config, checkpoint, '--out', str(tmp / 'maps2.pkl')])
    code = (f"import sys, runpy; sys.modules['matplotlib'] = None; "
            f"sys.argv = ['cm', {config!r}, {str(tmp / 'maps2.pkl')!r}, {str(tmp / 'cm_none')!r}]; "
            f"runpy.run_path({str(REPO / 'tools' / 'confusion_matrix.py')!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith('error: ') and 'pip install matplotlib' in line


# ------------------------------------------------------------------------------------------ browse_dataset
def test_browse_dataset_paints_the_training_samples(tiny):
    tmp, config, _ = tiny
    out = tmp / 'browse'
    np.random.seed(0)
    browse_tool.main([config, '--output-dir', str(out), '--not-show', '--opacity', '1'])
    files = sorted(out.glob('*.png'))
    assert [f.name for f in files] == ['000000_img_0.png', '000001_img_1.png', '000002_img_2.png']
    painted = cv2.imread(str(files[0]))
    assert painted.shape[:2] == HW  # after Resize + RandomCrop + Pad
    colours = {tuple(int(v) for v in c[::-1]) for c in CAMVID_PALETTE}  # BGR
    pixels = {tuple(int(v) for v in p) for p in painted.reshape(-1, 3)}
    # opacity 1: labelled pixels are palette colours (classes 0, 3, 8 of image 0), the rest the denormalised image
    assert {tuple(CAMVID_PALETTE[c][::-1]) for c in (0, 3, 8)} <= pixels
    original = cv2.imread(str(tmp / 'camvid' / 'train' / 'img_0.png'))
    unpainted = np.array([p for p in painted.reshape(-1, 3) if tuple(int(v) for v in p) not in colours])
    assert len(unpainted) > 0
    assert set(map(tuple, unpainted.tolist())) & set(map(tuple, original.reshape(-1, 3).tolist()))


def test_browse_dataset_needs_an_output(tiny):
    with pytest.raises(ConfigError, match='nothing to do'):
        browse_tool.parse_args([tiny[1], '--show', '--not-show'])


# ------------------------------------------------------------------------------------------ publish_model
def _resume_checkpoint(path: Path, weights: Path) -> Path:
    state = torch.load(weights, weights_only=True)
    state['optimizer'] = {'state': {}, 'param_groups': [{'lr': 0.01, 'params': [0]}]}
    state['amp'] = {'scale': 1024.0}
    state['rng'] = [{'torch': torch.get_rng_state()}]
    torch.save(state, path)
    return path


def test_publish_model_strips_training_state_and_names_the_hash(tiny, tmp_path):
    _, _, checkpoint = tiny
    src = _resume_checkpoint(tmp_path / 'latest.pth', Path(checkpoint))
    before = src.read_bytes()
    publish_tool.main([str(src), str(tmp_path / 'out' / 'ddrnet_camvid.pth')])
    (published,) = (tmp_path / 'out').glob('ddrnet_camvid-*.pth')
    sha = hashlib.sha256(published.read_bytes()).hexdigest()
    assert published.name == f'ddrnet_camvid-{sha[:8]}.pth'
    state = torch.load(published, weights_only=True)
    assert set(state) == {'meta', 'state_dict'}
    assert 'hook_msgs' not in state['meta'] and state['meta']['CLASSES'][0] == 'Sky' and state['meta']['iter'] == 10
    original = torch.load(src, weights_only=True)
    assert all(torch.equal(state['state_dict'][k], v) for k, v in original['state_dict'].items())
    assert src.read_bytes() == before


def test_publish_model_errors(tiny, tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        publish_tool.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'x.pth')])
    with pytest.raises(ConfigError, match='differ'):
        publish_tool.main([tiny[2], tiny[2]])


def test_publish_model_failing_mid_write_keeps_earlier_files_and_leaves_no_temp(tiny, tmp_path, monkeypatch,
                                                                                 capsys):
    from mmseg_ddrnet.checkpoint import io as ckpt_io
    from mmseg_ddrnet.utils import run_cli
    _, _, checkpoint = tiny
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'ddrnet.pth').write_bytes(b'a file of the user named like the output')  # never touched
    publish_tool.main([checkpoint, str(out / 'ddrnet.pth')])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before) == 2

    def disk_full(obj, f, *args, **kwargs):  # half a checkpoint reaches the disk, then it is full
        f.write(b'\0' * 4096)
        raise OSError(errno.ENOSPC, 'No space left on device')
    src = _resume_checkpoint(tmp_path / 'latest.pth', Path(checkpoint))  # another content: another name
    monkeypatch.setattr(ckpt_io.torch, 'save', disk_full)
    monkeypatch.setattr(sys, 'argv', ['publish_model.py', str(src), str(out / 'ddrnet.pth')])
    with pytest.raises(SystemExit) as info:
        run_cli(publish_tool.main)
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f'error: cannot write checkpoint {out / "ddrnet.pth"}: [Errno 28] No space left on device (ENOSPC)'
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no partial or temporary file
