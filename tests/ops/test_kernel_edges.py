"""Edge cases of the kernels: non-finite logits, empty input, argument checks, determinism, OHEM's k-th value."""
import pytest
import torch

from mmseg_ddrnet import ops
from mmseg_ddrnet.ops import compiled, dispatch, reference as ref
from mmseg_ddrnet.utils import DataError

INF = float('inf')


def ext():
    return dispatch.loaded_ext()[0]


def _masked_logits(device, shape=(2, 4, 6, 7)):
    """Logits with -inf (a masked class) and +inf entries next to finite ones."""
    logits = torch.randn(*shape, generator=torch.Generator().manual_seed(1)).to(device)
    logits[0, 1, 2, 3] = -INF
    logits[0, 2, 3, 2] = -INF
    logits[1, 0, :, 4] = -INF  # a whole column of one class
    logits[1, 3, 5, 0] = INF
    return logits


def _loss_and_grad(fn, logits, label, **kw):
    x = logits.detach().clone().requires_grad_()
    loss = fn(x, label, **kw)
    loss.backward()
    return loss.detach(), x.grad


@pytest.mark.parametrize('align_corners', [False, True])
def test_same_size_keeps_infinite_logits_to_their_pixel(device, align_corners):
    """Labels the size of the logits: no blending, so an inf cannot leak into a neighbour as inf * 0."""
    logits = _masked_logits(device)
    out = ops.resize_argmax(logits, logits.shape[-2:], align_corners)
    assert torch.equal(out, ref.resize_argmax(logits, logits.shape[-2:], align_corners))
    masked = logits.clone()
    masked[1, 3, 5, 0] = 0.0  # -inf logits only: masked classes, the loss stays finite
    label = torch.randint(0, 3, (2, 6, 7), generator=torch.Generator().manual_seed(2)).to(device)
    label[0, 2, 3] = label[0, 3, 2] = 0  # no target is a -inf logit
    label[1, :, 4] = 2
    for kw in (dict(), dict(avg_non_ignore=True, weight=[1.0, 2.0, 0.5, 1.0]), dict(thres=0.7, min_kept=10)):
        loss, grad = _loss_and_grad(ops.seg_cross_entropy, masked, label, align_corners=align_corners, **kw)
        exp_loss, exp_grad = _loss_and_grad(ref.seg_cross_entropy, masked, label, align_corners=align_corners, **kw)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()
        torch.testing.assert_close(loss, exp_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grad, exp_grad, rtol=1e-5, atol=1e-7)
    label[0, 2, 3] = 1  # a -inf target: an infinite loss on both sides, not NaN
    assert ops.seg_cross_entropy(masked, label) == ref.seg_cross_entropy(masked, label) == INF


@pytest.mark.parametrize('use_ext', [True, False])
def test_an_empty_loss_input_is_refused_on_both_paths(device, use_ext):
    logits = torch.randn(0, 3, 4, 4, device=device)
    with ops.use_ext(use_ext):
        with pytest.raises(DataError, match=r'seg_cross_entropy: empty input \(logits of shape \(0, 3, 4, 4\)'):
            ops.seg_cross_entropy(logits, torch.zeros(0, 8, 8, dtype=torch.long, device=device))
        with pytest.raises(DataError, match=r'label of shape \(1, 0, 8\)\): the loss over no pixel'):
            ops.seg_cross_entropy(torch.randn(1, 3, 4, 4, device=device),
                                  torch.zeros(1, 0, 8, dtype=torch.long, device=device), thres=0.7)


@pytest.mark.parametrize('use_ext', [True, False])
def test_an_empty_batch_gives_empty_predictions_and_counts_on_both_paths(device, use_ext):
    with ops.use_ext(use_ext):
        out = ops.resize_argmax(torch.randn(0, 3, 4, 4, device=device), (8, 8))
        assert out.shape == (0, 8, 8) and out.dtype == torch.int64
        empty = torch.zeros(0, 8, 8, dtype=torch.long, device=device)
        assert torch.equal(ops.confusion_matrix(empty, empty, 3), torch.zeros(3, 3, dtype=torch.long, device=device))


@pytest.mark.parametrize('shape', [(1, 0, 4, 4), (1, 3, 0, 4), (1, 3, 4, 0)])
def test_cpp_entry_points_refuse_empty_classes_or_source(shape):
    if ext() is None:
        pytest.skip('mmcv_ext not built')
    logits, label = torch.zeros(shape), torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(RuntimeError, match='resize_argmax: logits must have C, h, w > 0'):
        ext().resize_argmax(logits, 8, 8, False)
    with pytest.raises(RuntimeError, match='seg_cross_entropy: logits must have C, h, w > 0'):
        ext().seg_ce_forward(logits, label, None, 255, False)


def test_cpp_backward_checks_the_device_of_every_tensor():
    if ext() is None:
        pytest.skip('mmcv_ext not built')
    logits, label = torch.randn(1, 3, 4, 4), torch.zeros(1, 8, 8, dtype=torch.long)
    lse, scale = torch.zeros(1, 8, 8), torch.ones(1)
    keep, weight = torch.ones(1, 8, 8, dtype=torch.bool), torch.ones(3)
    ext().seg_ce_backward(logits, label, weight, lse, keep, scale, 255, False)  # all on the CPU: fine
    for name, args in (('lse', (weight, lse.to('meta'), keep, scale)),
                       ('keep', (weight, lse, keep.to('meta'), scale)),
                       ('scale', (weight, lse, keep, scale.to('meta'))),
                       ('weight', (weight.to('meta'), lse, keep, scale))):
        with pytest.raises(RuntimeError, match=f'logits and .*{name} must be on the same device'):
            ext().seg_ce_backward(logits, label, *args, 255, False)
    with pytest.raises(RuntimeError, match='logits and label must be on the same device'):
        ext().seg_ce_forward(logits, label.to('meta'), None, 255, False)


def test_ohem_kth_value_is_the_same_with_topk_and_kthvalue():
    gen = torch.Generator().manual_seed(4)
    values = torch.rand(5000, generator=gen).round(decimals=2)  # many ties
    values[torch.rand(5000, generator=gen) < 0.3] = INF  # ignored pixels
    for k in (1, 2, 17, 1000, 3499, 5000):
        a = compiled.kth_smallest(values, k, use_topk=True)
        b = compiled.kth_smallest(values, k, use_topk=False)
        assert a.shape == b.shape == () and torch.equal(a, b)
        assert torch.equal(a, values.sort().values[k - 1])
    assert not compiled.kth_smallest.__defaults__[0]  # None: chosen from the device


def test_cuda_backward_alerts_under_deterministic_algorithms(device):
    if device != 'cuda':
        pytest.skip('the CPU backward is deterministic (no atomics)')
    logits = torch.randn(1, 3, 4, 4, device=device, requires_grad=True)
    label = torch.zeros(1, 8, 8, dtype=torch.long, device=device)
    ops.seg_cross_entropy(logits, label)  # the self-check runs outside the deterministic block
    torch.use_deterministic_algorithms(True)
    try:
        with pytest.raises(RuntimeError, match='seg_ce_backward_cuda'):
            ops.seg_cross_entropy(logits, label).backward()
        same = torch.zeros(1, 4, 4, dtype=torch.long, device=device)
        ops.seg_cross_entropy(logits, same).backward()  # same size: one writer per value, no alert
    finally:
        torch.use_deterministic_algorithms(False)
