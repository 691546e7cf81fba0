"""Faults inside one training process: NaN losses and gradients, full disks, lost or damaged checkpoints."""
import contextlib
import errno
import logging
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import toy
from mmseg_ddrnet.checkpoint import find_latest_checkpoint
from mmseg_ddrnet.checkpoint import io as ckpt_io
from mmseg_ddrnet.engine.hooks import OptimizerHook
from mmseg_ddrnet.engine.hooks.nan_policy import NanPolicy
from mmseg_ddrnet.utils import CheckpointError, ConfigError, NumericalError
from test_runner import train

NAN_AT_3 = [dict(type='NaNLossHook', at_iters=[3], priority='HIGH')]


@contextlib.contextmanager
def _log_records():
    """The messages the package logger emits inside the block (one string, a line each)."""
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(handler)
    text = _Text(lines)
    try:
        yield text
    finally:
        logger.removeHandler(handler)


class _Text:
    def __init__(self, lines):
        self.lines = lines

    def __contains__(self, needle: str) -> bool:
        return any(needle in line for line in self.lines)


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def test_nan_loss_stops_naming_the_iteration_and_term_and_keeps_checkpoints_finite(tmp_path, toy_data):
    with pytest.raises(NumericalError, match=r'iteration 3: non-finite loss \(decode\.loss_ce=nan.*\); training '
                                             r'stopped before the optimizer step .*hold iteration 2') as info:
        train(tmp_path, toy_data, validate=False, max_iters=6, custom_hooks=NAN_AT_3)
    work_dir = str(tmp_path / 'wd')
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == ['iter_2.pth', 'latest.pth']
    for value in _weights(osp.join(work_dir, 'latest.pth')).values():
        assert torch.isfinite(value.float()).all()
    assert "nan_policy=dict(action='skip'" in str(info.value)


def test_skip_policy_drops_bad_steps_and_stops_after_max_consecutive(tmp_path, toy_data):
    toy.RecordWeightsHook.records.clear()
    hooks = NAN_AT_3 + [dict(type='RecordWeightsHook', priority='LOW')]
    with _log_records() as log:
        train(tmp_path / 'a', toy_data, validate=False, max_iters=4,
              nan_policy=dict(action='skip', max_consecutive=1), custom_hooks=hooks)
    assert 'iteration 3: non-finite loss (decode.loss_ce=nan): step skipped (1 in a row, 1 in all)' in log
    after = toy.RecordWeightsHook.records
    for key, value in after[3].items():  # the bad step changed nothing; the next one trains again
        assert torch.equal(value, after[2][key]), key
        assert torch.isfinite(after[4][key].float()).all()
    assert any(not torch.equal(after[4][key], after[3][key]) for key in after[3])
    # two bad iterations in a row with max_consecutive=1: stop at the second
    with pytest.raises(NumericalError, match=r'iteration 4: .*2 bad iterations in a row exceed '
                                             r'nan_policy\.max_consecutive=1'):
        train(tmp_path / 'c', toy_data, validate=False, max_iters=6, nan_policy=dict(action='skip', max_consecutive=1),
              custom_hooks=[dict(type='NaNLossHook', at_iters=[3, 4], priority='HIGH')])
    with pytest.raises(ConfigError, match='nan_policy.action must be one of'):
        NanPolicy.build(dict(action='ignore'))


