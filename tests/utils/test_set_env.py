"""utils.set_env: mmseg 0.x's setup_multi_processes, and opencv_num_threads reaching the loader workers."""
import multiprocessing as mp
from typing import List

import cv2
import pytest
from torch.utils.data import Dataset

from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataloader
from mmseg_ddrnet.utils import set_env
from mmseg_ddrnet.utils.set_env import setup_multi_processes


@pytest.fixture
def warned(monkeypatch) -> List[str]:
    """The warnings of setup_multi_processes, the thread variables unset (tests/conftest.py restores the rest)."""
    messages: List[str] = []
    monkeypatch.setattr(set_env, 'warn_once', messages.append)
    for name in set_env.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return messages


def test_opencv_threads_default_to_zero(warned):
    cv2.setNumThreads(3)
    setup_multi_processes(Config(dict(data=dict(workers_per_gpu=1))))
    assert cv2.getNumThreads() == 1  # 0 threads: OpenCV runs sequentially
    assert set_env.opencv_worker_threads() == 0
    with pytest.raises(set_env.ConfigError, match="opencv_num_threads must be an int.*'2'"):
        setup_multi_processes(Config(dict(opencv_num_threads='2')))


def test_thread_variables_with_several_workers(warned, monkeypatch):
    import os
    setup_multi_processes(Config(dict(data=dict(workers_per_gpu=1))))
    assert not any(name in os.environ for name in set_env.THREAD_VARIABLES) and warned == []
    monkeypatch.setenv('MKL_NUM_THREADS', '4')
    setup_multi_processes(Config(dict(data=dict(workers_per_gpu=1, train_dataloader=dict(workers_per_gpu=2)))))
    assert os.environ['OMP_NUM_THREADS'] == '1' and os.environ['MKL_NUM_THREADS'] == '4'  # a user's value stays
    assert len(warned) == 1 and warned[0].startswith('Setting OMP_NUM_THREADS environment variable')


def test_start_method_replaced_with_a_warning(warned):
    mp.set_start_method('fork', force=True)
    setup_multi_processes(Config(dict(mp_start_method='spawn')))
    assert mp.get_start_method() == 'spawn'
    assert warned == ["multi-processing start method 'spawn' (mp_start_method) replaces 'fork'"]


class _OpenCVThreads(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        return dict(threads=cv2.getNumThreads())


def test_opencv_threads_reach_the_loader_workers(warned):
    """A worker applies the config's opencv_num_threads itself, whatever the parent's pool holds when it forks."""
    setup_multi_processes(Config(dict(opencv_num_threads=1, mp_start_method='fork')))
    cv2.setNumThreads(3)  # the parent's pool changed after the setup
    loader = build_dataloader(_OpenCVThreads(), samples_per_gpu=2, workers_per_gpu=1, shuffle=False, seed=0,
                              persistent_workers=False)
    assert next(iter(loader))['threads'] == [1, 1]
