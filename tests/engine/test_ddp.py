"""A real two-process DDP training on the CPU (gloo, started by train_dist.sh through torchrun)."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

import toy

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=osp.dirname(osp.abspath(__file__)), **extra)
    env.pop('LOCAL_RANK', None)
    return env


@pytest.mark.slow
def test_two_process_ddp_matches_single_process_on_the_same_global_batch(tmp_path, toy_data):
    # GroupNorm and no dropout: the loss of a global batch does not depend on how it is split over ranks
    cfg = toy.toy_config_file(str(tmp_path / 'ddp_toy.py'), toy_data, max_iters=4,
                              model=dict(type='ToySegmentor', dropout=0.0),
                              custom_hooks=[dict(type='DumpWeightsHook')])
    common = ['--seed', '0', '--deterministic']
    ddp = subprocess.run(['bash', osp.join(REPO, 'train_dist.sh'), cfg, '2', '--work-dir', str(tmp_path / 'ddp'),
                          *common], env=_env(PORT=str(_free_port()), PYTHON=sys.executable),
                         capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run([sys.executable, osp.join(REPO, 'tools/train.py'), cfg, '--work-dir',
                             str(tmp_path / 'single'), *common, '--cfg-options', 'data.samples_per_gpu=4'],
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]

    rank0 = torch.load(tmp_path / 'ddp' / 'final_rank0.pth', weights_only=True)
    rank1 = torch.load(tmp_path / 'ddp' / 'final_rank1.pth', weights_only=True)
    alone = torch.load(tmp_path / 'single' / 'final_rank0.pth', weights_only=True)
    gap = 0.0
    for key, value in rank0.items():
        assert torch.equal(value, rank1[key]), f'{key} differs between the ranks'
        # same global batch of 4, same initial weights: equal up to float32 summation order
        torch.testing.assert_close(value, alone[key], rtol=1e-4, atol=1e-5, msg=key)
        gap = max(gap, float((value - alone[key]).abs().max()))
    print(f'max |DDP - single process| after 4 iterations: {gap:.3g}')
    # the distributed evaluation ran (DistEvalHook through multi_gpu_test) and rank 0 saved the checkpoints
    assert {'iter_2.pth', 'iter_4.pth', 'latest.pth'} <= set(os.listdir(tmp_path / 'ddp'))
    assert 'Iter(val) [4]' in ddp.stdout and 'Distributed training: True' in ddp.stdout
