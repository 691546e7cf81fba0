"""utils.dist.dist_init_args: the one place tools/train.py and tools/test.py get init_dist's arguments from."""
from typing import List

import pytest
import torch

from mmseg_ddrnet.utils import dist as dist_mod
from mmseg_ddrnet.utils.dist import dist_init_args


@pytest.fixture
def warned(monkeypatch) -> List[str]:
    """No CUDA; the warnings dist_init_args gives."""
    messages: List[str] = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(dist_mod, 'warn_once', messages.append)
    return messages


def test_nccl_from_the_config_becomes_gloo_without_cuda(warned):
    assert dist_init_args(dict(backend='nccl', port=29511, timeout=60)) == dict(backend='gloo', port=29511,
                                                                                timeout=60)
    assert warned == ['dist_params.backend is nccl but CUDA is not available: using gloo']


def test_explicit_backend_wins_and_is_kept(warned):
    assert dist_init_args(dict(backend='gloo'), backend='nccl') == dict(backend='nccl')  # init_dist names it
    assert warned == []


def test_default_backend_and_ignored_keys(warned):
    assert dist_init_args(None) == dict(backend='gloo')
    assert dist_init_args(dict(init_method='tcp://x:1', port=None)) == dict(backend='gloo')
    assert warned == ["dist_params: ['init_method'] ignored (read: backend, port, timeout)"]