def test_max_keep_ckpts_never_removes_what_latest_or_best_points_to(tmp_path):
    from mmseg_ddrnet.engine.hooks.checkpoint import remove_unreferenced
    for step in (2, 4, 6, 8):
        torch.save({'meta': {'iter': step}}, tmp_path / f'iter_{step}.pth')
    os.link(tmp_path / 'iter_2.pth', tmp_path / 'latest.pth')  # e.g. left by a run resumed from iter_2
    os.symlink('iter_4.pth', tmp_path / 'best_mIoU_iter_4.pth')  # a best_* made by a user's tool as a symlink
    remove_unreferenced([str(tmp_path / f'iter_{step}.pth') for step in (2, 4, 6)], str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['best_mIoU_iter_4.pth', 'iter_2.pth', 'iter_4.pth', 'iter_8.pth',
                                            'latest.pth']


def test_truncated_or_empty_latest_falls_back_to_the_previous_checkpoint(tmp_path, toy_data):
    work_dir, _ = train(tmp_path, toy_data, validate=False, max_iters=4)
    good = open(osp.join(work_dir, 'iter_4.pth'), 'rb').read()
    os.remove(osp.join(work_dir, 'latest.pth'))
    with open(osp.join(work_dir, 'latest.pth'), 'wb') as f:  # another tool left half a file
        f.write(good[:len(good) // 2])
    with _log_records() as log:
        assert find_latest_checkpoint(work_dir) == osp.join(work_dir, 'iter_4.pth')
    assert f'skipped {osp.join(work_dir, "latest.pth")} (it is truncated or not a checkpoint' in log
    assert f'using {osp.join(work_dir, "iter_4.pth")} instead' in log
    # both latest.pth (empty) and iter_4.pth (truncated) bad: iter_2.pth, naming both skipped files
    open(osp.join(work_dir, 'latest.pth'), 'wb').close()
    with open(osp.join(work_dir, 'iter_4.pth'), 'wb') as f:
        f.write(good[:100])
    with _log_records() as log:
        assert find_latest_checkpoint(work_dir) == osp.join(work_dir, 'iter_2.pth')
    assert 'latest.pth (it is empty (0 bytes))' in log and 'iter_4.pth (it is truncated' in log
    # and the resume itself starts from it
    work_dir2, _ = train(tmp_path, toy_data, validate=False, max_iters=4, auto_resume=True)
    assert torch.load(osp.join(work_dir2, 'latest.pth'), weights_only=True)['meta']['iter'] == 4


def test_full_disk_while_saving_keeps_the_previous_checkpoint_and_names_path_and_errno(tmp_path, toy_data,
                                                                                        monkeypatch):
    real_save, calls = torch.save, []

    def save_then_fill_disk(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint: half written, then the disk is full
            f.write(b'\0' * 100)
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_save(obj, f, *args, **kwargs)
    monkeypatch.setattr(ckpt_io.torch, 'save', save_then_fill_disk)
    with pytest.raises(CheckpointError) as info:
        train(tmp_path, toy_data, validate=False, max_iters=6)
    work_dir = str(tmp_path / 'wd')
    assert str(info.value) == (f'cannot write checkpoint {osp.join(work_dir, "iter_4.pth")}: '
                               '[Errno 28] No space left on device (ENOSPC)')
    assert sorted(f for f in os.listdir(work_dir) if 'log' not in f) == ['iter_2.pth', 'latest.pth']  # no temp file
    assert torch.load(osp.join(work_dir, 'latest.pth'), weights_only=True)['meta']['iter'] == 2


def test_non_finite_weights_are_never_saved(tmp_path):
    from mmseg_ddrnet.engine import IterBasedRunner
    model = nn.Conv2d(1, 1, 1)
    runner = IterBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), work_dir=str(tmp_path),
                             max_iters=1)
    runner.save_checkpoint(str(tmp_path))
    with torch.no_grad():
        model.weight.fill_(float('inf'))
    with pytest.raises(NumericalError, match=r'refusing to save .*iter_0\.pth: non-finite weights in \[\'weight\'\]'):
        runner.save_checkpoint(str(tmp_path))
    assert torch.isfinite(_weights(tmp_path / 'latest.pth')['weight']).all()


def test_fp16_scaler_skips_count_as_bad_steps():
    """The GradScaler skips steps with inf gradients itself; more than max_consecutive in a row stop training."""
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    amp = SimpleNamespace(scaler=torch.amp.GradScaler('cpu', init_scale=4.0), static_scale=None)
    amp.unscale_ = lambda opt: amp.scaler.unscale_(opt)
    amp.step = lambda opt: (amp.scaler.step(opt), amp.scaler.update())
    warnings = []
    runner = SimpleNamespace(model=model, optimizer=optimizer, amp=amp, iter=0, outputs={'num_samples': 1},
                             logger=SimpleNamespace(warning=warnings.append), log_buffer=None)
    hook = OptimizerHook(nan_policy=dict(action='stop', max_consecutive=2))
    amp.scaler.scale(torch.ones(()))  # the scaler's state starts with its first scale()
    before = model.weight.detach().clone()
    for it in range(3):
        runner.iter = it
        optimizer.zero_grad()
        model.weight.grad = torch.full_like(model.weight, float('inf'))
        model.bias.grad = torch.zeros_like(model.bias)
        if it < 2:
            hook.step(runner)  # skipped by the scaler: counted, tolerated
        else:
            with pytest.raises(NumericalError, match=r'iteration 3: the fp16 loss scaler skipped the step .*3 bad '
                                                     r'iterations in a row exceed nan_policy\.max_consecutive=2'):
                hook.step(runner)
    assert torch.equal(model.weight, before) and amp.scaler.get_scale() == 0.5
    assert len(warnings) == 2 and '2 in a row' in warnings[1]
    # a good step resets the count
    model.weight.grad = torch.ones_like(model.weight)
    hook.step(runner)
    assert hook.nan_policy.consecutive == 0


def test_work_dir_made_unwritable_during_training_stops_with_the_errno(tmp_path, toy_data, monkeypatch):
    import tempfile
    from mmseg_ddrnet.utils import io as io_module
    real_mkstemp, calls = tempfile.mkstemp, []

    def mkstemp(*args, **kwargs):
        calls.append(kwargs.get('prefix'))
        if len([c for c in calls if c.startswith('.iter_')]) >= 2:
            raise PermissionError(errno.EACCES, 'Permission denied', kwargs.get('dir'))
        return real_mkstemp(*args, **kwargs)
    monkeypatch.setattr(io_module.tempfile, 'mkstemp', mkstemp)
    with pytest.raises(CheckpointError, match=r'cannot write checkpoint .*iter_4\.pth: \[Errno 13\] Permission denied '
                                              r'\(EACCES\)'):
        train(tmp_path, toy_data, validate=False, max_iters=6)
    assert torch.load(tmp_path / 'wd' / 'latest.pth', weights_only=True)['meta']['iter'] == 2


def test_check_writable_dir_names_the_folder_and_errno(tmp_path, monkeypatch):
    import tempfile
    from mmseg_ddrnet.utils.io import check_writable_dir
    check_writable_dir(tmp_path / 'new' / 'dir')  # created
    assert (tmp_path / 'new' / 'dir').is_dir()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, 'Read-only file system')
    monkeypatch.setattr(tempfile, 'TemporaryFile', read_only)
    with pytest.raises(ConfigError, match=r'work dir .*ro is not writable: \[Errno 30\] Read-only file system '
                                          r'\(EROFS\)'):
        check_writable_dir(tmp_path / 'ro')


def test_signal_in_process_saves_exits_with_143_and_restores_the_handlers(tmp_path, toy_data):
    import signal
    before = signal.getsignal(signal.SIGTERM)
    with _log_records() as log, pytest.raises(SystemExit) as info:
        train(tmp_path, toy_data, validate=False, max_iters=6,
              custom_hooks=[dict(type='SignalSelfHook', at_iter=4, signals=['SIGTERM'])])
    assert info.value.code == 143
    work_dir = tmp_path / 'wd'
    # iteration 4 finished and its periodic checkpoint was reused: no second save of the same file
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == ['iter_2.pth', 'iter_4.pth', 'latest.pth']
    assert f'SIGTERM: stopped after iteration 4; checkpoint saved to {work_dir / "iter_4.pth"}; resume with: ' in log
    assert signal.getsignal(signal.SIGTERM) is before


def test_faults_under_a_process_group_take_the_collective_paths(tmp_path, toy_data, gloo_group, monkeypatch):
    """With a (one-rank gloo) process group the stop flag, the NaN decision and a failed save go through
    all_reduce / broadcast, as in DDP."""
    import torch.distributed as dist
    calls = []
    for name in ('all_reduce', 'broadcast_object_list'):
        real = getattr(dist, name)
        monkeypatch.setattr(dist, name, lambda *a, _real=real, _name=name, **k: (
            calls.append(_name if k.get('op') != dist.ReduceOp.MAX else 'max'), _real(*a, **k))[1])
    with pytest.raises(SystemExit) as info:
        train(tmp_path / 'sig', toy_data, validate=False, max_iters=6,
              custom_hooks=[dict(type='SignalSelfHook', at_iter=3, signals=['SIGUSR1'])])
    assert info.value.code == 128 + 10 and torch.load(tmp_path / 'sig' / 'wd' / 'latest.pth',
                                                      weights_only=True)['meta']['iter'] == 3
    # per iteration: the NaN decision and the stop flag (MAX); per save: the writer's outcome
    assert calls.count('max') == 2 * 3 and calls.count('broadcast_object_list') == 2  # saves at 2 and 3
    calls.clear()
    with pytest.raises(NumericalError, match='iteration 3: non-finite loss'):
        train(tmp_path / 'nan', toy_data, validate=False, max_iters=6, custom_hooks=NAN_AT_3)
    assert calls.count('max') == 3 + 2  # NaN decisions at 1-3, stop flags at 1-2

    def full_disk(obj, f, *args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(ckpt_io.torch, 'save', full_disk)
    with pytest.raises(CheckpointError, match=r'iter_2\.pth: \[Errno 28\]'):
        train(tmp_path / 'disk', toy_data, validate=False, max_iters=6)
