"""tools/train.py on a machine without CUDA: the deprecated multi-GPU flags and --gpu-id say that the CPU is
used (not "the first GPU"); validation without data.val is a one-line error, not an AttributeError."""
import importlib.util
import logging

import pytest
import torch

from tiny_seg import REPO

from mmseg_ddrnet.utils import logging as log_utils
from mmseg_ddrnet.utils import run_cli


def _load_tool():
    spec = importlib.util.spec_from_file_location('cpu_messages_train_tool', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_tool()


@pytest.fixture(autouse=True)
def _fresh_logger(monkeypatch):
    monkeypatch.setattr(log_utils, '_warned', set())
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    logger = logging.getLogger('mmseg_ddrnet')
    saved = logger.handlers[:]
    logger.handlers.clear()
    yield
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:] = saved


@pytest.mark.parametrize('flags, expected', [
    (['--gpus', '2'], 'trains on one device, the CPU (no CUDA device here); for several GPUs run bash '
                      'train_dist.sh CONFIG 2'),
    (['--gpu-ids', '1', '2'], 'trains on one device, the CPU (no CUDA device here)'),
    (['--gpu-id', '1'], '--gpu-id 1: training on the CPU (no CUDA device here)'),
])
def test_gpu_flags_on_a_cpu_machine_say_the_cpu_is_used(capsys, flags, expected):
    train_tool._gpu_ids(train_tool.parse_args(['cfg.py', *flags]))
    out = capsys.readouterr()
    text = out.out + out.err
    assert expected in text and 'GPU is used' not in text and 'GPU id is used' not in text


def test_validation_without_data_val_is_one_line(tiny, tmp_path, capsys):
    _, config, _ = tiny
    args = [config, '--work-dir', str(tmp_path), '--cfg-options', 'runner.type=IterBasedRunner',
            'runner.max_iters=1', 'optimizer.type=SGD', 'optimizer.lr=0.01', 'data.workers_per_gpu=0']
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: train_tool.main(args))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error: ')]
    assert exit_info.value.code == 1 and len(lines) == 1
    assert 'the config has no data.val: add one, or pass --no-validate' in lines[0]
