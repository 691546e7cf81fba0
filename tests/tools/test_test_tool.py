"""tools/test.py end to end on a tiny generated Cityscapes-layout dataset and a randomly initialised DDRNet-23-slim."""
import importlib.util
import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmseg_ddrnet.utils import CheckpointError, ConfigError
from tiny_seg import TEST_PIPELINE

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'test.py'
DEMO_CONFIG = REPO / 'configs' / 'ddrnet' / 'ddrnet_23_slim_demo_cityscapes.py'
SIZE = (48, 96)  # h, w of the generated images
NAMES = [f'frankfurt_000000_{i:06d}' for i in range(3)]

CONFIG = """
_base_ = {base!r}
data_root = {root!r}
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
""" + TEST_PIPELINE + """
data = dict(workers_per_gpu=0, test=dict(data_root=data_root, img_dir='leftImg8bit/val', ann_dir='gtFine/val',
                                         pipeline=test_pipeline))
"""


def _load_tool():
    spec = importlib.util.spec_from_file_location('mmseg_ddrnet_tools_test', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _write_dataset(root: Path) -> None:
    """Three images with 4 vertical bands of train ids (one ignored band) and their labelIds twins."""
    from cityscapesscripts.helpers.labels import trainId2label
    rng = np.random.RandomState(0)
    h, w = SIZE
    for k, name in enumerate(NAMES):
        img_dir, ann_dir = root / 'leftImg8bit/val/frankfurt', root / 'gtFine/val/frankfurt'
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(img_dir / f'{name}_leftImg8bit.png'), rng.randint(0, 256, (h, w, 3)).astype(np.uint8))
        train_ids = np.zeros((h, w), np.uint8)
        for band, train_id in enumerate([0, 1 + k, 8, 255]):
            train_ids[:, band * w // 4:(band + 1) * w // 4] = train_id
        cv2.imwrite(str(ann_dir / f'{name}_gtFine_labelTrainIds.png'), train_ids)
        label_ids = np.vectorize(lambda t: trainId2label[t].id if t != 255 else 0)(train_ids).astype(np.uint8)
        cv2.imwrite(str(ann_dir / f'{name}_gtFine_labelIds.png'), label_ids)


def _save_checkpoint(cfg, path: Path, num_classes: int = 19) -> None:
    from mmseg_ddrnet.datasets import CityscapesDataset
    from mmseg_ddrnet.checkpoint import save_checkpoint
    from mmseg_ddrnet.models import build_segmentor
    torch.manual_seed(0)
    model_cfg = cfg.model.copy()
    model_cfg.decode_head.num_classes = num_classes
    model = build_segmentor(model_cfg)
    meta = dict(CLASSES=list(CityscapesDataset.CLASSES), PALETTE=[list(c) for c in CityscapesDataset.PALETTE])
    save_checkpoint(dict(meta=meta, state_dict=model.state_dict()), path)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread: stable speed on a shared 2-core CI machine (tiny inputs gain nothing from more)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def setup(tmp_path_factory, one_thread):
    from mmseg_ddrnet.config import Config
    tmp = tmp_path_factory.mktemp('test_tool')
    _write_dataset(tmp / 'cs')
    config = tmp / 'tiny_cityscapes.py'
    config.write_text(CONFIG.format(base=str(DEMO_CONFIG), root=str(tmp / 'cs'), h=SIZE[0], w=SIZE[1]))
    cfg = Config.fromfile(str(config))
    _save_checkpoint(cfg, tmp / 'model.pth')
    return tmp, str(config), str(tmp / 'model.pth')


@pytest.fixture(scope='module')
def maps(setup):
    """The label maps of a run with --out only."""
    tmp, config, checkpoint = setup
    tool.main([config, checkpoint, '--out', str(tmp / 'maps.pkl')])
    with open(tmp / 'maps.pkl', 'rb') as f:
        return pickle.load(f)


@pytest.fixture(scope='module')
def eval_run(setup):
    """One run with --eval mIoU, --show-dir and --out (which then holds one confusion matrix per image)."""
    tmp, config, checkpoint = setup
    work_dir = tmp / 'work'
    tool.main([config, checkpoint, '--eval', 'mIoU', '--work-dir', str(work_dir), '--show-dir', str(tmp / 'vis'),
               '--out', str(tmp / 'eval.pkl'), '--gpu-id', '0'])
    with open(tmp / 'eval.pkl', 'rb') as f:
        matrices = pickle.load(f)
    (json_file,) = work_dir.glob('eval_*.json')
    return tmp, matrices, json.loads(json_file.read_text())


def _gt(tmp: Path, name: str) -> np.ndarray:
    return cv2.imread(str(tmp / 'cs/gtFine/val/frankfurt' / f'{name}_gtFine_labelTrainIds.png'), -1)


def test_out_holds_label_maps_of_the_original_size(maps):
    assert len(maps) == len(NAMES)
    for seg in maps:
        assert isinstance(seg, np.ndarray) and seg.shape == SIZE
        assert seg.min() >= 0 and seg.max() < 19


def test_cpu_testing_keeps_freed_memory_for_reuse(setup, monkeypatch):
    """Also without --fuse-conv-bn / --precision: each image then faults no new pages (labels unchanged)."""
    tmp, config, checkpoint = setup
    calls = []
    monkeypatch.setattr(tool, 'retain_freed_memory', lambda: calls.append(1) or True)
    from mmseg_ddrnet.config import Config
    tool.build_model(Config.fromfile(config), checkpoint, None, torch.device('cpu'))
    assert calls == [1]


@pytest.mark.parametrize('precision, min_agree', [('fp32', 0.999), ('bf16', 0.9)])
def test_fuse_conv_bn_and_precision_test_the_deploy_model(setup, maps, precision, min_agree):
    tmp, config, checkpoint = setup
    out = tmp / f'maps_{precision}.pkl'
    tool.main([config, checkpoint, '--out', str(out), '--fuse-conv-bn', '--precision', precision])
    with open(out, 'rb') as f:
        deployed = pickle.load(f)
    assert [m.shape for m in deployed] == [m.shape for m in maps]
    agree = np.mean([(a == b).mean() for a, b in zip(deployed, maps)])
    assert agree >= min_agree, f'{precision} deploy model agrees with the fp32 model on {agree:.4f} of the pixels'


def test_eval_miou_matches_a_direct_computation(eval_run, maps):
    tmp, matrices, metrics = eval_run
    hist = np.zeros((19, 19), np.int64)
    for seg, name in zip(maps, NAMES):
        gt = _gt(tmp, name).astype(np.int64)
        valid = gt != 255
        np.add.at(hist, (gt[valid], seg[valid]), 1)
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.diag(hist) / (hist.sum(0) + hist.sum(1) - np.diag(hist))
    assert len(matrices) == len(NAMES)  # --out with --eval: one confusion matrix per image (mmseg 0.x)
    np.testing.assert_array_equal(sum(matrices), hist)
    metric = metrics['metric']
    assert metrics['config'].endswith('tiny_cityscapes.py')
    assert metric['aAcc'] == pytest.approx(np.diag(hist).sum() / hist.sum(), abs=1e-4)
    assert metric['mIoU'] == pytest.approx(np.nanmean(iou), abs=1e-4)
    assert metric['IoU.road'] == pytest.approx(iou[0], abs=1e-4)


def test_show_dir_writes_overlays_of_the_original_size(eval_run, maps):
    """Each overlay is mmseg 0.x's blend: image x (1 - 0.5) + palette colour (BGR) of the prediction x 0.5."""
    from mmseg_ddrnet.datasets import CityscapesDataset
    tmp = eval_run[0]
    palette_bgr = np.array([c[::-1] for c in CityscapesDataset.PALETTE], np.float64)
    for name, seg in zip(NAMES, maps):
        painted = cv2.imread(str(tmp / 'vis/frankfurt' / f'{name}_leftImg8bit.png'))
        assert painted is not None and painted.shape == (*SIZE, 3)
        image = cv2.imread(str(tmp / 'cs/leftImg8bit/val/frankfurt' / f'{name}_leftImg8bit.png'))
        expected = image * 0.5 + palette_bgr[seg] * 0.5
        assert np.abs(painted - expected).max() <= 1  # uint8 truncation
        assert len(np.unique(seg)) > 1  # the overlay follows a prediction with several classes


def test_format_only_writes_cityscapes_label_ids(setup, maps):
    from cityscapesscripts.helpers.labels import trainId2label
    tmp, config, checkpoint = setup
    prefix = tmp / 'formatted'
    tool.main([config, checkpoint, '--format-only', '--eval-options', f'imgfile_prefix={prefix}'])
    for seg, name in zip(maps, NAMES):
        (png,) = prefix.glob(f'{name}_*.png')  # the server matches <city>_<seq>_<frame>
        written = cv2.imread(str(png), -1)
        expected = np.vectorize(lambda t: trainId2label[t].id)(seg)
        np.testing.assert_array_equal(written, expected)


def test_aug_test_sets_six_scales_with_flip_and_runs(setup):
    tmp, config, checkpoint = setup
    cfg = tool.load_config(tool.parse_args([config, checkpoint, '--aug-test', '--eval', 'mIoU']))
    aug = cfg.data.test.pipeline[1]
    assert aug.img_ratios == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75] and aug.flip is True
    tool.main([config, checkpoint, '--aug-test', '--out', str(tmp / 'aug.pkl')])
    with open(tmp / 'aug.pkl', 'rb') as f:
        results = pickle.load(f)
    assert [seg.shape for seg in results] == [SIZE] * len(NAMES)


