"""Checkpoint I/O: atomic saves, safe loads, and errors that name the file, keys and shapes."""
import collections
import errno
import os
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from mmseg_ddrnet.checkpoint import io as ckpt
from mmseg_ddrnet.checkpoint import (get_state_dict, load_checkpoint, load_state_dict, save_checkpoint,
                                            weights_to_cpu)
from mmseg_ddrnet.utils import CheckpointError


class Tiny(nn.Module):
    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        self.conv_seg = nn.Conv2d(4, num_classes, 1)


def _state(model):
    return {'meta': {'iter': 7, 'CLASSES': ['a', 'b', 'c'], 'PALETTE': [[1, 2, 3]] * 3},
            'state_dict': get_state_dict(model)}


def test_save_load_roundtrip(tmp_path):
    src, dst = Tiny(), Tiny()
    torch.nn.init.normal_(src.conv.weight)
    src.bn.running_mean.fill_(0.5)
    path = tmp_path / 'sub' / 'a.pth'
    save_checkpoint(_state(src), path)
    loaded = load_checkpoint(dst, path)
    assert loaded['meta']['iter'] == 7 and loaded['meta']['CLASSES'] == ['a', 'b', 'c']
    for key, value in src.state_dict().items():
        assert torch.equal(dst.state_dict()[key], value), key
    assert torch.load(path, weights_only=True)['meta']['iter'] == 7
    assert os.listdir(path.parent) == ['a.pth']  # no temp file left behind


