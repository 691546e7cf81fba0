"""Behaviour under an initialised (single-rank, gloo) process group: SyncBN on CPU, parse_losses."""
import pytest
import torch
import torch.nn as nn

from mmseg_ddrnet.models import SyncBatchNorm, parse_losses



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
