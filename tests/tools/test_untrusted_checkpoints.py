"""Untrusted checkpoints through every load path: code is never run, each bad file is one line naming it.

The files: a malicious pickle (its ``__reduce__`` would create a marker file), a legacy checkpoint holding a
numpy array (refused by default, loaded with ``--unsafe-load``), a truncated file, a text file and a
checkpoint of another architecture. The paths: ``tools/train.py --load-from/--resume-from/--auto-resume``,
``tools/test.py``, ``tools/convert_checkpoint.py``, ``init_segmentor``, ``load_checkpoint``, a backbone's
``pretrained=`` (``init_cfg`` Pretrained), and the converters' reader.
"""
import argparse
import importlib.util
import logging
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENGINE_TESTS = osp.join(REPO, 'tests', 'engine')
sys.path.insert(0, ENGINE_TESTS)

import toy  # noqa: E402
from mmseg_ddrnet.apis import init_segmentor  # noqa: E402
from mmseg_ddrnet.checkpoint import load_checkpoint, load_file, read_foreign_checkpoint, save_checkpoint  # noqa: E402
from mmseg_ddrnet.models.convert import convert_checkpoint  # noqa: E402
from mmseg_ddrnet.models.backbones import DDRNet  # noqa: E402
from mmseg_ddrnet.utils import CheckpointError, run_cli  # noqa: E402

TOOLS = {name: osp.join(REPO, 'tools', f'{name}.py') for name in ('train', 'test', 'convert_checkpoint')}
BAD = ('malicious', 'numpy_legacy', 'truncated', 'text', 'other_arch')


