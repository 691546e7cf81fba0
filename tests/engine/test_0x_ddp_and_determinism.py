"""mmseg 0.x training semantics: the DDP wrapper's arguments and what ``--deterministic`` does (and does not)."""
import pytest
import torch
import torch.distributed as dist
from torch import nn

from mmseg_ddrnet.config import Config
from mmseg_ddrnet.engine.rng import set_random_seed


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo process group of one rank (no other process needed)."""
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize('find_unused', [False, True])
@pytest.mark.filterwarnings('error::FutureWarning')
def test_ddp_wrapper_as_mmcv_0x(one_rank_group, find_unused):
    """0.x train_segmentor: MMDistributedDataParallel(broadcast_buffers=False,
    find_unused_parameters=cfg.find_unused_parameters); on CPU no device_ids."""
    from mmseg_ddrnet.apis.train import _place_model
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    cfg = Config(dict(find_unused_parameters=find_unused, gpu_ids=[0]))
    wrapped, device = _place_model(model, cfg, distributed=True)
    assert isinstance(wrapped, nn.parallel.DistributedDataParallel) and device == torch.device('cpu')
    # no buffer sync at each forward (torch >= 2.13: forward_sync_buffers; the deprecated broadcast_buffers before)
    assert getattr(wrapped, 'forward_sync_buffers', getattr(wrapped, 'broadcast_buffers', None)) is False
    assert wrapped.find_unused_parameters is find_unused
    assert wrapped.device_ids is None


def test_deterministic_is_cudnn_only_as_0x(monkeypatch):
    """--deterministic: cuDNN deterministic, no benchmark, seeds; it does not force deterministic algorithms."""
    monkeypatch.setattr(torch.backends.cudnn, 'deterministic', False)
    monkeypatch.setattr(torch.backends.cudnn, 'benchmark', True)
    set_random_seed(3, deterministic=True)
    assert torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark is False
    assert not torch.are_deterministic_algorithms_enabled()
    first = torch.rand(2)
    set_random_seed(3)
    assert torch.equal(first, torch.rand(2))