def test_checkpoint_of_another_num_classes_names_file_and_keys(setup):
    tmp, config, _ = setup
    from mmseg_ddrnet.config import Config
    bad = tmp / 'five_classes.pth'
    _save_checkpoint(Config.fromfile(config), bad, num_classes=5)
    with pytest.raises(CheckpointError, match=r'five_classes\.pth.*conv_seg'):
        tool.main([config, str(bad), '--eval', 'mIoU'])


def test_missing_checkpoint_is_a_one_line_error(setup):
    tmp, config, _ = setup
    proc = subprocess.run([sys.executable, str(TOOL), config, str(tmp / 'nope.pth'), '--eval', 'mIoU'],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
    assert 'nope.pth' in proc.stderr and 'Traceback' not in proc.stderr


@pytest.mark.parametrize('argv, match', [
    ([], 'nothing to do'),
    (['--out', 'res.txt'], r'\.pkl'),
    (['--eval', 'mIoU', '--format-only'], 'cannot both'),
    (['--eval', 'bogus'], 'bogus'),
    (['--eval', 'cityscapes', 'mIoU'], 'cityscapes'),
    (['--show-dir', 'x', '--opacity', '1.5'], 'opacity'),
])
def test_bad_options_are_user_errors(argv, match):
    with pytest.raises(ConfigError, match=match):
        tool.parse_args(['config.py', 'model.pth', *argv])


def test_deprecated_options_become_cfg_options():
    args = tool.parse_args(['config.py', 'model.pth', '--eval', 'mIoU', '--options', 'a.b=1'])
    assert args.cfg_options == {'a.b': 1}
    with pytest.raises(ConfigError, match='--options and --cfg-options'):
        tool.parse_args(['c.py', 'm.pth', '--eval', 'mIoU', '--options', 'a=1', '--cfg-options', 'b=2'])


def test_test_dist_sh_on_two_processes_matches_one_process(setup, eval_run, tmp_path):
    """torchrun with 2 CPU processes (gloo): 3 images, one repeated by the sampler, same metrics as one process."""
    _, config, checkpoint = setup
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(_free_port()))
    proc = subprocess.run(['bash', str(REPO / 'test_dist.sh'), config, checkpoint, '2', '--eval', 'mIoU',
                           '--work-dir', str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (json_file,) = tmp_path.glob('eval_*.json')
    assert json.loads(json_file.read_text())['metric'] == pytest.approx(eval_run[2]['metric'], nan_ok=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_unknown_option_and_missing_config_are_user_errors(tmp_path):
    with pytest.raises(ConfigError, match='--launcher'):
        tool.parse_args(['c.py', 'm.pth', '--eval', 'mIoU', '--launcher', 'lsf'])
    with pytest.raises(ConfigError, match='config file not found'):
        tool.main([str(tmp_path / 'missing.py'), 'm.pth', '--eval', 'mIoU'])
