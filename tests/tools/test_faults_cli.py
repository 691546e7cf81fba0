"""Faults seen from the command line: real signals, kill -9 at chosen moments, full disks, unwritable folders.

Every run is a real ``tools/train.py`` / ``tools/test.py`` process on the toy model (tests/engine/toy.py).
"""
import os
import os.path as osp
import random
import resource
import shlex
import signal
import stat
import subprocess
import sys
import time

import cv2
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENGINE_TESTS = osp.join(REPO, 'tests', 'engine')
sys.path.insert(0, ENGINE_TESTS)

import toy  # noqa: E402

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
FLAGS = ['--seed', '3', '--deterministic']


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    return toy.make_toy_data(str(tmp_path_factory.mktemp('toy_data')))


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([ENGINE_TESTS, REPO]), **extra)
    env.pop('MMSEG_DDRNET_CRASH_AT', None)
    env.update(extra)
    return env


def _run(*args, tool=TRAIN, timeout=300, preexec_fn=None, **env):
    return subprocess.run([sys.executable, tool, *args], env=_env(**env), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn)


def _pth(work_dir) -> list:
    return sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))


def _temp_files(work_dir) -> list:
    return [f for f in os.listdir(work_dir) if f.endswith('.tmp')]


def _assert_same_state(path_a, path_b) -> None:
    a, b = torch.load(path_a, weights_only=True), torch.load(path_b, weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter']
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert torch.equal(sa['momentum_buffer'], sb['momentum_buffer'])
    for key in ('python', 'numpy', 'torch'):
        assert str(a['rng'][0][key]) == str(b['rng'][0][key])


def _config(tmp_path, data_root, name='cfg.py', **overrides) -> str:
    overrides.setdefault('model', dict(type='ToySegmentor', dropout=0.3))  # dropout: torch's global RNG
    return toy.toy_config_file(str(tmp_path / name), data_root, **overrides)


# ---------------------------------------------------------------------------------------------------- signals
def test_second_sigint_exits_at_once_leaving_complete_files(tmp_path, data_root):
    config = _config(tmp_path, data_root, max_iters=6,
                     custom_hooks=[dict(type='SignalSelfHook', at_iter=3, signals=['SIGINT', 'SIGINT'])])
    result = _run(config, '--work-dir', str(tmp_path / 'w'), '--no-validate', *FLAGS)
    assert result.returncode == 130
    assert 'SIGINT received: stopping after the current iteration' in result.stderr
    assert result.stderr.strip().splitlines()[-1] == 'error: interrupted'
    assert _pth(tmp_path / 'w') == ['iter_2.pth', 'latest.pth'] and not _temp_files(tmp_path / 'w')
    assert torch.load(tmp_path / 'w' / 'latest.pth', weights_only=True)['meta']['iter'] == 2


def _wait_for(path, proc, timeout=240.0) -> None:
    deadline = time.monotonic() + timeout
    while not osp.exists(path):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f'{path} never appeared'
        time.sleep(0.05)


def test_external_sigusr1_under_slurm_saves_and_requeues(tmp_path, data_root):
    """SIGUSR1 from outside (SLURM's pre-emption warning), signal_config limited to it, --requeue."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    scontrol = bin_dir / 'scontrol'
    scontrol.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "scontrol_args"}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    config = _config(tmp_path, data_root, max_iters=100000, signal_config=dict(signals=['SIGUSR1']),
                     checkpoint_config=dict(by_epoch=False, interval=2))
    with open(config, 'a') as f:  # a data loader worker: it gets the signal too, and must leave it to the main
        f.write("data['workers_per_gpu'] = 1\n")
    proc = subprocess.Popen([sys.executable, TRAIN, config, '--work-dir', str(tmp_path / 'w'), '--no-validate',
                             '--requeue', *FLAGS], env=_env(SLURM_JOB_ID='4242', PATH=f'{bin_dir}:{os.environ["PATH"]}'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(tmp_path / 'w' / 'iter_2.pth', proc)
    os.killpg(proc.pid, signal.SIGUSR1)  # to every process of the job, as SLURM signals a job step
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGUSR1, err[-2000:]
    assert err.count('SIGUSR1 received') == 1  # the main process only
    [line] = [line for line in out.splitlines() if 'SIGUSR1: stopped after iteration' in line]
    step = int(line.split('stopped after iteration ')[1].split(';')[0])
    assert torch.load(tmp_path / 'w' / 'latest.pth', weights_only=True)['meta']['iter'] == step >= 2
    assert (tmp_path / 'scontrol_args').read_text().split() == ['requeue', '4242']
    assert 'requeued SLURM job 4242' in out


# ---------------------------------------------------------------------------------------------------- disk
def test_unwritable_work_dir_is_refused_before_training(tmp_path, data_root):
    config = _config(tmp_path, data_root, max_iters=2)
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    result = _run(config, '--work-dir', str(blocker / 'work'))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f'error: work dir {blocker / "work"} is not writable: [Errno 20] Not a directory (ENOTDIR)']
    assert 'Iter [' not in result.stdout


@pytest.mark.slow
def test_file_size_limit_while_saving_keeps_the_previous_checkpoint(tmp_path, data_root):
    """RLIMIT_FSIZE below a checkpoint's size (the config and logs fit): a real EFBIG from the kernel."""
    work_dir = tmp_path / 'w'
    first = _run(_config(tmp_path, data_root, max_iters=2), '--work-dir', str(work_dir), '--no-validate', *FLAGS)
    assert first.returncode == 0, first.stderr[-2000:]
    good = (work_dir / 'iter_2.pth').read_bytes()
    limit = len(good) // 2
    assert os.path.getsize(tmp_path / 'cfg.py') < limit

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    result = _run(_config(tmp_path, data_root, 'cfg4.py', max_iters=4), '--work-dir', str(work_dir),
                  '--no-validate', '--auto-resume', *FLAGS, preexec_fn=small_files)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f'error: cannot write checkpoint {work_dir / "iter_4.pth"}: [Errno 27] File too large (EFBIG)')
    assert _pth(work_dir) == ['iter_2.pth', 'latest.pth'] and not _temp_files(work_dir)
    assert (work_dir / 'latest.pth').read_bytes() == good == (work_dir / 'iter_2.pth').read_bytes()


