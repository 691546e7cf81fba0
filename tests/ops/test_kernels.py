"""The compiled kernels against the reference implementations (CPU, and CUDA when present)."""
import pytest
import torch

from mmseg_ddrnet import ops
from mmseg_ddrnet.ops import compiled, dispatch, reference as ref
from mmseg_ddrnet.utils import DataError

HALF_TOL = dict(rtol=1e-5, atol=1e-5)


def ext():
    return dispatch.loaded_ext()[0]


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('shape,size', [((2, 19, 16, 32), (128, 256)), ((3, 5, 7, 9), (23, 31)),
                                        ((1, 4, 13, 11), (5, 6)), ((1, 3, 1, 1), (4, 3))])
def test_resize_argmax_matches_reference(device, shape, size, align_corners):
    logits = torch.randn(*shape, device=device)
    out = ops.resize_argmax(logits, size, align_corners)
    assert out.dtype == torch.int64 and out.shape == (shape[0], *size)
    expected = ref.resize_argmax(logits, size, align_corners)
    assert (out == expected).float().mean().item() >= 0.9999


@pytest.mark.parametrize('align_corners', [False, True])
def test_resize_argmax_exact_without_ties(device, align_corners):
    # the best class wins by >= 0.5 everywhere, so any rounding difference cannot flip it
    n, c, h, w = 2, 7, 9, 13
    best = torch.randint(0, c, (n, 1, 1, 1), device=device)
    logits = torch.rand(n, c, h, w, device=device) * 0.5
    logits.scatter_add_(1, best.expand(n, 1, h, w), torch.ones(n, 1, h, w, device=device))
    out = ops.resize_argmax(logits, (37, 41), align_corners)
    assert torch.equal(out, ref.resize_argmax(logits, (37, 41), align_corners))
    assert torch.equal(out, best.view(n, 1, 1).expand(n, 37, 41))


def test_resize_argmax_ties_take_the_first_class(device):
    logits = torch.zeros(2, 4, 3, 3, device=device)
    assert torch.count_nonzero(ops.resize_argmax(logits, (8, 8))) == 0
    logits[:, 2:] = 1.0
    assert torch.all(ops.resize_argmax(logits, (8, 8)) == 2)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float64])
def test_resize_argmax_dtypes_compute_like_float32_reference(device, dtype):
    logits = torch.randn(2, 6, 8, 10, device=device).to(dtype)
    out = ops.resize_argmax(logits, (33, 47))
    assert (out == ref.resize_argmax(logits, (33, 47))).float().mean().item() >= 0.9999


CE_CASES = [dict(), dict(avg_non_ignore=True), dict(weight=[0.5, 1.0, 2.0, 0.1, 3.0]),
            dict(weight=[0.5, 1.0, 2.0, 0.1, 3.0], avg_non_ignore=True),
            dict(thres=0.7, min_kept=50), dict(thres=0.3, min_kept=10**6),
            dict(thres=0.99, min_kept=0), dict(thres=0.7, min_kept=40, weight=[1, 2, 3, 4, 5])]


def _loss_and_grad(fn, logits, label, **kw):
    x = logits.detach().clone().requires_grad_()
    loss = fn(x, label, **kw)
    loss.backward()
    return loss.detach(), x.grad


@pytest.mark.parametrize('kw', CE_CASES)
@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('shape,size', [((2, 5, 8, 12), (61, 93)), ((1, 5, 7, 5), (7, 5)),
                                        ((3, 5, 4, 4), (3, 5))])
