"""Engine helpers: RNG states in checkpoints, resumable data iteration, log averaging, hooks order, AMP, dist."""
import os
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

from mmseg_ddrnet.apis.train import find_latest_checkpoint
from mmseg_ddrnet.engine.hooks import Hook, get_priority
from mmseg_ddrnet.engine import IterLoader, build_mixed_precision
from mmseg_ddrnet.utils.device import to_device
from mmseg_ddrnet.engine.base_runner import BaseRunner
from mmseg_ddrnet.checkpoint import save_checkpoint
from mmseg_ddrnet.engine.data_iter import epoch_iterator
from mmseg_ddrnet.utils.dist import get_dist_info, init_dist
from mmseg_ddrnet.engine.log_buffer import LogBuffer
from mmseg_ddrnet.engine.rng import get_rng_state, init_random_seed, set_random_seed, set_rng_state
from mmseg_ddrnet.utils import ConfigError, DataError


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_survives_a_weights_only_checkpoint(tmp_path):
    set_random_seed(123)
    _draws()
    save_checkpoint({'rng': [get_rng_state()]}, tmp_path / 'r.pth')
    expected = _draws()
    _draws()
    set_rng_state(torch.load(tmp_path / 'r.pth', weights_only=True)['rng'][0])
    assert _draws() == expected


def test_seeds():
    assert init_random_seed(5) == 5 and isinstance(init_random_seed(), int)
    set_random_seed(7)
    first = _draws()
    set_random_seed(7)
    assert _draws() == first
    assert get_dist_info() == (0, 1)
    with pytest.raises(ConfigError, match="invalid launcher 'lsf'; choose one of pytorch, slurm, mpi"):
        init_dist('lsf')


def test_loader_resumes_mid_epoch_with_the_same_batches():
    data = list(range(10))
    loader = DataLoader(data, batch_size=3, sampler=RandomSampler(data), drop_last=True)
    full = IterLoader(loader, seed=4)
    straight = [next(full).tolist() for _ in range(8)]  # 3 batches per epoch: crosses two epochs
    assert full.epoch == 2 and len(set(sum(straight[:3], []))) == 9  # an epoch: 9 distinct samples
    resumed = IterLoader(loader, seed=4, start_iter=4)
    assert (resumed.epoch, resumed.inner_iter) == (1, 0)
    assert [next(resumed).tolist() for _ in range(4)] == straight[4:]
    assert list(map(torch.Tensor.tolist, epoch_iterator(loader, 1, 4, skip=2))) == [straight[5]]
    assert straight[:3] != straight[3:6]  # a new order each epoch


def test_empty_loader_is_a_data_error():
    with pytest.raises(DataError, match='3 sample.*batches of 4 with drop_last=True.*samples_per_gpu'):
        IterLoader(DataLoader([1, 2, 3], batch_size=4, drop_last=True))


def test_creating_iterators_does_not_touch_the_global_rng():
    loader = DataLoader(list(range(6)), batch_size=2, sampler=RandomSampler(list(range(6))))
    torch.manual_seed(0)
    before = torch.get_rng_state()
    next(IterLoader(loader, seed=1, start_iter=1))
    assert torch.equal(torch.get_rng_state(), before)


def test_log_buffer_weighted_average():
    buf = LogBuffer()
    buf.update({'loss': 1.0}, count=2)
    buf.update({'loss': 4.0}, count=1)
    buf.update({'loss': 10.0}, count=1)
    buf.average(2)
    assert buf.output['loss'] == pytest.approx(7.0) and buf.ready
    buf.average()
    assert buf.output['loss'] == pytest.approx((2 + 4 + 10) / 4)
    buf.clear_output()
    assert not buf.output and not buf.ready


def test_hook_priorities_keep_registration_order_within_a_priority(tmp_path):
    class Named(Hook):
        def __init__(self, name):
            self.name = name

    runner = BaseRunner(torch.nn.Linear(1, 1), work_dir=str(tmp_path))
    for name, priority in (('a', 'LOW'), ('b', 'HIGHEST'), ('c', 'LOW'), ('d', 55), ('e', 'VERY_LOW')):
        runner.register_hook(Named(name), priority)
    assert [h.name for h in runner.hooks] == ['b', 'd', 'a', 'c', 'e']
    assert get_priority('normal') == 50
    with pytest.raises(ValueError, match='priority'):
        get_priority('URGENT')


def test_mixed_precision_config():
    cpu = torch.device('cpu')
    assert not build_mixed_precision(None, cpu).enabled
    amp = build_mixed_precision(dict(loss_scale='dynamic'), cpu)
    assert amp.enabled and amp.dtype == torch.bfloat16 and amp.scaler is None
    with pytest.raises(ConfigError, match='unknown key'):
        build_mixed_precision(dict(scale=2.), cpu)


def test_to_device_and_find_latest_checkpoint(tmp_path):
    batch = {'img': torch.ones(1), 'img_metas': [{'a': 1}], 'nested': (torch.zeros(1), 'x')}
    moved = to_device(batch, torch.device('cpu'))
    assert moved['img_metas'] == [{'a': 1}] and moved['nested'][1] == 'x' and torch.equal(moved['img'], batch['img'])
    assert find_latest_checkpoint(str(tmp_path)) is None
    for name in ('iter_2.pth', 'iter_10.pth', 'best_mIoU_iter_12.pth'):
        torch.save({'meta': {}}, tmp_path / name)
    assert find_latest_checkpoint(str(tmp_path)).endswith('iter_10.pth')
    torch.save({'meta': {}}, tmp_path / 'latest.pth')
    assert find_latest_checkpoint(str(tmp_path)).endswith('latest.pth')


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm', 'mpi'])
def test_init_dist_single_process_group(launcher, monkeypatch):
    import torch.distributed as dist
    from mmseg_ddrnet.utils import dist as dist_helpers
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    port = _free_port()
    if launcher == 'pytorch':
        for key, value in (('RANK', '0'), ('WORLD_SIZE', '1'), ('MASTER_ADDR', '127.0.0.1'),
                           ('MASTER_PORT', str(port))):
            monkeypatch.setenv(key, value)
        init_dist('pytorch', backend='gloo')
    elif launcher == 'mpi':  # mpirun -np 1 -x MASTER_ADDR=127.0.0.1
        with pytest.raises(ConfigError, match='--launcher mpi needs the environment variable OMPI_COMM_WORLD_RANK'):
            init_dist('mpi', backend='gloo')
        for key, value in (('OMPI_COMM_WORLD_RANK', '0'), ('OMPI_COMM_WORLD_SIZE', '1'),
                           ('OMPI_COMM_WORLD_LOCAL_RANK', '0')):
            monkeypatch.setenv(key, value)
        with pytest.raises(ConfigError, match='--launcher mpi needs MASTER_ADDR'):
            init_dist('mpi', backend='gloo')
        monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
        init_dist('mpi', backend='gloo', port=port)
        assert os.environ['RANK'] == '0' and os.environ['WORLD_SIZE'] == '1' and os.environ['MASTER_PORT'] == str(port)
    else:
        for key, value in (('SLURM_PROCID', '0'), ('SLURM_NTASKS', '1'), ('SLURM_NODELIST', 'node[1-2]')):
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(dist_helpers.subprocess, 'getoutput', lambda cmd: '127.0.0.1')
        init_dist('slurm', backend='gloo', port=port)
        assert os.environ['MASTER_ADDR'] == '127.0.0.1' and os.environ['MASTER_PORT'] == str(port)
    try:
        assert dist.is_initialized() and dist.get_backend() == 'gloo' and get_dist_info() == (0, 1)
    finally:
        dist.destroy_process_group()
    if launcher in ('slurm', 'mpi'):
        for key in ('MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK'):
            os.environ.pop(key, None)
