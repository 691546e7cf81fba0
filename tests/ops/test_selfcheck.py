"""The first-call self-check: a kernel that disagrees with the reference (or raises) is never used."""
import logging

import pytest
import torch
import torch.nn.functional as F

from mmseg_ddrnet import ops
from mmseg_ddrnet.ops import compiled, dispatch, reference as ref, selfcheck

OPS = ('resize_argmax', 'seg_cross_entropy', 'confusion_matrix')


@pytest.fixture
def log(monkeypatch):
    """(level, message) of the package logger's records; the 'logged once' memory is reset."""
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append((record.levelname, record.getMessage()))
    handler = Collect()
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(handler)
    monkeypatch.setattr(dispatch, '_logged', set())
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def cpu_check(monkeypatch, device):
    """The CPU self-check switched on, with no verdict remembered before or after the test."""
    if device != 'cpu':
        pytest.skip('drives the CPU switch')
    monkeypatch.setenv(selfcheck.SELFCHECK_CPU_ENV, '1')
    selfcheck.reset()
    yield
    selfcheck.reset()


def _inputs():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=gen)
    label = torch.randint(0, 3, (2, 9, 11), generator=gen)
    return logits, label


def _call(op):
    logits, label = _inputs()
    if op == 'resize_argmax':
        return ops.resize_argmax(logits, (9, 11))
    if op == 'seg_cross_entropy':
        return ops.seg_cross_entropy(logits, label)
    return ops.confusion_matrix(label, label.flip(0), 3)


def _expected(op):
    logits, label = _inputs()
    if op == 'resize_argmax':
        return ref.resize_argmax(logits, (9, 11))
    if op == 'seg_cross_entropy':
        return ref.seg_cross_entropy(logits, label)
    return ref.confusion_matrix(label, label.flip(0), 3)


def _wrong(op, calls):
    """A stand-in for the compiled op that returns plausible but wrong values."""
    original = getattr(compiled, op)

    def wrong(*args, **kwargs):
        calls.append(op)
        out = original(*args, **kwargs)
        return out.flip(-1) if op == 'resize_argmax' else out * 2 if op == 'seg_cross_entropy' else out.t()
    return wrong


def test_the_cpu_check_is_off_by_default(monkeypatch, device, log):
    if device != 'cpu':
        pytest.skip('the CPU switch')
    monkeypatch.delenv(selfcheck.SELFCHECK_CPU_ENV, raising=False)
    calls = []
    monkeypatch.setattr(compiled, 'resize_argmax', _wrong('resize_argmax', calls))
    assert not selfcheck.wanted(torch.device('cpu')) and selfcheck.wanted(torch.device('cuda', 0))
    assert not torch.equal(_call('resize_argmax'), _expected('resize_argmax'))  # unchecked: the kernel ran
    assert calls == ['resize_argmax'] and not [m for level, m in log if level == 'WARNING']


def test_the_real_kernels_pass(cpu_check, log):
    for op in OPS:
        assert selfcheck.problem(op, torch.device('cpu'), dispatch.loaded_ext()[0]) == ''
        assert torch.equal(_call(op), _expected(op))
    assert not [m for level, m in log if level == 'WARNING']
    assert sum('using the compiled mmcv_ext kernels' in m for _, m in log) == len(OPS)


@pytest.mark.parametrize('op', OPS)
def test_a_wrong_kernel_falls_back_to_the_reference_with_one_warning(cpu_check, monkeypatch, log, op):
    calls = []
    monkeypatch.setattr(compiled, op, _wrong(op, calls))
    for _ in range(3):
        assert torch.equal(_call(op), _expected(op))
    n_check = len(calls)
    assert n_check >= 1  # the self-check ran the (wrong) kernel, the calls themselves did not
    _call(op)
    assert len(calls) == n_check
    warnings = [m for level, m in log if level == 'WARNING']
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f'mmseg_ddrnet.ops.{op}: the mmcv_ext kernel failed its first-call '
                                  'self-check on cpu (')
    assert warnings[0].endswith('using the reference implementation on cpu from now on')
    other = next(o for o in OPS if o != op)  # the verdict is per op: the others keep their kernels
    assert selfcheck.problem(other, torch.device('cpu'), dispatch.loaded_ext()[0]) == ''


def test_a_raising_kernel_falls_back(cpu_check, monkeypatch, log):
    def cuda_error(*args, **kwargs):
        raise RuntimeError('CUDA error: an illegal memory access was encountered\nmore details')
    monkeypatch.setattr(compiled, 'seg_cross_entropy', cuda_error)
    assert torch.equal(_call('seg_cross_entropy'), _expected('seg_cross_entropy'))
    warnings = [m for level, m in log if level == 'WARNING']
    assert len(warnings) == 1
    assert ('(the kernel raised RuntimeError: CUDA error: an illegal memory access was encountered)'
            in warnings[0])
    assert 'seg_cross_entropy' in warnings[0]


