"""0.x behaviours that DDRNet configs written by others rely on: the head's ignore_index, num_classes against the
dataset's classes, a top-level ``deterministic``, and imports of mmcv/mmseg in user modules."""
import importlib.util
import os.path as osp
import sys
from pathlib import Path

import numpy as np
import pytest

from mmseg_ddrnet.apis import config_checks
from mmseg_ddrnet.apis.config_checks import adopt_head_ignore_index, check_model_against_dataset
from mmseg_ddrnet.apis.testing import load_test_config
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import ConfigError

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / 'engine'))
import toy  # noqa: E402
from tiny_seg import write_config, write_dataset  # noqa: E402


@pytest.fixture
def warnings_seen(monkeypatch):
    seen = []
    monkeypatch.setattr(config_checks, 'warn_once', seen.append)
    return seen


def _camvid(root, **kwargs):
    return dict(type='CamVidDataset', data_root=str(root), img_dir='val', ann_dir='valannot',
                pipeline=[dict(type='LoadImageFromFile')], **kwargs)


# ------------------------------------------------------------------------------------------- ignore_index
def test_datasets_without_ignore_index_take_the_heads(warnings_seen):
    cfg = Config(dict(
        model=dict(decode_head=dict(type='DDRHead', ignore_index=11)),
        data=dict(train=dict(type='RepeatDataset', times=2, dataset=dict(
                      type='CamVidDataset', pipeline=[dict(type='Pad', size=(8, 8))])),
                  val=dict(type='CamVidDataset', ignore_index=255), test=[dict(type='CamVidDataset')])))
    adopt_head_ignore_index(cfg)
    assert cfg.data.train.dataset.ignore_index == 11 and cfg.data.test[0].ignore_index == 11
    assert cfg.data.val.ignore_index == 255  # set by the config: kept, with a warning naming both
    assert any('decode_head.ignore_index=11 but data.val.ignore_index=255' in w for w in warnings_seen)
    assert any('seg_pad_val=255' in w and 'set seg_pad_val=11' in w for w in warnings_seen)


def test_the_default_head_ignore_index_changes_nothing(warnings_seen):
    cfg = Config(dict(model=dict(decode_head=dict(type='DDRHead')), data=dict(train=dict(type='CamVidDataset'))))
    adopt_head_ignore_index(cfg)
    assert 'ignore_index' not in cfg.data.train and not warnings_seen


def test_camvid_with_the_heads_void_label_is_evaluated_without_it(tmp_path):
    """A 0.x CamVid config: the head ignores label 11 (void) and the dataset does not say. The test config gets
    ignore_index=11, the void label stays 11, and the evaluation leaves void pixels out (0.x counted them)."""
    root = tmp_path / 'camvid'
    write_dataset(root, count=2)
    config = write_config(tmp_path / 'cfg.py', root)
    text = config.read_text().replace("num_classes=11, norm_cfg", "num_classes=11, ignore_index=11, norm_cfg", 1)
    config.write_text(text)
    cfg = load_test_config(str(config))
    assert cfg.data.test.ignore_index == 11
    dataset = build_dataset(cfg.data.test)
    gt = dataset.get_gt_seg_map_by_idx(0)
    assert 11 in np.unique(gt) and 255 not in np.unique(gt)
    pred = np.where(gt == 11, 0, gt)  # right everywhere but on void pixels, predicted as class 0 (Sky)
    metrics = dataset.evaluate(dataset.pre_eval([pred], [0]), metric='mIoU')
    assert metrics['IoU.Sky'] == pytest.approx(1.0)
    # the default CamVidDataset maps void to 255, as before
    assert build_dataset(_camvid(root)).get_gt_seg_map_by_idx(0).max() == 255


# -------------------------------------------------------------------------------------------- num_classes
def _model(num_classes, ignore_index=255):
    return build_segmentor(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet', extra=dict(layers=[1, 1, 1, 1], planes=8, spp_planes=8)),
        decode_head=dict(type='DDRHead', in_channels=32, channels=8, num_classes=num_classes,
                         ignore_index=ignore_index),
        auxiliary_head=dict(type='DDRHead', in_channels=16, in_index=0, channels=8, num_classes=num_classes)))


