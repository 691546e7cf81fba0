"""Metrics against a hand-made confusion matrix, mmseg 0.x compatibility, tables and bad input."""
import json

import numpy as np
import pytest
import torch

from mmseg_ddrnet.metrics import (confusion_to_metrics, dump_metrics_json, eval_metrics,
                                          image_confusion_matrix, intersect_and_union, mean_dice, mean_fscore,
                                          mean_iou, metric_tables, pre_eval_to_metrics, summarize)
from mmseg_ddrnet.utils import ConfigError, DataError

# 3 classes; 255 ignored. Pixel pairs (gt, pred) written out by hand:
GT = np.array([[0, 0, 0, 1], [1, 1, 2, 255], [2, 2, 255, 0]])
PRED = np.array([[0, 0, 1, 1], [1, 2, 2, 0], [2, 0, 1, 0]])
# rows = gt, cols = pred:  gt0: pred 0,0,1,0 -> [3,1,0]; gt1: pred 1,1,2 -> [0,2,1]; gt2: pred 2,2,0 -> [1,0,2]
MATRIX = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 2]])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(image_confusion_matrix(PRED, GT, 3), MATRIX)


def test_metrics_by_hand():
    m = confusion_to_metrics(MATRIX, ['mIoU', 'mDice', 'mFscore'])
    # intersect [3,2,2], gt area [4,3,3], pred area [4,3,3], union [5,4,4]
    assert m['aAcc'] == pytest.approx(7 / 10)
    np.testing.assert_allclose(m['IoU'], [3 / 5, 2 / 4, 2 / 4])
    np.testing.assert_allclose(m['Acc'], [3 / 4, 2 / 3, 2 / 3])
    np.testing.assert_allclose(m['Dice'], [6 / 8, 4 / 6, 4 / 6])
    np.testing.assert_allclose(m['Precision'], [3 / 4, 2 / 3, 2 / 3])
    np.testing.assert_allclose(m['Recall'], [3 / 4, 2 / 3, 2 / 3])
    np.testing.assert_allclose(m['Fscore'], [3 / 4, 2 / 3, 2 / 3])
    f2 = confusion_to_metrics(np.array([[1, 1], [0, 0]]), 'mFscore', beta=2)
    p, r = 1.0, 0.5  # class 0: precision 1/1, recall 1/2
    assert f2['Fscore'][0] == pytest.approx(5 * p * r / (4 * p + r))


def test_absent_class_is_nan_and_nan_to_num():
    matrix = np.array([[2, 0, 0], [0, 0, 0], [0, 0, 1]])
    m = confusion_to_metrics(matrix)
    assert np.isnan(m['IoU'][1]) and np.isnan(m['Acc'][1])
    assert summarize(m, ['a', 'b', 'c'])['mIoU'] == pytest.approx(1.0)  # NaN classes are left out of the mean
    assert confusion_to_metrics(matrix, nan_to_num=-1)['IoU'][1] == -1


def test_sum_over_splits_is_exact():
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 4, (5, 7)) for _ in range(6)]
    preds = [rng.integers(0, 4, (5, 7)) for _ in range(6)]
    whole = image_confusion_matrix(np.stack(preds), np.stack(gts), 4)
    parts = [image_confusion_matrix(p, g, 4) for p, g in zip(preds, gts)]
    rank0, rank1 = sum(parts[:4]), sum(parts[4:])
    np.testing.assert_array_equal(rank0 + rank1, whole)
    assert pre_eval_to_metrics(parts)['aAcc'] == confusion_to_metrics(whole)['aAcc']


def test_mmseg_0x_functions():
    areas = intersect_and_union(PRED, GT, 3, 255)
    assert all(isinstance(a, torch.Tensor) for a in areas)
    np.testing.assert_array_equal(areas[0].numpy(), [3, 2, 2])
    np.testing.assert_array_equal(areas[1].numpy(), [5, 4, 4])
    from_tuples = pre_eval_to_metrics([areas, areas], ['mIoU'])
    from_matrices = pre_eval_to_metrics([MATRIX, MATRIX], ['mIoU'])
    np.testing.assert_allclose(from_tuples['IoU'], from_matrices['IoU'])
    np.testing.assert_allclose(mean_iou([PRED], [GT], 3, 255)['IoU'], [0.6, 0.5, 0.5])
    np.testing.assert_allclose(mean_dice([PRED], [GT], 3, 255)['Dice'], [0.75, 2 / 3, 2 / 3])
    assert set(mean_fscore([PRED], [GT], 3, 255)) == {'aAcc', 'Fscore', 'Precision', 'Recall'}
    # label_map then reduce_zero_label, as mmseg 0.x: gt 1..3 -> 0..2, gt 0 -> ignored
    m = eval_metrics([PRED], [np.where(GT == 255, 0, GT + 1)], 3, 255, reduce_zero_label=True)
    np.testing.assert_allclose(m['IoU'], [0.6, 0.5, 0.5])
    m = eval_metrics([PRED], [GT], 3, 255, label_map={2: 255})
    assert m['aAcc'] == pytest.approx(5 / 7)


def test_bad_metric_inputs():
    with pytest.raises(DataError, match=r'label values \[5\] are outside \[0, 3\)'):
        image_confusion_matrix(PRED, np.where(GT == 1, 5, GT), 3)
    with pytest.raises(DataError, match='does not match'):
        image_confusion_matrix(PRED[:2], GT, 3)
    with pytest.raises(ConfigError, match='mAP'):
        confusion_to_metrics(MATRIX, 'mAP')
    with pytest.raises(DataError, match='no evaluation results'):
        pre_eval_to_metrics([])
    with pytest.raises(DataError, match='square'):
        confusion_to_metrics(np.zeros((2, 3)))


def test_tables_and_json(tmp_path):
    m = confusion_to_metrics(MATRIX, ['mIoU', 'mFscore'])
    text = metric_tables(m, ['road', 'car', 'sky'])
    assert '| road  | 60.00 | 75.00 |' in text and 'Summary:' in text
    assert '| 70.00 | 53.33 | 69.44 |' in text  # aAcc, mIoU, mAcc
    results = summarize(confusion_to_metrics(np.diag([1, 0, 1])), ['road', 'car', 'sky'])
    assert list(results)[:3] == ['aAcc', 'mIoU', 'mAcc'] and 'IoU.car' in results
    path = tmp_path / 'sub' / 'metrics.json'
    dump_metrics_json(results, str(path))
    loaded = json.loads(path.read_text())
    assert loaded['IoU.car'] is None and loaded['mIoU'] == 1.0