def _load(name):
    spec = importlib.util.spec_from_file_location(f'untrusted_{name}', TOOLS[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Malicious:
    """Unpickling it would run ``touch <marker>``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """The config, a good checkpoint of its model, each bad file, and the marker path."""
    tmp = tmp_path_factory.mktemp('untrusted')
    config = toy.toy_config_file(str(tmp / 'toy_cfg.py'), toy.make_toy_data(str(tmp / 'data')), max_iters=2)
    model = toy.ToySegmentor()
    meta = {'iter': 2, 'epoch': 0, 'CLASSES': list(toy.CLASSES), 'PALETTE': [list(c) for c in toy.PALETTE]}
    good = {'meta': meta, 'state_dict': model.state_dict()}
    save_checkpoint(good, tmp / 'good.pth')
    marker = tmp / 'MARKER'
    paths = {name: tmp / f'{name}.pth' for name in BAD}
    torch.save({**good, 'message_hub': Malicious(str(marker))}, paths['malicious'])
    torch.save({**good, 'meta': {**meta, 'seed': np.arange(3)}}, paths['numpy_legacy'])
    data = (tmp / 'good.pth').read_bytes()
    paths['truncated'].write_bytes(data[:len(data) // 2])
    paths['text'].write_text('model = dict(type="EncoderDecoder")\n')
    torch.save({'meta': {'iter': 2, 'epoch': 0},  # a training checkpoint, but of a classifier
                'state_dict': {'conv1.weight': torch.ones(8, 3, 3, 3), 'fc.weight': torch.ones(10, 8)}},
               paths['other_arch'])
    return tmp, config, paths, marker


EXPECTED = {  # what each one-line error says besides the file name
    'malicious': 'unpickling it would call posix.system',
    'numpy_legacy': 'unpickling it would call numpy',
    'truncated': 'truncated or corrupt',
    'text': 'is not a PyTorch checkpoint (a text file',
    'other_arch': 'is for another model: none of its 2 tensors (conv1.weight, fc.weight)',
}


def _one_line(err: BaseException, path) -> str:
    message = str(err)
    assert '\n' not in message and str(path) in message, message
    return message


@pytest.mark.parametrize('name', BAD)
def test_api_load_paths_refuse_with_one_line_naming_the_file(files, name):
    tmp, config, paths, marker = files
    path = paths[name]
    for load in (lambda: load_checkpoint(toy.ToySegmentor(), path),
                 lambda: init_segmentor(config, str(path)),
                 lambda: DDRNet(channels=8, init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights(),
                 lambda: DDRNet(channels=8, pretrained=str(path)).init_weights()):
        with pytest.raises(CheckpointError) as info:
            load()
        assert EXPECTED[name] in _one_line(info.value, path) or name == 'other_arch'
    with pytest.raises(CheckpointError) as info:  # the converters read numpy as inert data: then the keys fail
        convert_checkpoint(path, tmp / 'converted.pth', 'mmseg')
    assert _one_line(info.value, path)
    assert not marker.exists() and not (tmp / 'converted.pth').exists()


def test_the_malicious_message_names_the_global_and_the_opt_in(files):
    tmp, _, paths, marker = files
    for read in (load_file, read_foreign_checkpoint):
        with pytest.raises(CheckpointError, match=r'malicious\.pth: unpickling it would call posix\.system, .*'
                                                  r'could run code; .*--unsafe-load'):
            read(paths['malicious'])
    assert not marker.exists()


@pytest.fixture
def warnings_logged():
    """Messages of the package logger's warnings during the test."""
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                records.append(record.getMessage())
    handler = Collect()
    logging.getLogger('mmseg_ddrnet').addHandler(handler)
    yield records
    logging.getLogger('mmseg_ddrnet').removeHandler(handler)


def test_numpy_legacy_loads_when_the_user_opts_in(files, warnings_logged):
    tmp, config, paths, _ = files
    path = paths['numpy_legacy']
    with pytest.raises(CheckpointError, match=r'numpy_legacy\.pth: unpickling it would call numpy\.'):
        load_file(path)
    checkpoint = load_checkpoint(toy.ToySegmentor(), path, unsafe=True)
    assert np.array_equal(checkpoint['meta']['seed'], np.arange(3))
    assert warnings_logged == [f'--unsafe-load: unpickling {path} in full, which runs any code the file holds; '
                               'use it only for files you trust']
    model = init_segmentor(config, str(path), unsafe_load=True)
    assert model.CLASSES == list(toy.CLASSES)


def _official_with_args(tmp):
    """An official-layout checkpoint that also pickled the training script's argparse.Namespace."""
    sys.path.insert(0, osp.join(REPO, 'tests', 'models'))
    from official_layout import official_state_dict
    path = tmp / 'official_args.pth'
    torch.save({'state_dict': official_state_dict('slim'), 'args': argparse.Namespace(lr=0.01)}, path)
    return path


def test_converters_refuse_non_data_globals_unless_opted_in(files, capsys):
    tmp = files[0]
    path = _official_with_args(tmp)
    with pytest.raises(CheckpointError, match=r'official_args\.pth: unpickling it would call argparse\.Namespace'):
        convert_checkpoint(path, tmp / 'conv.pth', 'official')
    out = convert_checkpoint(path, tmp / 'conv.pth', 'official', unsafe=True)
    assert len(out['state_dict']) > 100
    convert = _load('convert_checkpoint')
    code, lines = _cli(capsys, convert, ['--src-format', 'official', str(path), str(tmp / 'conv2.pth')])
    assert code == 1 and len(lines) == 1 and 'argparse.Namespace' in lines[0]
    assert convert.main(['--src-format', 'official', str(path), str(tmp / 'conv2.pth'), '--unsafe-load']) == 0


def _cli(capsys, tool, argv):
    """Run ``tool.main(argv)`` behind the CLI edge: (exit code, non-empty stderr lines)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: tool.main(argv))
    return exit_info.value.code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize('name', BAD)
def test_tools_exit_1_with_one_line(files, capsys, tmp_path, name):
    tmp, config, paths, marker = files
    path = str(paths[name])
    train, test, convert = _load('train'), _load('test'), _load('convert_checkpoint')
    auto = tmp_path / 'auto'
    auto.mkdir()
    shutil.copy(path, auto / 'iter_2.pth')
    runs = [(train, [config, '--work-dir', str(tmp_path / 'w'), '--no-validate', '--load-from', path]),
            (train, [config, '--work-dir', str(tmp_path / 'w'), '--no-validate', '--resume-from', path]),
            (test, [config, path, '--eval', 'mIoU'])]
    if name not in ('truncated', 'text'):  # auto-resume skips a file that is no checkpoint zip, with a warning
        # (tests/engine/test_faults.py); the loaders see only complete ones
        runs.append((train, [config, '--work-dir', str(auto), '--no-validate', '--auto-resume']))
    runs.append((convert, ['--src-format', 'mmseg', path, str(tmp_path / 'out.pth')]))
    for tool, argv in runs:
        code, lines = _cli(capsys, tool, argv)
        shown = str(auto / 'iter_2.pth') if '--auto-resume' in argv else path
        assert code == 1 and len(lines) == 1 and lines[0].startswith('error: ') and shown in lines[0], (argv, lines)
        assert EXPECTED[name] in lines[0] or tool is convert and name in ('numpy_legacy', 'other_arch'), lines
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()
    assert (auto / 'iter_2.pth').read_bytes() == paths[name].read_bytes()  # nothing written over it


def test_unsafe_load_flag_through_the_tools(files, warnings_logged, tmp_path):
    tmp, config, paths, _ = files
    path = str(paths['numpy_legacy'])
    train, test, convert = _load('train'), _load('test'), _load('convert_checkpoint')
    assert train.main([config, '--work-dir', str(tmp_path / 'w'), '--no-validate', '--load-from', path,
                       '--unsafe-load']) == 0
    assert train.main([config, '--work-dir', str(tmp_path / 'r'), '--no-validate', '--resume-from', path,
                       '--unsafe-load', '--cfg-options', 'runner.max_iters=4']) == 0
    assert torch.load(tmp_path / 'r' / 'iter_4.pth', weights_only=True)['meta']['iter'] == 4
    test.main([config, path, '--eval', 'mIoU', '--unsafe-load'])
    assert sum('--unsafe-load: unpickling' in m for m in warnings_logged) == 3  # the warning, each time


@pytest.mark.slow
def test_the_real_command_line_on_the_malicious_file(files):
    """The interpreter's own exit status and stderr, once per tool; the marker is never created."""
    tmp, config, paths, marker = files
    path = str(paths['malicious'])
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([ENGINE_TESTS, REPO]))
    for argv in ([TOOLS['test'], config, path, '--eval', 'mIoU'],
                 [TOOLS['train'], config, '--work-dir', str(tmp / 'cli'), '--load-from', path],
                 [TOOLS['convert_checkpoint'], '--src-format', 'official', path, str(tmp / 'cli.pth')]):
        proc = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1, proc.stderr[-2000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith('error: refused to load checkpoint') and 'posix.system' in last and path in last
        assert 'Traceback' not in proc.stderr
    assert not marker.exists()