def test_num_classes_against_the_dataset_classes(tmp_path, warnings_seen):
    root = tmp_path / 'camvid'
    write_dataset(root, count=1)
    dataset = build_dataset(_camvid(root))
    with pytest.raises(ConfigError, match=r'decode_head.num_classes=5 but the dataset CamVidDataset has 11 classes '
                                          r'\(CLASSES: Sky, Building.*set num_classes=11'):
        check_model_against_dataset(_model(5), dataset)
    check_model_against_dataset(_model(13), dataset)
    assert any('decode_head.num_classes=13 but the dataset CamVidDataset has 11' in w for w in warnings_seen)
    assert any('auxiliary_head.num_classes=13' in w for w in warnings_seen)
    warnings_seen.clear()
    check_model_against_dataset(_model(11, ignore_index=11), dataset)
    assert warnings_seen == ['model.decode_head.ignore_index=11 but the dataset CamVidDataset has ignore_index=255: '
                             'the loss ignores label 11, the evaluation label 255; set the same value in both']


def test_train_segmentor_refuses_too_few_classes_before_training(tmp_path):
    from mmseg_ddrnet.apis import train_segmentor
    root = tmp_path / 'camvid'
    write_dataset(root, count=1)
    cfg = Config(dict(optimizer=dict(type='SGD', lr=0.01), runner=dict(type='IterBasedRunner', max_iters=1),
                      work_dir=str(tmp_path / 'wd'), data=dict(samples_per_gpu=1, workers_per_gpu=0)))
    with pytest.raises(ConfigError, match='num_classes=5 but the dataset CamVidDataset has 11 classes'):
        train_segmentor(_model(5), build_dataset(_camvid(root)), cfg)
    assert not (tmp_path / 'wd').exists()


# ---------------------------------------------------------------------------------------- deterministic
def test_top_level_deterministic_is_honoured_like_the_flag(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(TESTS.parent, 'tools', 'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    import mmseg_ddrnet.apis.train as train_api
    calls = []
    real = train_api.set_random_seed
    monkeypatch.setattr(train_api, 'set_random_seed', lambda seed, deterministic=False: (
        calls.append(deterministic), real(seed, deterministic)))
    data = toy.make_toy_data(str(tmp_path / 'data'), num_train=2, num_val=1)
    for deterministic in (False, True):
        config = toy.toy_config_file(str(tmp_path / f'cfg_{deterministic}.py'), data, max_iters=1,
                                     deterministic=deterministic)
        assert train_tool.main([config, '--work-dir', str(tmp_path / f'w{deterministic}'), '--no-validate']) == 0
    assert calls == [False, True]


# ---------------------------------------------------------------------------------- imports of mmcv/mmseg
@pytest.mark.parametrize('line,points_to', [
    ('from mmcv.runner import BaseModule', 'BaseModule from mmseg_ddrnet.models'),
    ('from mmseg.models.builder import BACKBONES', 'BACKBONES, HEADS, LOSSES, SEGMENTORS, MODELS from '
                                                  'mmseg_ddrnet.registry'),
    ('import mmcv', 'Config from mmseg_ddrnet.config'),
])
def test_custom_imports_of_mmcv_or_mmseg_name_our_equivalent(tmp_path, monkeypatch, line, points_to):
    (tmp_path / 'fork_backbone.py').write_text(f'import os\n{line}\n')
    (tmp_path / 'cfg.py').write_text("custom_imports = dict(imports=['fork_backbone'])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop('fork_backbone', None)
    with pytest.raises(ConfigError) as info:
        Config.fromfile(str(tmp_path / 'cfg.py'))
    message = str(info.value)
    assert "cannot import 'fork_backbone'" in message and f'replace `{line}`' in message and points_to in message
    assert '\n' not in message


def test_a_config_importing_mmcv_and_other_missing_modules(tmp_path):
    (tmp_path / 'a.py').write_text('from mmcv.runner import HOOKS\nx = 1\n')
    with pytest.raises(ConfigError, match=r'a\.py, line 1: .*replace `from mmcv.runner import HOOKS`: .*HOOKS, RUNNERS '
                                          r'from mmseg_ddrnet\.registry'):
        Config.fromfile(str(tmp_path / 'a.py'))
    (tmp_path / 'b.py').write_text('import not_a_real_module_xyz\n')
    with pytest.raises(ConfigError) as info:
        Config.fromfile(str(tmp_path / 'b.py'))
    assert 'mmseg_ddrnet runs' not in str(info.value)  # no hint for modules that are not OpenMMLab's
