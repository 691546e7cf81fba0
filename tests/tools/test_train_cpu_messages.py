"""tools/train.py on a machine without CUDA: the deprecated multi-GPU flags and --gpu-id say that the CPU is
used (not "the first GPU"); validation without data.val is a one-line error, not an AttributeError."""
import pytest
import torch

from cli_tools import load_tool, one_line_error
from mmseg_ddrnet.utils import logging as log_utils

train_tool = load_tool('tools/train.py')


@pytest.fixture(autouse=True)
def no_cuda(monkeypatch, fresh_logger):
    monkeypatch.setattr(log_utils, '_warned', set())
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


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
    line = one_line_error(capsys, lambda: train_tool.main(args))
    assert 'the config has no data.val: add one, or pass --no-validate' in line
