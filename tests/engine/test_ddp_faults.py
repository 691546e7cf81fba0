"""Numerical faults in a real two-process DDP run (gloo on the CPU, started by train_dist.sh through torchrun).

A NaN loss on rank 1 only: ``stop`` stops both ranks at that iteration; ``skip`` drops the step on both ranks
together, which stay identical.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import toy
from test_ddp import REPO, _env, _free_port


def _train_dist(tmp_path, cfg, work_dir):
    return subprocess.run(['bash', osp.join(REPO, 'train_dist.sh'), cfg, '2', '--work-dir', str(work_dir),
                           '--seed', '0', '--deterministic', '--no-validate'],
                          env=_env(PORT=str(_free_port()), PYTHON=sys.executable),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_nan_on_one_rank_stops_or_skips_on_every_rank_together(tmp_path, toy_data):
    nan_on_rank1 = dict(type='NaNLossHook', at_iters=[3], ranks=[1], priority='HIGH')
    stop_cfg = toy.toy_config_file(str(tmp_path / 'stop.py'), toy_data, max_iters=4, custom_hooks=[nan_on_rank1])
    stopped = _train_dist(tmp_path, stop_cfg, tmp_path / 'stop')
    assert stopped.returncode != 0
    errors = [line for line in stopped.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 2, stopped.stderr[-3000:]  # each rank: one line, no hang
    assert any('iteration 3: non-finite loss (decode.loss_ce=nan)' in line for line in errors)  # rank 1
    assert any('iteration 3: non-finite loss (on another rank)' in line for line in errors)  # rank 0
    assert sorted(f for f in os.listdir(tmp_path / 'stop') if f.endswith('.pth')) == ['iter_2.pth', 'latest.pth']

    skip_cfg = toy.toy_config_file(str(tmp_path / 'skip.py'), toy_data, max_iters=4,
                                   nan_policy=dict(action='skip', max_consecutive=2),
                                   find_unused_parameters=True,  # DDP's strictest reducer: a backward must follow
                                   custom_hooks=[nan_on_rank1, dict(type='DumpWeightsHook')])
    skipped = _train_dist(tmp_path, skip_cfg, tmp_path / 'skip')
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert skipped.stdout.count('iteration 3: non-finite loss') >= 1 and 'step skipped' in skipped.stdout
    rank0 = torch.load(tmp_path / 'skip' / 'final_rank0.pth', weights_only=True)
    rank1 = torch.load(tmp_path / 'skip' / 'final_rank1.pth', weights_only=True)
    for key, value in rank0.items():
        assert torch.isfinite(value.float()).all() and torch.equal(value, rank1[key]), key


@pytest.mark.slow
def test_sigterm_on_one_rank_stops_every_rank_after_the_same_iteration_with_one_checkpoint(tmp_path, toy_data):
    cfg = toy.toy_config_file(str(tmp_path / 'sig.py'), toy_data, max_iters=6, custom_hooks=[
        dict(type='SignalSelfHook', at_iter=3, signals=['SIGTERM'], ranks=[1])])
    result = _train_dist(tmp_path, cfg, tmp_path / 'w')
    assert result.returncode != 0 and 'exitcode  : 143' in result.stderr, result.stderr[-3000:]
    [line] = [line for line in result.stdout.splitlines() if 'resume with:' in line]  # rank 0 only
    ckpt = str(tmp_path / 'w' / 'iter_3.pth')
    assert f'SIGTERM: stopped after iteration 3; checkpoint saved to {ckpt}; resume with: torchrun ' \
           '--nproc_per_node=2 ' in line and line.endswith(f'--launcher pytorch --work-dir {tmp_path / "w"} --seed 0 '
                                                           f'--deterministic --no-validate --resume-from {ckpt}')
    assert torch.load(ckpt, weights_only=True)['meta']['iter'] == 3
    assert len(torch.load(ckpt, weights_only=True)['rng']) == 2  # both ranks took part in the save
