"""The reference ops (the specification) against hand-computed results."""
import math

import numpy as np
import pytest
import torch

from mmseg_ddrnet.ops import reference as ref
from mmseg_ddrnet.utils import ConfigError, DataError


def test_resize_argmax_hand_computed():
    # one row, two classes, 2 -> 4 columns; class 0 ramps 0 -> 1, class 1 is 0.3 everywhere
    logits = torch.tensor([[[[0.0, 1.0]], [[0.3, 0.3]]]])
    # align_corners=False taps x = 0, 0.25, 0.75, 1 (clamped): class 0 = 0, .25, .75, 1 -> 0.25 < 0.3
    assert ref.resize_argmax(logits, (1, 4)).tolist() == [[[1, 1, 0, 0]]]
    # align_corners=True taps x = 0, 1/3, 2/3, 1: class 0 = 0, .33, .67, 1 -> 0.33 > 0.3: the answers differ
    assert ref.resize_argmax(logits, (1, 4), align_corners=True).tolist() == [[[1, 0, 0, 0]]]
    assert ref.resize_argmax(logits, 1).shape == (1, 1, 1)


def test_resize_argmax_same_size_is_plain_argmax():
    logits = torch.randn(2, 5, 3, 4)
    assert torch.equal(ref.resize_argmax(logits, (3, 4)), logits.argmax(1))


def _pixel_ce(z, target):
    return math.log(sum(math.exp(v) for v in z)) - z[target]


def test_cross_entropy_mean_over_all_pixels_and_weights_not_renormalised():
    # 1×2×1×3 logits at the label size: no resize
    logits = torch.tensor([[[[2.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]])
    label = torch.tensor([[[0, 1, 255]]])
    l0, l1 = _pixel_ce([2.0, 0.0], 0), _pixel_ce([0.0, 1.0], 1)
    assert ref.seg_cross_entropy(logits, label).item() == pytest.approx((l0 + l1) / 3, rel=1e-6)
    assert ref.seg_cross_entropy(logits, label, avg_non_ignore=True).item() == pytest.approx(
        (l0 + l1) / 2, rel=1e-6)
    weighted = ref.seg_cross_entropy(logits, label, weight=[0.5, 3.0])
    assert weighted.item() == pytest.approx((0.5 * l0 + 3.0 * l1) / 3, rel=1e-6)
    # N×1×H×W labels are accepted
    assert ref.seg_cross_entropy(logits, label[:, None]).item() == pytest.approx((l0 + l1) / 3, rel=1e-6)


def test_ohem_hand_computed():
    # four valid pixels with target probabilities p = sigmoid(d) for d = -2, -1, 1, 3
    d = torch.tensor([-2.0, -1.0, 1.0, 3.0])
    logits = torch.stack([d, torch.zeros(4)]).view(1, 2, 1, 4)
    label = torch.zeros(1, 1, 4, dtype=torch.long)
    p = torch.sigmoid(d)
    losses = -torch.log(p)
    # thres 0.5 and min_kept 1: threshold = max(p[1], 0.5) = 0.5 -> keep the two hard pixels
    out = ref.seg_cross_entropy(logits, label, thres=0.5, min_kept=1)
    assert out.item() == pytest.approx(losses[:2].mean().item(), rel=1e-6)
    # min_kept 2: threshold = p[2] = sigmoid(1) > 0.5 -> still the pixels strictly below it
    out = ref.seg_cross_entropy(logits, label, thres=0.5, min_kept=2)
    assert out.item() == pytest.approx(losses[:2].mean().item(), rel=1e-6)
    # min_kept 3: threshold = p[3] -> three kept
    out = ref.seg_cross_entropy(logits, label, thres=0.5, min_kept=3)
    assert out.item() == pytest.approx(losses[:3].mean().item(), rel=1e-6)
    # min_kept > n valid: k = n - 1, same as 3
    out = ref.seg_cross_entropy(logits, label, thres=0.5, min_kept=100)
    assert out.item() == pytest.approx(losses[:3].mean().item(), rel=1e-6)
    # thres 0.99 keeps all four
    out = ref.seg_cross_entropy(logits, label, thres=0.99, min_kept=0)
    assert out.item() == pytest.approx(losses.mean().item(), rel=1e-6)


def test_ohem_and_mean_degenerate_cases_are_zero_with_zero_grad():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    ignored = torch.full((1, 2, 2), 255)
    for kw in (dict(thres=0.7), dict(avg_non_ignore=True), {}):
        loss = ref.seg_cross_entropy(logits, ignored, **kw)
        assert loss.item() == 0.0
        loss.backward()
        assert torch.count_nonzero(logits.grad) == 0
    # one valid, confident pixel above thres: nothing is kept -> 0, not NaN
    confident = torch.tensor([[[[9.0]], [[0.0]]]], requires_grad=True)
    loss = ref.seg_cross_entropy(confident, torch.zeros(1, 1, 1, dtype=torch.long), thres=0.5)
    assert loss.item() == 0.0


def test_seg_cross_entropy_bad_input():
    logits = torch.randn(1, 3, 2, 2)
    with pytest.raises(DataError, match=r'label values \[3\]'):
        ref.seg_cross_entropy(logits, torch.full((1, 4, 4), 3))
    with pytest.raises(DataError, match='N×H×W'):
        ref.seg_cross_entropy(logits, torch.zeros(2, 4, 4, dtype=torch.long))
    with pytest.raises(DataError, match='integers'):
        ref.seg_cross_entropy(logits, torch.zeros(1, 4, 4))
    with pytest.raises(ConfigError, match='one value per class'):
        ref.seg_cross_entropy(logits, torch.zeros(1, 4, 4, dtype=torch.long), weight=[1.0, 2.0])
    with pytest.raises(DataError, match='N×C×h×w'):
        ref.seg_cross_entropy(logits[0], torch.zeros(1, 4, 4, dtype=torch.long))


def test_confusion_matrix_hand_computed():
    label = torch.tensor([[0, 0, 1, 2], [2, 255, 7, -1]])
    pred = torch.tensor([[0, 1, 1, 0], [2, 2, 9, 9]])
    expected = [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert ref.confusion_matrix(pred, label, 3).tolist() == expected
    out = ref.confusion_matrix(pred.numpy().astype(np.uint8), label.numpy().astype(np.int32)[None], 3)
    assert out.dtype == torch.int64 and out.tolist() == expected
    with pytest.raises(DataError, match=r'outside \[0, 3\)'):
        ref.confusion_matrix(torch.tensor([5]), torch.tensor([1]), 3)
    with pytest.raises(DataError, match='do not match'):
        ref.confusion_matrix(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), 3)
    with pytest.raises(DataError, match='num_classes'):
        ref.confusion_matrix(torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), 0)
