"""Dataset evaluation: label maps, confusion matrices and files agree; Cityscapes vs cityscapesscripts."""
import numpy as np
import pytest

from mmseg_ddrnet.datasets import CityscapesDataset, make_synthetic_cityscapes
from mmseg_ddrnet.datasets.cityscapes_conversion import convert_cityscapes
from mmseg_ddrnet.utils import ConfigError, DataError

TEST = [dict(type='LoadImageFromFile'),
        dict(type='MultiScaleFlipAug', img_scale=(128, 64), flip=False, transforms=[
            dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
            dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]


@pytest.fixture(scope='module')
def val_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cs'))
    make_synthetic_cityscapes(root, num_train=0, num_val=3, size=(64, 128), seed=1)
    convert_cityscapes(root)
    return CityscapesDataset(pipeline=TEST, data_root=root, img_dir='leftImg8bit/val', ann_dir='gtFine/val',
                             test_mode=True)


def noisy_predictions(dataset, seed=0):
    """The ground truth with a third of the pixels replaced by random classes."""
    rng = np.random.default_rng(seed)
    preds = []
    for gt in dataset.get_gt_seg_maps():
        pred = np.where(gt == 255, 0, gt).astype(np.int64)
        noise = rng.random(gt.shape) < 0.33
        pred[noise] = rng.integers(0, 19, int(noise.sum()))
        preds.append(pred)
    return preds


def test_label_maps_matrices_and_files_agree(val_set, tmp_path):
    preds = noisy_predictions(val_set)
    from_maps = val_set.evaluate(preds, ['mIoU', 'mDice', 'mFscore'])
    matrices = val_set.pre_eval(preds, list(range(len(val_set))))
    assert all(m.shape == (19, 19) and m.dtype == np.int64 for m in matrices)
    from_matrices = val_set.evaluate(matrices, ['mIoU', 'mDice', 'mFscore'])
    from_sum = val_set.evaluate([sum(matrices)], ['mIoU', 'mDice', 'mFscore'])
    files = val_set.format_results(preds, str(tmp_path), to_label_id=False)
    from_files = val_set.evaluate(files, ['mIoU', 'mDice', 'mFscore'])
    for other in (from_matrices, from_sum, from_files):
        assert other.keys() == from_maps.keys()
        np.testing.assert_allclose([other[k] for k in other], [from_maps[k] for k in from_maps])
    assert {'aAcc', 'mIoU', 'mAcc', 'mDice', 'mFscore', 'mPrecision', 'mRecall', 'IoU.road'} <= set(from_maps)
    assert 0.6 < from_maps['aAcc'] < 0.75  # a third of the pixels are random guesses


def test_cityscapes_metric_matches_our_miou(val_set):
    preds = noisy_predictions(val_set, seed=1)
    ours = val_set.evaluate(preds, ['mIoU', 'cityscapes'])
    assert ours['averageScoreClasses'] == pytest.approx(ours['mIoU'], abs=1e-9)
    for name in ('road', 'car', 'sky'):
        assert ours['classScores'][name] == pytest.approx(ours[f'IoU.{name}'], abs=1e-9)
    # the numpy shim is scoped to the call
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as cs_eval
    assert cs_eval.np is np


def test_cityscapes_metric_on_formatted_files(val_set, tmp_path):
    preds = noisy_predictions(val_set, seed=2)
    files = val_set.format_results(preds, str(tmp_path))
    from_files = val_set.evaluate(files, 'cityscapes')
    from_prefix = val_set.evaluate([np.zeros((19, 19), np.int64)], 'cityscapes', imgfile_prefix=str(tmp_path))
    assert from_files['averageScoreClasses'] == pytest.approx(from_prefix['averageScoreClasses'])
    assert from_files['averageScoreClasses'] == pytest.approx(val_set.evaluate(preds)['mIoU'], abs=1e-9)


def test_evaluation_errors(val_set, tmp_path):
    preds = noisy_predictions(val_set)
    with pytest.raises(ConfigError, match='mAP'):
        val_set.evaluate(preds, 'mAP')
    with pytest.raises(DataError, match='2 predictions for a dataset of 3'):
        val_set.evaluate(preds[:2])
    with pytest.raises(DataError, match='aachen_000000_000000_leftImg8bit.png: prediction of shape'):
        val_set.pre_eval([preds[0][:10]], [0])
    with pytest.raises(DataError, match=r'aachen_000000_000002_leftImg8bit.png: .*predictions outside \[0, 19\)'):
        val_set.pre_eval([preds[1] + 19], [1])
    with pytest.raises(DataError, match='no results'):
        val_set.evaluate([])
    with pytest.raises(DataError, match='Found no prediction|failed'):
        val_set.evaluate([np.zeros((19, 19), np.int64)], 'cityscapes', imgfile_prefix=str(tmp_path))