def test_crash_mid_save_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'latest.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(2)}}, path)
    good = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b'partial garbage')
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(ckpt.torch, 'save', crash)
    with pytest.raises(CheckpointError, match=r'cannot write checkpoint .*latest\.pth: \[Errno 28\] .*ENOSPC'):
        save_checkpoint({'state_dict': {'w': torch.zeros(2)}}, path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ['latest.pth']


def test_save_refuses_unsafe_objects_naming_the_key(tmp_path):
    with pytest.raises(CheckpointError, match=r'meta\.rng\.numpy.*numpy\.ndarray'):
        save_checkpoint({'meta': {'rng': {'numpy': np.zeros(3)}}}, tmp_path / 'x.pth')
    assert not os.listdir(tmp_path)


def test_ddp_prefix_stripped_and_bare_state_dict(tmp_path):
    src, dst = Tiny(), Tiny()
    bare = {f'module.{k}': v for k, v in src.state_dict().items()}
    torch.save(bare, tmp_path / 'bare.pth')
    load_checkpoint(dst, tmp_path / 'bare.pth', strict=True)
    assert torch.equal(dst.conv.weight, src.conv.weight)


def test_unwraps_data_parallel_model(tmp_path):
    src = Tiny()
    wrapped = nn.DataParallel(Tiny())
    assert list(get_state_dict(nn.DataParallel(src))) == list(src.state_dict())
    save_checkpoint({'state_dict': get_state_dict(src)}, tmp_path / 'a.pth')
    load_checkpoint(wrapped, tmp_path / 'a.pth', strict=True)
    assert torch.equal(wrapped.module.conv.weight, src.conv.weight)


def test_missing_file_named(tmp_path):
    with pytest.raises(CheckpointError, match='not found: .*nope.pth'):
        load_checkpoint(Tiny(), tmp_path / 'nope.pth')


@pytest.mark.parametrize('cut', [0, 10, 200, -100])
def test_truncated_file_named(tmp_path, cut):
    path = tmp_path / 'a.pth'
    save_checkpoint(_state(Tiny()), path)
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    with pytest.raises(CheckpointError, match=r'a\.pth'):
        load_checkpoint(Tiny(), path)


@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
def test_garbage_files_named(tmp_path):
    path = tmp_path / 'junk.pth'
    rng = np.random.RandomState(0)
    for size in [1, 2, 3, 16, 100, 1000] * 20:  # random bytes make the unpickler fail in many ways
        path.write_bytes(rng.randint(0, 256, size, dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError, match=r'junk\.pth.*(corrupt|truncated|empty|not a PyTorch checkpoint|refused)'):
            load_checkpoint(Tiny(), path)


class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
def test_pickle_needing_full_unpickling_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': Tiny().state_dict(), 'meta': {'x': Evil()}}, path)
    with pytest.raises(CheckpointError, match=r'evil\.pth: unpickling it would call posix\.system'):
        load_checkpoint(Tiny(), path)
    legacy = tmp_path / 'legacy.pkl'
    for protocol in (2, 4, 5):  # a plain pickle: the weights_only unpickler stops at an opcode, not the global
        legacy.write_bytes(pickle.dumps({'state_dict': {}, 'a': Evil()}, protocol=protocol))
        with pytest.raises(CheckpointError, match=r'legacy\.pkl: unpickling it would call posix\.system'):
            load_checkpoint(Tiny(), legacy)


def test_pickle_globals_are_read_without_running_them(tmp_path):
    from mmseg_ddrnet.checkpoint.safe_load import pickle_globals
    path = tmp_path / 'a.pkl'
    for protocol in range(0, 6):
        path.write_bytes(pickle.dumps([Evil(), collections.OrderedDict(), Evil()], protocol=protocol))
        assert pickle_globals(str(path))[:2] == ['posix.system', 'collections.OrderedDict'], protocol
    torch.save({'x': Evil()}, tmp_path / 'b.pth')  # the zip format: data.pkl inside
    assert pickle_globals(str(tmp_path / 'b.pth')) == ['posix.system']


def test_shape_mismatch_names_key_and_shapes(tmp_path):
    path = tmp_path / 'c19.pth'
    save_checkpoint(_state(Tiny(num_classes=19)), path)
    model = Tiny(num_classes=11)
    before = model.conv.weight.clone()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(model, path)
    msg = str(info.value)
    assert 'c19.pth' in msg
    assert 'conv_seg.weight: checkpoint (19, 4, 1, 1) vs model (11, 4, 1, 1)' in msg
    assert 'conv_seg.bias: checkpoint (19,) vs model (11,)' in msg
    assert 'conv.weight:' not in msg.replace('conv_seg.weight:', '')
    assert torch.equal(model.conv.weight, before)  # nothing half-loaded


def test_missing_and_unexpected_keys(caplog):
    model = Tiny()
    state = dict(model.state_dict())
    state.pop('conv.bias')
    state.pop('bn.num_batches_tracked')
    state['extra.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r'unexpected.*extra\.weight.*missing.*conv\.bias'):
        load_state_dict(model, state, strict=True)
    warnings = []
    import mmseg_ddrnet.checkpoint.io as mod
    orig = mod.print_log
    mod.print_log = lambda msg, logger=None, level=None: warnings.append(msg)
    try:
        load_state_dict(model, state, strict=False)
    finally:
        mod.print_log = orig
    assert len(warnings) == 1 and 'conv.bias' in warnings[0] and 'extra.weight' in warnings[0]
    assert 'num_batches_tracked' not in warnings[0]


def test_revise_keys_and_weights_to_cpu(tmp_path):
    src, dst = Tiny(), Tiny()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, tmp_path / 'a.pth')
    load_checkpoint(dst, tmp_path / 'a.pth', strict=True, revise_keys=[(r'^backbone\.', '')])
    assert torch.equal(dst.conv_seg.weight, src.conv_seg.weight)
    params = {'w': nn.Parameter(torch.ones(2))}
    cpu = weights_to_cpu(params)
    assert not cpu['w'].requires_grad and cpu['w'].device.type == 'cpu'


def test_not_a_state_dict(tmp_path):
    torch.save({'state_dict': {'w': 'text'}}, tmp_path / 'a.pth')
    with pytest.raises(CheckpointError, match=r'a\.pth.*w.*not tensors'):
        load_checkpoint(Tiny(), tmp_path / 'a.pth')
    torch.save([1, 2], tmp_path / 'b.pth')
    with pytest.raises(CheckpointError, match=r'b\.pth.*list'):
        load_checkpoint(Tiny(), tmp_path / 'b.pth')


def test_another_architecture_is_an_error_even_when_not_strict(tmp_path):
    class Other(nn.Module):  # shares a name with Tiny, not the shapes
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.fc = nn.Linear(8, 2)
    save_checkpoint({'state_dict': Other().state_dict()}, tmp_path / 'other.pth')
    for kwargs in (dict(), dict(skip_mismatched=True)):
        with pytest.raises(CheckpointError, match=r'other\.pth: checkpoint does not fit this Tiny: only 0 of its '
                                                  r'8 tensors .*conv\.weight: checkpoint \(8, 3, 3, 3\)'):
            load_checkpoint(Tiny(), tmp_path / 'other.pth', **kwargs)
    save_checkpoint({'state_dict': {'fc.weight': torch.zeros(2, 8)}}, tmp_path / 'disjoint.pth')
    with pytest.raises(CheckpointError, match=r'disjoint\.pth: checkpoint is for another model: none of its 1'):
        load_checkpoint(Tiny(), tmp_path / 'disjoint.pth')
    fine_tune = Tiny(num_classes=5).state_dict()  # another classifier only: skipped with a warning
    save_checkpoint({'state_dict': fine_tune}, tmp_path / 'five.pth')
    load_checkpoint(Tiny(), tmp_path / 'five.pth', skip_mismatched=True)
