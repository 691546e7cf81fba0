"""Behaviour under an initialised (single-rank, gloo) process group: SyncBN on CPU, parse_losses."""
import pytest
import torch
import torch.distributed as dist
import torch.nn as nn

from mmseg_ddrnet.models import SyncBatchNorm, parse_losses


@pytest.fixture
def gloo_group(tmp_path):
    if not dist.is_available() or dist.is_initialized():
        pytest.skip('torch.distributed unavailable or already initialised')
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_syncbn_on_cpu_under_gloo_falls_back_instead_of_failing(gloo_group, fresh_warnings):
    x = torch.randn(4, 3, 5, 5)
    with pytest.raises(ValueError, match='GPU'):
        nn.SyncBatchNorm(3)(x)  # PyTorch's own layer refuses CPU tensors once a process group exists
    sync, plain = SyncBatchNorm(3), nn.BatchNorm2d(3)
    torch.testing.assert_close(sync(x), plain(x))
    torch.testing.assert_close(sync.running_mean, plain.running_mean)


def test_parse_losses_reduces_log_vars_over_ranks(gloo_group):
    loss, log_vars = parse_losses({'decode.loss_ce': torch.tensor([1.0, 2.0]), 'decode.acc_seg': torch.tensor(40.0)})
    assert loss.item() == 1.5 and dict(log_vars) == {'decode.loss_ce': 1.5, 'decode.acc_seg': 40.0, 'loss': 1.5}
