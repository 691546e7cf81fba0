"""Issue 12 item 8, the bad-input matrix: each case is one line ``error: ...`` naming the culprit, exit status 1,
no traceback unless ``--debug`` / ``MMSEG_DDRNET_DEBUG=1``, and the files already in the work dir unchanged."""
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENGINE_TESTS = osp.join(REPO, 'tests', 'engine')
sys.path.insert(0, ENGINE_TESTS)

import toy  # noqa: E402
from mmseg_ddrnet.utils import run_cli  # noqa: E402


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(f'{name}_tool_bad', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_tool('train')


pytestmark = pytest.mark.usefixtures('fresh_logger')


@pytest.fixture
def data_root(tmp_path) -> str:
    return toy.make_toy_data(str(tmp_path / 'data'), num_train=4, num_val=2)


def _cfg(tmp_path, data_root, **overrides) -> str:
    overrides.setdefault('max_iters', 2)  # 4 samples, 2 per batch: every sample is loaded
    return toy.toy_config_file(str(tmp_path / 'cfg.py'), data_root, **overrides)


def _break(data_root: str, case: str) -> str:
    """Damage the toy data set as ``case`` says; returns the culprit's name to find in the message."""
    img, ann = osp.join(data_root, 'img', 'train'), osp.join(data_root, 'ann', 'train')
    if case == 'missing data_root':
        shutil.rmtree(data_root)
        return data_root
    if case == 'empty dataset':
        for name in os.listdir(img):
            os.remove(osp.join(img, name))
        return "no images ending with '.png'"
    if case == 'image without label':
        os.remove(osp.join(ann, '001.png'))
        return osp.join(ann, '001.png')
    if case in ('corrupt image', 'corrupt label'):
        path = osp.join(img if case == 'corrupt image' else ann, '002.png')
        with open(path, 'wb') as f:
            f.write(b'not a png at all')
        return path
    if case in ('truncated image', 'truncated label'):
        path = osp.join(img if case == 'truncated image' else ann, '002.png')
        data = open(path, 'rb').read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
        return path
    if case == 'size mismatch':
        cv2.imwrite(osp.join(ann, '003.png'), np.zeros((8, 16), np.uint8))
        return osp.join(ann, '003.png')
    if case == 'label out of range':
        label = np.zeros((16, 16), np.uint8)
        label[0, :3] = (7, 9, 255)  # 255 is the ignore index: allowed
        cv2.imwrite(osp.join(ann, '000.png'), label)
        return '[7, 9]'
    raise AssertionError(case)


def _expect_one_line_error(capsys, call, culprit, work_dir):
    before = {p: open(osp.join(work_dir, p), 'rb').read() for p in os.listdir(work_dir)}
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(call)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith('error: ')]
    assert exit_info.value.code == 1 and len(lines) == 1 and culprit in lines[0], err[-2000:]
    assert 'Traceback' not in err
    assert {p: open(osp.join(work_dir, p), 'rb').read() for p in before} == before
    return lines[0]


@pytest.fixture
def work_dir(tmp_path):
    path = tmp_path / 'work'
    path.mkdir()
    (path / 'iter_2.pth').write_bytes(b'previous checkpoint')
    return str(path)


@pytest.mark.parametrize('case', ['missing data_root', 'empty dataset', 'image without label', 'corrupt image',
                                  'corrupt label', 'truncated image', 'truncated label', 'size mismatch',
                                  'label out of range'])
def test_bad_data_is_one_line_naming_the_file(tmp_path, data_root, work_dir, capsys, case):
    cfg = _cfg(tmp_path, data_root)
    culprit = _break(data_root, case)
    _expect_one_line_error(capsys, lambda: train_tool.main([cfg, '--work-dir', work_dir, '--no-validate']),
                           culprit, work_dir)


def test_label_without_image_in_a_split_is_one_line(tmp_path, data_root, work_dir, capsys):
    split = tmp_path / 'split.txt'
    split.write_text('000\n001\n')
    os.remove(osp.join(data_root, 'img', 'train', '001.png'))  # its label map stays
    cfg = _cfg(tmp_path, data_root)
    _expect_one_line_error(capsys, lambda: train_tool.main([cfg, '--work-dir', work_dir, '--no-validate',
                                                            '--cfg-options', f'data.train.split={split}']),
                           osp.join(data_root, 'img', 'train', '001.png'), work_dir)


def test_label_without_image_is_named_in_a_warning(tmp_path, data_root, capsys):
    from mmseg_ddrnet.datasets import build_dataset
    os.remove(osp.join(data_root, 'img', 'train', '003.png'))
    cfg = toy.toy_config(data_root)
    assert len(build_dataset(cfg['data']['train'])) == 3
    out = capsys.readouterr()
    assert f'1 label map(s) without an image are not used: {osp.join(data_root, "ann", "train", "003.png")}' in \
        out.out + out.err


