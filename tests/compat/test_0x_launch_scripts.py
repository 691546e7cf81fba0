"""The mmseg 0.x launch scripts in tools/: dist_train.sh, dist_test.sh (torchrun, recorded by a fake python)
and slurm_train.sh, slurm_test.sh (a fake ``srun`` on PATH records its arguments and runs the command once)."""
import copy
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compat_utils import REPO, config_path, small_options, tool_env
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.checkpoint import save_checkpoint
from mmseg_ddrnet.models import build_segmentor

CONFIG = config_path('ddrnet_23_slim_fork_cityscapes')

FAKE_PYTHON = """#!/usr/bin/env bash
# records its arguments and the launch environment instead of starting torchrun
printf '%s\\n' "$@" > "$RECORD"
printf 'PYTHONPATH=%s\\n' "$PYTHONPATH" > "$RECORD.env"
"""

FAKE_SRUN = """#!/usr/bin/env bash
# records its arguments, then runs the command once as slurm task 0 of 1
printf '%s\\n' "$@" > "$RECORD"
while [ $# -gt 0 ]; do
  case "$1" in
    -p) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_NODELIST=node-1 exec "$@"
"""

FAKE_SCONTROL = """#!/usr/bin/env bash
echo 127.0.0.1
"""


def _script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(script: str, *args: str, env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', str(REPO / 'tools' / script), *args], env=env, cwd=str(cwd), capture_output=True,
                          text=True, timeout=timeout)


def _recorded(path: Path) -> list:
    return path.read_text().splitlines()


@pytest.fixture
def fake_python(tmp_path):
    python = _script(tmp_path, 'fake_python', FAKE_PYTHON)
    env = dict(os.environ, PYTHON=str(python), RECORD=str(tmp_path / 'record'), NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.1.2.3', PORT='29123')
    return env, tmp_path / 'record'


TORCHRUN = ['-m', 'torch.distributed.run', '--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3',
            '--master_port=29123', '--nproc_per_node=4']


def test_dist_train_sh_is_the_0x_command_line(fake_python, tmp_path):
    env, record = fake_python
    proc = _run('dist_train.sh', 'cfg.py', '4', '--work-dir', 'work dir', '--seed', '1', env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _recorded(record) == TORCHRUN + [str(REPO / 'tools' / 'train.py'), 'cfg.py', '--launcher', 'pytorch',
                                            '--work-dir', 'work dir', '--seed', '1']
    assert _recorded(Path(f'{record}.env'))[0].startswith(f'PYTHONPATH={REPO}')


def test_dist_test_sh_is_the_0x_command_line(fake_python, tmp_path):
    env, record = fake_python
    proc = _run('dist_test.sh', 'cfg.py', 'model.pth', '4', '--eval', 'mIoU', env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _recorded(record) == TORCHRUN + [str(REPO / 'tools' / 'test.py'), 'cfg.py', 'model.pth', '--launcher',
                                            'pytorch', '--eval', 'mIoU']


@pytest.mark.parametrize('script, args', [('dist_train.sh', ['cfg.py']), ('dist_test.sh', ['cfg.py', 'm.pth']),
                                          ('slurm_train.sh', ['part', 'job']),
                                          ('slurm_test.sh', ['part', 'job', 'cfg.py'])])
def test_missing_arguments_print_the_usage(script, args, tmp_path):
    proc = _run(script, *args, env=dict(os.environ), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith('usage: bash ')


@pytest.fixture
def fake_slurm(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    _script(bin_dir, 'srun', FAKE_SRUN)
    _script(bin_dir, 'scontrol', FAKE_SCONTROL)
    env = dict(tool_env(), PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', PYTHON=sys.executable,
               RECORD=str(tmp_path / 'srun_args'), MASTER_PORT=str(_free_port()), GPUS='1', GPUS_PER_NODE='1',
               CPUS_PER_TASK='2', SRUN_ARGS='--quotatype=auto --mem=0')
    for key in ('MASTER_ADDR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        env.pop(key, None)
    return env, tmp_path / 'srun_args'


SRUN = ['-p', 'part', '--job-name=job', '--gres=gpu:1', '--ntasks=1', '--ntasks-per-node=1', '--cpus-per-task=2',
        '--kill-on-bad-exit=1', '--quotatype=auto', '--mem=0', sys.executable, '-u']


def test_slurm_train_sh_runs_tools_train_under_srun(fake_slurm, tmp_path, cityscapes_root):
    env, record = fake_slurm
    work_dir = tmp_path / 'work'
    options = ['--cfg-options', *small_options(cityscapes_root), 'runner.max_iters=1', 'evaluation.interval=10']
    proc = _run('slurm_train.sh', 'part', 'job', CONFIG, str(work_dir), *options, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert _recorded(record) == SRUN + [str(REPO / 'tools' / 'train.py'), CONFIG, '--work-dir', str(work_dir),
                                        '--launcher', 'slurm', *options]
    assert (work_dir / 'iter_1.pth').is_file()


def test_slurm_test_sh_runs_tools_test_under_srun(fake_slurm, tmp_path, cityscapes_root):
    env, record = fake_slurm
    torch.manual_seed(0)
    model = build_segmentor(copy.deepcopy(Config.fromfile(CONFIG).model))
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'init.pth')
    options = ['--eval', 'mIoU', '--work-dir', str(tmp_path / 'work'), '--cfg-options',
               *small_options(cityscapes_root, splits=('test',))]
    proc = _run('slurm_test.sh', 'part', 'job', CONFIG, str(tmp_path / 'init.pth'), *options, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert _recorded(record) == SRUN + [str(REPO / 'tools' / 'test.py'), CONFIG, str(tmp_path / 'init.pth'),
                                        '--launcher', 'slurm', *options]
    [metrics] = (tmp_path / 'work').glob('eval_*.json')
    assert 0 <= json.loads(metrics.read_text())['metric']['aAcc'] <= 1