def test_a_later_call_on_a_checked_device_reuses_the_verdict(cpu_check, monkeypatch):
    ext = dispatch.loaded_ext()[0]
    assert selfcheck.problem('resize_argmax', torch.device('cpu'), ext) == ''
    calls = []
    monkeypatch.setattr(compiled, 'resize_argmax', _wrong('resize_argmax', calls))
    assert selfcheck.problem('resize_argmax', torch.device('cpu'), ext) == ''  # not checked again
    assert calls == []
    selfcheck.reset()
    assert 'argmax' in selfcheck.problem('resize_argmax', torch.device('cpu'), ext)


def test_the_fixed_inputs_leave_room_for_rounding():
    """No near-tie in the inputs: a correct kernel on any device (FMA, another summation order)
    passes; the margins measured here are >= 3.5e-3 (argmax) and 4.8e-3 (OHEM threshold)."""
    logits = selfcheck.fixed_logits('cpu')
    for size, align_corners in (((11, 13), False), ((11, 13), True), ((5, 6), False), ((3, 4), False)):
        top2 = ref.upsample(logits, size, align_corners).topk(2, dim=1).values
        assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-3
    for size in ((11, 13), (5, 6)):
        label = selfcheck.fixed_label('cpu', size)
        x, valid = ref.upsample(logits, size, False), label != selfcheck.IGNORE
        prob = F.softmax(x, 1).gather(1, label.clamp(max=3).unsqueeze(1)).squeeze(1)[valid]
        assert float(prob.sort().values[20]) < 0.7  # the threshold is 0.7 itself ...
        assert float((prob - 0.7).abs().min()) > 1e-3  # ... and no pixel is near it


def test_cuda_kernels_pass_on_this_gpu(device):
    if device != 'cuda':
        pytest.skip('needs CUDA')
    ext = dispatch.loaded_ext()[0]
    for op in OPS:
        assert selfcheck.problem(op, torch.device('cuda', torch.cuda.current_device()), ext) == ''


def test_the_image_kernels_are_checked_too(cpu_check, monkeypatch, log):
    """resize_crop and read_png_rows (data pipeline, CPU only) behind the same switch."""
    import types

    import cv2
    import numpy as np

    from mmseg_ddrnet.ops import image
    real = dispatch.loaded_ext()[0]
    for op in ('resize_crop', 'read_png_rows'):
        assert selfcheck.problem(op, torch.device('cpu'), real, image._CHECKS[op]) == ''
    selfcheck.reset()
    calls = []

    def wrong_resize_crop(*args):
        calls.append(1)
        return real.resize_crop(*args) // 2

    def wrong_unfilter(*args):
        out = real.png_unfilter(*args)
        out[..., 0] = 0
        return out
    fake = types.SimpleNamespace(resize_crop=wrong_resize_crop, png_unfilter=wrong_unfilter,
                                 build_info=real.build_info)
    monkeypatch.setattr(dispatch, 'loaded_ext', lambda: (fake, ''))
    img = np.random.RandomState(0).randint(0, 256, (20, 30, 3)).astype(np.uint8)
    out = image.resize_crop(img, (60, 90), (10, 40, 20, 70))
    assert np.array_equal(out, image.resize_crop_reference(img, (60, 90), (10, 40, 20, 70)))
    n_check = len(calls)
    assert n_check >= 1  # the self-check ran the wrong kernel
    image.resize_crop(img, (60, 90), (10, 40, 20, 70))
    assert len(calls) == n_check  # the kernel is not used after failing
    data = cv2.imencode('.png', img)[1].tobytes()
    assert np.array_equal(image.read_png_rows(data, None, 'a.png'), img)
    warnings = [m for level, m in log if level == 'WARNING']
    assert len(warnings) == 2 and warnings[0].startswith('mmseg_ddrnet.ops.resize_crop: the mmcv_ext kernel failed')
    assert warnings[1].startswith('mmseg_ddrnet.ops.read_png_rows: the mmcv_ext kernel failed')


def test_a_first_call_under_no_grad_autocast_or_deterministic_mode_still_passes(cpu_check, log):
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            assert torch.equal(_call('seg_cross_entropy'), _expected('seg_cross_entropy'))
            assert torch.are_deterministic_algorithms_enabled()  # the caller's settings are back
        finally:
            torch.use_deterministic_algorithms(False)
    with torch.inference_mode():
        _call('resize_argmax')
    assert not [m for level, m in log if level == 'WARNING']
