"""0.x training-config arguments of docs/mmseg0x_compat.md, through real toy training runs."""
import copy
import os

import pytest

import toy
from mmseg_ddrnet.apis.train import train_segmentor
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.engine.optimizer import build_optimizer
from mmseg_ddrnet.engine.rng import set_random_seed
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import ConfigError


def train(tmp_path, data_root, **overrides):
    cfg = Config(toy.toy_config(data_root, **overrides))
    cfg.work_dir, cfg.seed, cfg.gpu_ids = str(tmp_path / 'wd'), 0, [0]
    set_random_seed(0, deterministic=True)
    train_segmentor(build_segmentor(cfg.model), [build_dataset(cfg.data.train)], cfg, validate=True,
                    meta=dict(seed=0))
    return cfg.work_dir


def data_with(data_root, section=None, **keys):
    data = copy.deepcopy(toy.toy_config(data_root)['data'])
    (data[section] if section else data).update(keys)
    return data


def test_eval_greater_and_less_keys_choose_the_save_best_rule(tmp_path, toy_data):
    # mmcv 1.7: greater_keys/less_keys replace the defaults; with less_keys=['mIoU'] the lowest mIoU is "best"
    evaluation = dict(interval=1, metric='mIoU', pre_eval=True, save_best='mIoU', less_keys=['mIoU'],
                      greater_keys=['acc'])
    work_dir = train(tmp_path, toy_data, max_iters=3, checkpoint_config=None, evaluation=evaluation)
    best = [f for f in os.listdir(work_dir) if f.startswith('best_')]
    import json
    with open([os.path.join(work_dir, f) for f in os.listdir(work_dir) if f.endswith('.log.json')][0]) as f:
        mious = [(line['iter'], line['mIoU']) for line in map(json.loads, f) if line.get('mode') == 'val']
    lowest = min(mious, key=lambda x: (x[1], -x[0]))
    assert len({m for _, m in mious}) > 1  # the runs differ, so the rule matters
    assert best == [f'best_mIoU_iter_{lowest[0]}.pth']


@pytest.mark.parametrize('evaluation, match', [
    (dict(interval=1, file_client_args=dict(backend='petrel')), "evaluation: file_client_args must be None"),
    (dict(interval=1, greater_keys=3), 'evaluation.greater_keys must be a str or a list of str'),
])
def test_eval_argument_errors(tmp_path, toy_data, evaluation, match):
    with pytest.raises(ConfigError, match=match):
        train(tmp_path, toy_data, max_iters=1, evaluation=evaluation)


def test_eval_test_fn_is_ignored_with_a_warning(tmp_path, toy_data, monkeypatch):
    import mmseg_ddrnet.engine.hooks.eval as eval_module
    seen = []
    monkeypatch.setattr(eval_module, 'warn_once', seen.append)
    train(tmp_path, toy_data, max_iters=1, evaluation=dict(interval=1, metric='mIoU', test_fn=print))
    assert any('evaluation.test_fn is ignored' in msg for msg in seen)


@pytest.mark.parametrize('overrides, match', [
    (dict(runner=dict(type='IterBasedRunner', max_iters=1, batch_processor=None)),
     'runner.batch_processor is not supported: mmcv 1.x deprecated it'),
    (dict(optimizer=dict(type='AdamW', lr=0.01, constructor='LayerDecayOptimizerConstructor')),
     'layer-wise lr decay constructors number the layers of ViT'),
    ('prefetch', r"data loader settings \['prefetch_factor'\]: prefetch_factor option could only be specified"),
    ('petrel', "file_client_args: only backend='disk' is supported, got 'petrel'"),
])
def test_training_keys_refused_with_a_reason(tmp_path, toy_data, overrides, match):
    if overrides == 'prefetch':
        overrides = dict(data=data_with(toy_data, prefetch_factor=2))
    elif overrides == 'petrel':
        overrides = dict(data=data_with(toy_data, 'train', file_client_args=dict(backend='petrel')))
    with pytest.raises(ConfigError, match=match):
        train(tmp_path, toy_data, max_iters=1, **overrides)


def test_dcn_offset_lr_mult_is_accepted_and_changes_nothing():
    model = build_segmentor(dict(type='ToySegmentor'))
    plain = build_optimizer(model, dict(type='SGD', lr=0.1, paramwise_cfg=dict(bias_lr_mult=2.)))
    dcn = build_optimizer(model, dict(type='SGD', lr=0.1, paramwise_cfg=dict(bias_lr_mult=2., dcn_offset_lr_mult=0.1)))
    assert [g['lr'] for g in plain.param_groups] == [g['lr'] for g in dcn.param_groups]
    assert sorted({g['lr'] for g in dcn.param_groups}) == [0.1, 0.2]
