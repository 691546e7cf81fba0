"""Helpers of the mmseg-0.x compatibility tests: config paths, running the tools as a user does.

The sample 0.x configs in ``configs/`` keep their real sizes; :func:`small_options` shrinks them
through ``--cfg-options`` as a user would.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

from mmseg_ddrnet.config import Config, DictAction

REPO = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).resolve().parent / 'configs'
USER_EXT = Path(__file__).resolve().parent / 'user_ext'
IMAGE_HW = (64, 128)
CUSTOM_CLASSES = ('road', 'building', 'sky')


def config_path(name: str) -> str:
    return str(CONFIGS / f'{name}.py')


def load_config(name: str, options: Sequence[str] = ()) -> Config:
    """``Config.fromfile`` of a sample config plus ``--cfg-options`` parsed the way the tools parse them."""
    cfg = Config.fromfile(config_path(name))
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg


def small_options(data_root: str, splits: Sequence[str] = ('train', 'val', 'test'),
                  train_key: str = 'data.train') -> List[str]:
    """``--cfg-options`` that point a 0.x Cityscapes-style config at ``data_root``, with 64x64 crops.

    ``train_key`` is where the training set's settings sit (``data.train.dataset`` in a ``RepeatDataset``).
    """
    h, w = IMAGE_HW
    opts = [f'{train_key if s == "train" else "data." + s}.data_root={data_root}' for s in splits]
    opts += [f'{train_key}.pipeline.2.img_scale=({w},{h})', f'{train_key}.pipeline.3.crop_size=({h},{h})',
             f'{train_key}.pipeline.7.size=({h},{h})', f'data.val.pipeline.1.img_scale=({w},{h})',
             f'data.test.pipeline.1.img_scale=({w},{h})', 'data.samples_per_gpu=2', 'data.workers_per_gpu=0',
             'log_config.interval=1']
    return opts


def tool_env() -> dict:
    """The environment of a user's shell: the user extension importable, one thread per process."""
    path = os.pathsep.join(p for p in (str(USER_EXT), os.environ.get('PYTHONPATH')) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def run_tool(tool: str, *args: str, cwd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python tools/<tool> ARGS`` in ``cwd``; fails the test with the output when it exits non-zero."""
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / tool), *args], cwd=cwd, env=tool_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'tools/{tool} {" ".join(args)} exited {proc.returncode}:\n' \
                                 f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc
