"""utils.device: the one home of device placement (select_device, process_device, model_device) and its callers."""
import pytest
import torch
from torch import nn

from mmseg_ddrnet.utils import ConfigError
from mmseg_ddrnet.utils import device as device_mod
from mmseg_ddrnet.utils.device import model_device, process_device, select_device, to_device


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def test_select_device_reads_names_and_devices(no_cuda):
    assert select_device('cpu') == torch.device('cpu')
    assert select_device(torch.device('cpu')) == torch.device('cpu')
    assert select_device(None) == torch.device('cpu')  # the process's device: no CUDA here


@pytest.mark.parametrize('value', ['gpu', 'cuda:x', 'tpu0', 3.5])
def test_select_device_names_an_unknown_device(value):
    with pytest.raises(ConfigError, match='invalid device') as err:
        select_device(value)
    assert repr(value) in str(err.value)


@pytest.mark.parametrize('value', ['cuda', 'cuda:1', torch.device('cuda', 0)])
def test_select_device_refuses_cuda_without_cuda(no_cuda, value):
    with pytest.raises(ConfigError, match='CUDA is not available') as err:
        select_device(value)
    assert repr(value) in str(err.value)


def test_process_device_is_the_cpu_without_cuda(no_cuda):
    assert process_device(3, distributed=False) == torch.device('cpu')
    assert process_device(None, distributed=True) == torch.device('cpu')


def test_process_device_picks_the_gpu_id_or_the_local_rank(monkeypatch):
    current = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'set_device', current.append)
    monkeypatch.setenv('LOCAL_RANK', '3')
    assert process_device(1, distributed=False) == torch.device('cuda', 1)
    assert process_device(None, distributed=False) == torch.device('cuda', 0)
    assert process_device(0, distributed=True) == torch.device('cuda', 1)  # local rank 3 on 2 GPUs
    assert current == [1, 0, 1]


def test_model_device_and_to_device():
    assert model_device(nn.Conv2d(1, 1, 1)) == torch.device('cpu')
    assert model_device(nn.ReLU()) == torch.device('cpu')  # no parameters
    moved = to_device({'a': [torch.zeros(1)], 'b': 'text'}, torch.device('cpu'))
    assert moved['b'] == 'text' and moved['a'][0].device.type == 'cpu'


def test_callers_refuse_cuda_without_cuda(no_cuda):
    """The runner, mixed precision and the deploy preparation all go through select_device."""
    from mmseg_ddrnet.engine.amp import MixedPrecision
    from mmseg_ddrnet.models import prepare_for_inference
    with pytest.raises(ConfigError, match="device 'cuda:0' requested"):
        MixedPrecision('cuda:0')
    with pytest.raises(ConfigError, match="device 'cuda' requested"):
        prepare_for_inference(nn.Conv2d(1, 1, 1), device='cuda', retain_memory=False)


def test_no_second_home_for_device_helpers():
    """dist.py no longer holds device helpers (one home: utils.device)."""
    from mmseg_ddrnet.utils import dist
    for name in ('get_device', 'to_device', 'model_device', 'check_gpu_id'):
        assert not hasattr(dist, name), name
    assert hasattr(device_mod, 'check_gpu_id')