def test_seg_cross_entropy_matches_reference(device, random_labels, kw, align_corners, shape, size):
    logits = torch.randn(*shape, device=device) * 3
    label = random_labels(shape[0], *size, num_classes=shape[1], device=device)
    loss, grad = _loss_and_grad(ops.seg_cross_entropy, logits, label, align_corners=align_corners, **kw)
    exp_loss, exp_grad = _loss_and_grad(ref.seg_cross_entropy, logits, label,
                                        align_corners=align_corners, **kw)
    assert loss.dtype == torch.float32 and loss.shape == ()
    torch.testing.assert_close(loss, exp_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, exp_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('kw', [dict(), dict(avg_non_ignore=True), dict(thres=0.7, min_kept=5)])
def test_seg_cross_entropy_all_ignored_is_zero_with_zero_grad(device, kw):
    logits = torch.randn(2, 3, 4, 4, device=device)
    label = torch.full((2, 1, 9, 9), 255, device=device)
    loss, grad = _loss_and_grad(ops.seg_cross_entropy, logits, label, **kw)
    assert loss.item() == 0.0 and torch.count_nonzero(grad) == 0


def test_seg_cross_entropy_one_class_and_custom_ignore_index(device, random_labels):
    logits = torch.randn(2, 1, 3, 3, device=device)
    label = torch.zeros(2, 7, 7, dtype=torch.long, device=device)
    loss, grad = _loss_and_grad(ops.seg_cross_entropy, logits, label, thres=0.5)
    assert loss.item() == 0.0  # p = 1 everywhere: no hard pixel
    logits = torch.randn(2, 4, 3, 3, device=device)
    label = random_labels(2, 7, 7, 4, device, ignore_index=-1)
    for kw in (dict(), dict(thres=0.6, min_kept=3)):
        got = _loss_and_grad(ops.seg_cross_entropy, logits, label, ignore_index=-1, **kw)
        want = _loss_and_grad(ref.seg_cross_entropy, logits, label, ignore_index=-1, **kw)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_seg_cross_entropy_half_inputs_compute_in_float32(device, random_labels, dtype):
    logits = torch.randn(2, 5, 6, 7, device=device).to(dtype)
    label = random_labels(2, 21, 19, 5, device)
    for kw in (dict(), dict(thres=0.7, min_kept=20)):
        loss, grad = _loss_and_grad(ops.seg_cross_entropy, logits, label, **kw)
        exp_loss, exp_grad = _loss_and_grad(ref.seg_cross_entropy, logits, label, **kw)
        assert loss.dtype == torch.float32 and grad.dtype == dtype
        torch.testing.assert_close(loss, exp_loss, **HALF_TOL)
        torch.testing.assert_close(grad, exp_grad, rtol=1e-2, atol=1e-5)


@pytest.mark.parametrize('kw', [dict(), dict(avg_non_ignore=True, weight=[0.3, 2.0, 1.0]),
                                dict(thres=0.8, min_kept=4, align_corners=True)])
def test_seg_cross_entropy_gradcheck_double(device, random_labels, kw):
    logits = torch.randn(2, 3, 3, 4, dtype=torch.float64, device=device, requires_grad=True)
    label = random_labels(2, 7, 9, 3, device)
    # CUDA scatters the gradient with atomics: the order of its additions varies between runs
    nondet_tol = 1e-12 if device == 'cuda' else 0.0
    assert torch.autograd.gradcheck(lambda x: ops.seg_cross_entropy(x, label, **kw), (logits,),
                                    nondet_tol=nondet_tol)


@pytest.mark.parametrize('use_ext', [True, False])
def test_seg_cross_entropy_bad_ohem_options_are_config_errors(device, use_ext):
    from mmseg_ddrnet.utils import ConfigError
    logits, label = torch.randn(1, 3, 2, 2, device=device), torch.zeros(1, 4, 4, dtype=torch.long, device=device)
    with ops.use_ext(use_ext):
        with pytest.raises(ConfigError, match='min_kept'):
            ops.seg_cross_entropy(logits, label, thres=0.7, min_kept=-1)
        with pytest.raises(ConfigError, match='thres'):
            ops.seg_cross_entropy(logits, label, thres='0.7')


def test_seg_cross_entropy_bad_labels_are_user_errors(device):
    logits = torch.randn(1, 3, 2, 2, device=device)
    label = torch.zeros(1, 4, 4, dtype=torch.long, device=device)
    label[0, 1, 1] = 7
    with pytest.raises(DataError, match=r'label values \[7\]'):
        ops.seg_cross_entropy(logits, label)


@pytest.mark.parametrize('num_classes', [1, 19, 150])
@pytest.mark.parametrize('dtypes', [(torch.int64, torch.int64), (torch.uint8, torch.int32),
                                    (torch.int16, torch.uint8)])
def test_confusion_matrix_matches_reference(device, num_classes, dtypes):
    gen = torch.Generator().manual_seed(num_classes)
    label = torch.randint(0, min(num_classes + 2, 255), (3, 67, 91), generator=gen)
    label[label >= num_classes + 1] = 255  # ignored; num_classes itself is out of range
    pred = torch.randint(0, num_classes, (3, 67, 91), generator=gen)
    pred, label = pred.to(device, dtypes[0]), label.to(device, dtypes[1])
    out = ops.confusion_matrix(pred, label, num_classes)
    assert out.dtype == torch.int64 and out.shape == (num_classes, num_classes)
    assert torch.equal(out, ref.confusion_matrix(pred, label, num_classes))
    valid = label.long() < num_classes
    assert int(out.sum()) == int(valid.sum())


def test_confusion_matrix_bad_prediction_is_a_user_error(device):
    with pytest.raises(DataError, match=r'outside \[0, 4\)'):
        ops.confusion_matrix(torch.tensor([1, 4], device=device), torch.tensor([0, 1], device=device), 4)


def test_kernels_are_the_ones_running(device, monkeypatch):
    """The public ops really call the compiled kernels here (not the reference)."""
    def fail(*args, **kwargs):
        raise AssertionError('reference called')
    logits = torch.randn(1, 3, 4, 4, device=device)
    label = torch.zeros(1, 8, 8, dtype=torch.long, device=device)
    ops.resize_argmax(logits, (8, 8))  # the first calls run the self-check (on CUDA), which needs the reference
    ops.seg_cross_entropy(logits, label)
    ops.confusion_matrix(label, label, 3)
    for name in ('resize_argmax', 'seg_cross_entropy', 'confusion_matrix'):
        monkeypatch.setattr(ref, name, fail)
    ops.resize_argmax(logits, (8, 8))
    ops.seg_cross_entropy(logits, label)
    ops.confusion_matrix(label, label, 3)
    assert compiled.unsupported_reason(ext(), logits) == ''