# ---------------------------------------------------------------------------------------------------- kill -9
CRASH_POINTS = [  # (MMSEG_DDRNET_CRASH_AT, what it interrupts); each run makes at most 4 iterations of progress
    ('write:iter_*.pth@{n}', 'a checkpoint write (complete temp file, before the rename)'),
    ('val_batch@{n}', 'validation'),
    ('link:latest.pth@{n}', 'the latest.pth update (iter_N.pth is new, latest.pth still the old one)'),
    ('train_iter:{i}', 'an iteration, between forward and backward'),
]


@pytest.mark.slow
def test_kill_9_at_five_random_moments_and_sigterm_then_resume_is_bit_identical(tmp_path, data_root):
    """One run killed five times (a checkpoint write, validation and three random moments), auto-resumed each
    time, then stopped by SIGTERM and resumed with the command it printed, ends with exactly the state of an
    uninterrupted run."""
    config = _config(tmp_path, data_root, max_iters=20, evaluation=dict(interval=4, metric='mIoU', pre_eval=True))
    reference = _run(config, '--work-dir', str(tmp_path / 'ref'), *FLAGS)
    assert reference.returncode == 0, reference.stderr[-2000:]
    rng = random.Random(12)
    moments = CRASH_POINTS[:2] + [rng.choice(CRASH_POINTS[2:]) for _ in range(3)]
    work_dir = tmp_path / 'crashed'
    for pattern, what in moments:
        done = torch.load(work_dir / 'latest.pth', weights_only=True)['meta']['iter'] if osp.exists(
            work_dir / 'latest.pth') else 0
        spec = pattern.format(n=rng.randint(1, 2), i=done + rng.randint(1, 3))
        crashed = _run(config, '--work-dir', str(work_dir), '--auto-resume', *FLAGS, MMSEG_DDRNET_CRASH_AT=spec)
        assert crashed.returncode == -signal.SIGKILL, (spec, what, crashed.stderr[-2000:])
        for name in _pth(work_dir):  # whatever the moment, every checkpoint is complete
            torch.load(work_dir / name, weights_only=True)
    # SIGTERM in the middle of an interval: the iteration finishes, the stop writes its own checkpoint
    done = torch.load(work_dir / 'latest.pth', weights_only=True)['meta']['iter']
    stop_at = done + 3
    stopped_cfg = _config(tmp_path, data_root, 'stopped.py', max_iters=20,
                          evaluation=dict(interval=4, metric='mIoU', pre_eval=True),
                          custom_hooks=[dict(type='SignalSelfHook', at_iter=stop_at, signals=['SIGTERM'])])
    stopped = _run(stopped_cfg, '--work-dir', str(work_dir), '--auto-resume', *FLAGS)
    assert stopped.returncode == 143, stopped.stderr[-2000:]  # 128 + SIGTERM
    ckpt = str(work_dir / f'iter_{stop_at}.pth')
    [line] = [line for line in stopped.stdout.splitlines() if 'resume with:' in line]
    assert f'SIGTERM: stopped after iteration {stop_at}; checkpoint saved to {ckpt}; resume with: ' in line
    assert torch.load(work_dir / 'latest.pth', weights_only=True)['meta']['iter'] == stop_at
    assert not _temp_files(work_dir)  # the temporary files of the killed writes were cleaned up at start
    command = shlex.split(line.split('resume with: ', 1)[1])
    assert command[-2:] == ['--resume-from', ckpt] and '--auto-resume' not in command
    final = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert f'resumed from {ckpt}: epoch {stop_at // 4}, iter {stop_at}' in final.stdout
    _assert_same_state(tmp_path / 'ref' / 'iter_20.pth', work_dir / 'iter_20.pth')


def test_tools_test_killed_while_writing_leaves_no_partial_result(tmp_path, data_root):
    from mmseg_ddrnet.checkpoint import get_state_dict, save_checkpoint
    model = toy.ToySegmentor()
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint({'meta': {'CLASSES': list(toy.CLASSES), 'PALETTE': toy.PALETTE},
                     'state_dict': get_state_dict(model)}, ckpt)
    config = _config(tmp_path, data_root)
    out = tmp_path / 'results' / 'res.pkl'
    show_dir = tmp_path / 'show'
    args = [config, ckpt, '--out', str(out), '--eval', 'mIoU', '--work-dir', str(tmp_path / 'w'),
            '--show-dir', str(show_dir)]
    for point, absent in (('write:001.png', show_dir / '001.png'), ('write:res.pkl', out)):
        killed = _run(*args, tool=TEST, MMSEG_DDRNET_CRASH_AT=point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert not absent.exists()  # the file is complete or absent, never partial
    # pass 2 wrote every image; kill -9 leaves only the hidden temporary file of pass 1
    assert sorted(f for f in os.listdir(show_dir) if not f.startswith('.')) == ['000.png', '001.png', '002.png',
                                                                                 '003.png']
    assert [f for f in os.listdir(show_dir) if f.startswith('.')][0].startswith('.001.png.')
    for name in os.listdir(show_dir):  # every image there is whole
        if not name.startswith('.'):
            assert cv2.imread(str(show_dir / name)).shape == (16, 16, 3), name
