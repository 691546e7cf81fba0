"""Losses against hand-computed values (mmseg 0.x reduction, DDRNet OHEM) and the pixel accuracy."""
import json
import math

import numpy as np
import pytest
import torch

from mmseg_ddrnet.models import CrossEntropyLoss, OhemCrossEntropy, accuracy, build_loss
from mmseg_ddrnet.utils import ConfigError

LN2 = math.log(2)


def _two_pixels():
    """Pixel 0: p(class 0) = 1/4 (loss ln 4); pixel 1: uniform (loss ln 2 for either class)."""
    logits = torch.tensor([[[[0.0, 0.0]], [[math.log(3), 0.0]]]])  # 1×2×1×2
    return logits, torch.tensor([[[0, 1]]])


@pytest.mark.parametrize('kwargs,label,expected', [
    (dict(), [[0, 1]], 1.5 * LN2),                                        # mean over both pixels
    (dict(class_weight=[2.0, 1.0]), [[0, 1]], 2.5 * LN2),                 # weights not renormalised
    (dict(), [[0, 255]], LN2),                                            # ignored pixel counts as 0
    (dict(avg_non_ignore=True), [[0, 255]], 2 * LN2),                     # mean over non-ignored pixels
    (dict(reduction='sum'), [[0, 1]], 3 * LN2),
    (dict(loss_weight=0.4), [[0, 1]], 0.4 * 1.5 * LN2),
])
def test_cross_entropy_hand_computed(kwargs, label, expected):
    logits, _ = _two_pixels()
    loss = CrossEntropyLoss(**kwargs)(logits, torch.tensor([label]), ignore_index=255)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_upsamples_logits_to_the_label():
    logits = torch.tensor([[[[0.0]], [[math.log(3)]]]])  # one low-res pixel: p = (1/4, 3/4)
    label = torch.tensor([[[0, 1, 1], [1, 1, 1], [1, 1, 0]]])  # 3×3 full-res
    expected = (2 * math.log(4) + 7 * math.log(4 / 3)) / 9
    assert CrossEntropyLoss()(logits, label).item() == pytest.approx(expected, rel=1e-6)


def _ohem_case(probs, labels=None):
    """Two classes, class-0 probability ``p`` per pixel (1×2×1×n logits), labels 0 unless given."""
    p = torch.tensor(probs)
    logits = torch.stack([p.log(), (1 - p).log()])[None, :, None, :]
    label = torch.zeros(1, 1, len(probs), dtype=torch.long) if labels is None else torch.tensor([[labels]])
    return logits, label


def _mean_nll(*probs):
    return sum(-math.log(p) for p in probs) / len(probs)


@pytest.mark.parametrize('kwargs,labels,expected', [
    (dict(thres=0.7, min_kept=1), None, _mean_nll(0.1, 0.3, 0.6)),       # threshold 0.7 from thres
    (dict(thres=0.2, min_kept=2), None, _mean_nll(0.1, 0.3)),            # threshold p_sorted[2] = 0.6
    (dict(thres=0.2, min_kept=100000), None, _mean_nll(0.1, 0.3, 0.6)),  # min_kept clipped to n - 1
    (dict(thres=0.7, min_kept=1), [255, 0, 0, 0], _mean_nll(0.3, 0.6)),  # ignored pixels are not candidates
    (dict(thres=0.7, min_kept=1, class_weight=[2.0, 1.0]), None, 2 * _mean_nll(0.1, 0.3, 0.6)),
    (dict(thres=0.7, min_kept=1, loss_weight=0.4), None, 0.4 * _mean_nll(0.1, 0.3, 0.6)),
    (dict(thres=0.7), [255, 255, 255, 255], 0.0),                        # no valid pixel
])
def test_ohem_hand_computed(kwargs, labels, expected):
    logits, label = _ohem_case([0.1, 0.3, 0.6, 0.9], labels)
    assert OhemCrossEntropy(**kwargs)(logits, label).item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_ohem_ignore_label_defaults_to_the_heads_ignore_index():
    logits, _ = _ohem_case([0.1, 0.3, 0.6, 0.9])
    label = torch.tensor([[[7, 0, 0, 0]]])
    expected = _mean_nll(0.3, 0.6)
    assert OhemCrossEntropy(thres=0.7, min_kept=1)(logits, label, ignore_index=7).item() == pytest.approx(expected)
    assert OhemCrossEntropy(thres=0.7, min_kept=1, ignore_label=7)(logits, label).item() == pytest.approx(expected)
    assert OhemCrossEntropy(thres=0.7, min_kept=1, ignore_index=7)(logits, label, ignore_index=255).item() == \
        pytest.approx(expected)


def test_class_weight_from_files(tmp_path):
    np.save(tmp_path / 'w.npy', np.array([2.0, 1.0]))
    (tmp_path / 'w.json').write_text(json.dumps([2.0, 1.0]))
    logits, label = _two_pixels()
    for name in ('w.npy', 'w.json'):
        loss = build_loss(dict(type='CrossEntropyLoss', class_weight=str(tmp_path / name)))
        assert loss(logits, label).item() == pytest.approx(2.5 * LN2, rel=1e-6)


@pytest.mark.parametrize('cfg,match', [
    (dict(type='CrossEntropyLoss', use_sigmoid=True), 'use_sigmoid'),
    (dict(type='CrossEntropyLoss', reduction='none'), 'reduction'),
    (dict(type='CrossEntropyLoss', class_weight='missing.npy'), 'not found'),
    (dict(type='CrossEntropyLoss', class_weight=[1.0, -2.0]), 'non-negative'),
    (dict(type='CrossEntropyLoss', class_weight=['a']), 'list of numbers'),
    (dict(type='CrossEntropyLoss', loss_name=''), 'loss_name'),
    (dict(type='CrossEntropyLoss', avg_non_ignor=True), 'avg_non_ignor'),
    (dict(type='OhemCrossEntropy', thres=1.5), 'thres'),
    (dict(type='OhemCrossEntropy', ignore_label=255, ignore_index=0), 'set one'),
])
def test_bad_loss_configs_are_config_errors(cfg, match):
    with pytest.raises(ConfigError, match=match):
        build_loss(cfg)


def test_wrong_number_of_class_weights_is_a_config_error():
    logits, label = _two_pixels()
    with pytest.raises(ConfigError, match='one value per class'):
        CrossEntropyLoss(class_weight=[1.0, 1.0, 1.0])(logits, label)


def test_accuracy_in_percent_ignoring_ignore_index():
    logits = torch.tensor([[[[1.0, 0.0, 1.0, 0.0]], [[0.0, 1.0, 0.0, 1.0]]]])  # predicts 0, 1, 0, 1
    label = torch.tensor([[[0, 0, 255, 1]]])
    assert accuracy(logits, label, ignore_index=255).item() == pytest.approx(200 / 3)
    assert accuracy(logits, torch.full_like(label, 255)).item() == 0.0
