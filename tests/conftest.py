"""Shared fixtures: paths to the real CamVid data and the mmsegmentation reference, when present."""
import os
from pathlib import Path

import pytest

from prerequisites import require_reference
from tiny_seg import setup as setup_tiny_seg

REPO_ROOT = Path(__file__).resolve().parents[1]
CAMVID_ROOT = Path(os.environ.get('CAMVID_ROOT', REPO_ROOT.parent / 'shared' / 'data' / 'camvid'))


@pytest.fixture(autouse=True)
def _process_setup_restored(monkeypatch):
    """Tools run in-process call setup_multi_processes (OpenCV threads, OMP/MKL_NUM_THREADS, the start method):
    each test starts from the session's settings."""
    import multiprocessing as mp

    import cv2
    from mmseg_ddrnet.utils import set_env
    threads, method = cv2.getNumThreads(), mp.get_start_method(allow_none=True)
    for name in set_env.THREAD_VARIABLES:  # restored (or removed again) after the test
        monkeypatch.setenv(name, os.environ[name]) if name in os.environ else monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(set_env, '_opencv_threads', None)
    yield
    cv2.setNumThreads(threads)
    if mp.get_start_method(allow_none=True) != method:
        mp.set_start_method(method, force=True)


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def camvid_root() -> Path:
    if not (CAMVID_ROOT / 'train').is_dir():
        pytest.skip(f'CamVid not found at {CAMVID_ROOT}')
    return CAMVID_ROOT


@pytest.fixture(scope='session')
def mmseg_reference_python() -> str:
    """Path of a python with mmsegmentation 1.2.2 (MMSEG_REFERENCE_PYTHON); skips when absent, fails under CI."""
    return require_reference()


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """``(folder, config, checkpoint)`` of a tiny DDRNet on a tiny CamVid-layout dataset (``tiny_seg.py``),
    made once per test module: the deploy, demo and analysis tools run on it."""
    tmp = tmp_path_factory.mktemp('tiny_seg')
    _, config, checkpoint = setup_tiny_seg(tmp)
    return tmp, str(config), str(checkpoint)


@pytest.fixture
def gloo_group(tmp_path):
    """A single-rank gloo process group, as ``train_dist.sh CONFIG 1`` creates on a machine without GPUs."""
    import torch.distributed as dist
    if not dist.is_available() or dist.is_initialized():
        pytest.skip('torch.distributed unavailable or already initialised')
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()