def test_config_errors_name_the_file_line_and_closest_type(tmp_path, data_root, work_dir, capsys):
    base = tmp_path / 'base.py'
    base.write_text('a = 1\nb = dict(x=1,\n')
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{base}']\nc = 2\n")
    bad = tmp_path / 'bad.py'
    bad.write_text('x = 1\ny = [1, 2\nz = 3\n')
    cfg = _cfg(tmp_path, data_root)
    cases = [([str(tmp_path / 'none.py')], f'config file not found: {tmp_path / "none.py"}'),
             ([str(bad)], f'syntax error in config file {bad}, line 2'),
             ([str(child)], f'syntax error in config file {base}, line 2'),
             ([cfg, '--cfg-options', 'model.type=ToySegmentr'], 'did you mean ToySegmentor'),
             ([cfg, '--cfg-options', 'optimizer.lr'], 'optimizer.lr'),
             ([cfg, '--gpu-id', '-1'], '--gpu-id -1')]
    for args, culprit in cases:
        _expect_one_line_error(capsys, lambda: train_tool.main([*args, '--work-dir', work_dir, '--no-validate']),
                               culprit, work_dir)


def test_gpu_id_beyond_the_visible_devices(tmp_path, data_root, work_dir, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    cfg = _cfg(tmp_path, data_root)
    line = _expect_one_line_error(capsys, lambda: train_tool.main([cfg, '--work-dir', work_dir, '--gpu-id', '2']),
                                  '--gpu-id 2: 2 CUDA device(s) visible (ids 0..1)', work_dir)
    assert line.startswith('error: ')


def test_cfg_options_typo_warns_with_the_closest_key(tmp_path, data_root, capsys):
    cfg = _cfg(tmp_path, data_root)
    args = train_tool.parse_args([cfg, '--cfg-options', 'data.samples_per_gpus=4', 'optimizer.momentun=0.5',
                                  'brand_new_key=1'])
    loaded = train_tool.load_config(args)
    captured = capsys.readouterr()
    err = captured.out + captured.err
    assert 'data.samples_per_gpus does not exist in the config; did you mean data.samples_per_gpu?' in err
    assert 'did you mean optimizer.momentum?' in err
    assert 'brand_new_key' not in err  # nothing close: a new key, silently
    assert loaded.data.samples_per_gpus == 4 and loaded.data.samples_per_gpu == 2


def test_skip_bad_samples_leaves_out_bad_files_naming_them_and_counting(tmp_path, data_root, capsys):
    culprit = _break(data_root, 'corrupt image')
    cfg = _cfg(tmp_path, data_root)
    assert train_tool.main([cfg, '--work-dir', str(tmp_path / 'w'), '--no-validate', '--cfg-options',
                            'data.train.skip_bad_samples=True']) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    # a broken file is found when its sample is decoded: the warning names it and counts the skipped samples
    assert f'skip_bad_samples: skipping sample {osp.basename(culprit)}: cannot decode image {culprit}' in text
    assert '(1 sample(s) skipped so far in this process)' in text
    # a broken header is found at start-up: the sample is left out of the data set, with the count
    with open(osp.join(data_root, 'ann', 'train', '001.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + b'\0' * 30)
    assert train_tool.main([cfg, '--work-dir', str(tmp_path / 'w2'), '--no-validate', '--cfg-options',
                            'data.train.skip_bad_samples=True']) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert 'skip_bad_samples: left out 1 of 4 samples' in text and 'broken PNG header' in text


def _cli(tool, *args, **env):
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', f'{tool}.py'), *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=f'{ENGINE_TESTS}:{REPO}', **env))


def test_real_command_lines_traceback_only_with_debug(tmp_path, data_root, capsys, monkeypatch):
    """Through the interpreter: exit status 1, one line; ``--debug`` adds the traceback (and, in process,
    MMSEG_DDRNET_DEBUG=1 does too)."""
    culprit = _break(data_root, 'missing data_root')
    cfg = _cfg(tmp_path, data_root)
    plain = _cli('train', cfg, '--work-dir', str(tmp_path / 'w'))
    assert plain.returncode == 1 and 'Traceback' not in plain.stderr
    assert plain.stderr.strip().splitlines()[-1].startswith('error: ') and culprit in plain.stderr
    debug = _cli('train', cfg, '--work-dir', str(tmp_path / 'w'), '--debug')
    assert debug.returncode == 1 and 'Traceback' in debug.stderr and 'DataError' in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip().splitlines()[-1]
    monkeypatch.setenv('MMSEG_DDRNET_DEBUG', '1')
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run_cli(lambda: train_tool.main([cfg, '--work-dir', str(tmp_path / 'w')]))
    assert 'Traceback' in capsys.readouterr().err
    monkeypatch.delenv('MMSEG_DDRNET_DEBUG')
    test_tool = _load_tool('test')
    work_dir = tmp_path / 'untouched'
    work_dir.mkdir()
    (work_dir / 'result.pkl').write_bytes(b'previous result')
    work_dir = str(work_dir)
    good = toy.toy_config_file(str(tmp_path / 'good.py'), toy.make_toy_data(str(tmp_path / 'data2'), 2, 2))
    _expect_one_line_error(capsys, lambda: test_tool.main([good, str(tmp_path / 'missing.pth'), '--eval', 'mIoU']),
                           'missing.pth', work_dir)
