"""``momentum_config`` (mmcv 1.x momentum updaters) driven through real toy training runs.

Expectations are mmcv 1.7's formulas (``mmcv/runner/hooks/momentum_updater.py``) written out here on their own:
cosine annealing ``end + (start - end) * (cos(pi * t) + 1) / 2``, warmup dividing the momentum by the lr warmup
factor, the Cyclic phases of ``max_iters // cyclic_times`` iterations, and OneCycle's max -> base -> max.
"""
import math

import pytest
import torch

import toy
from mmseg_ddrnet.apis.train import train_segmentor
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.engine.hooks import Hook
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.engine.rng import set_random_seed
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.registry import HOOKS
from mmseg_ddrnet.utils import ConfigError

SEEN = []


@HOOKS.register_module(force=True)
class RecordMomentumHook(Hook):
    """Records (iter, momentum or betas of group 0, lr) just before each forward pass."""

    def before_run(self, runner) -> None:
        SEEN.clear()

    def before_train_iter(self, runner) -> None:
        group = runner.optimizer.param_groups[0]
        SEEN.append((runner.iter, group.get('momentum', group.get('betas')), group['lr']))


def run(tmp_path, data_root, **overrides):
    overrides.setdefault('custom_hooks', [dict(type='RecordMomentumHook', priority='LOWEST')])
    overrides.setdefault('checkpoint_config', None)
    cfg = Config(toy.toy_config(data_root, **overrides))
    cfg.work_dir, cfg.seed, cfg.gpu_ids = str(tmp_path / 'wd'), 0, [0]
    set_random_seed(0, deterministic=True)
    model = build_segmentor(cfg.model)
    train_segmentor(model, [build_dataset(cfg.data.train)], cfg, validate=False, meta=dict(seed=0))
    return list(SEEN)


def cos_anneal(start, end, t):
    return end + (start - end) * (math.cos(math.pi * t) + 1) / 2


def test_cyclic_momentum_follows_mmcv_phases(tmp_path, toy_data):
    seen = run(tmp_path, toy_data, max_iters=10, momentum_config=dict(policy='cyclic'))
    low = 0.9 * 0.85 / 0.95  # mmcv's default target_ratio (0.85 / 0.95, 1)
    # 10 iterations, one cycle: 4 going down (step_ratio_up 0.4), 6 going back up
    expected = [cos_anneal(0.9, low, i / 4) if i < 4 else cos_anneal(low, 0.9, (i - 4) / 6) for i in range(10)]
    assert [it for it, _, _ in seen] == list(range(10))
    assert [m for _, m, _ in seen] == pytest.approx(expected, rel=1e-12)
    assert min(m for _, m, _ in seen) < 0.87  # it really moved


def test_momentum_warmup_divides_by_the_lr_warmup_factor(tmp_path, toy_data):
    seen = run(tmp_path, toy_data, max_iters=6, momentum_config=dict(
        policy='CosineAnnealing', min_momentum=0.5, warmup='linear', warmup_iters=3, warmup_ratio=0.8))
    expected = []
    for i in range(6):
        regular = cos_anneal(0.9, 0.5, i / 6)
        expected.append(regular / (1 - (1 - i / 3) * (1 - 0.8)) if i < 3 else regular)
    assert [m for _, m, _ in seen] == pytest.approx(expected, rel=1e-12)


def test_adam_betas0_is_driven_and_beta2_kept(tmp_path, toy_data):
    seen = run(tmp_path, toy_data, max_iters=4, optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.99)),
               momentum_config=dict(policy='LinearAnnealing', min_momentum_ratio=0.5))
    assert [b for _, b, _ in seen] == [pytest.approx((0.9 + (0.45 - 0.9) * i / 4, 0.99)) for i in range(4)]


def test_one_cycle_momentum_with_one_cycle_lr(tmp_path, toy_data):
    seen = run(tmp_path, toy_data, max_iters=10,
               lr_config=dict(policy='OneCycle', max_lr=0.1, pct_start=0.3),
               momentum_config=dict(policy='OneCycle', base_momentum=0.8, max_momentum=0.95, pct_start=0.3))
    up_end = 0.3 * 10 - 1  # mmcv's phase ends: pct_start * max_iters - 1, then max_iters - 1
    expected = [cos_anneal(0.95, 0.8, i / up_end) if i <= up_end else cos_anneal(0.8, 0.95, (i - up_end) / (9 - up_end))
                for i in range(10)]
    assert [m for _, m, _ in seen] == pytest.approx(expected, rel=1e-12)
    lrs = [lr for _, _, lr in seen]
    assert lrs.index(max(lrs)) == [m for _, m, _ in seen].index(min(m for _, m, _ in seen)) == 2


def test_step_momentum_by_epoch_under_epoch_runner(tmp_path, toy_data):
    # 8 training images, 2 per batch: 4 iterations per epoch; the momentum changes at epoch boundaries only
    seen = run(tmp_path, toy_data, runner=dict(type='EpochBasedRunner', max_epochs=3),
               lr_config=dict(policy='fixed'), log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook')]),
               momentum_config=dict(policy='step', step=[1, 2], gamma=0.5, min_momentum=0.3))
    assert [m for _, m, _ in seen] == pytest.approx([0.9] * 4 + [0.45] * 4 + [0.3] * 4)


def test_momentum_updater_hook_names_in_custom_hooks(tmp_path, toy_data):
    seen = run(tmp_path, toy_data, max_iters=4, custom_hooks=[
        dict(type='CosineAnnealingMomentumUpdaterHook', min_momentum=0.5, by_epoch=False),
        dict(type='RecordMomentumHook', priority='LOWEST')])
    assert [m for _, m, _ in seen] == pytest.approx([cos_anneal(0.9, 0.5, i / 4) for i in range(4)], rel=1e-12)
    seen = run(tmp_path, toy_data, max_iters=4, lr_config=None, custom_hooks=[
        dict(type='PolyLrUpdaterHook', power=1.0, min_lr=0.0, by_epoch=False),
        dict(type='RecordMomentumHook', priority='LOWEST')])
    assert [lr for _, _, lr in seen] == pytest.approx([0.05 * (1 - i / 4) for i in range(4)], rel=1e-12)


def test_resume_keeps_initial_momentum(tmp_path, toy_data):
    cfg = dict(max_iters=6, momentum_config=dict(policy='CosineAnnealing', min_momentum=0.5, by_epoch=False),
               checkpoint_config=dict(by_epoch=False, interval=3))
    full = run(tmp_path, toy_data, **cfg)
    ckpt = torch.load(tmp_path / 'wd' / 'iter_3.pth', weights_only=True)
    assert ckpt['optimizer']['param_groups'][0]['initial_momentum'] == 0.9
    resumed = run(tmp_path, toy_data, resume_from=str(tmp_path / 'wd' / 'iter_3.pth'), **cfg)
    assert [m for _, m, _ in resumed] == pytest.approx([m for _, m, _ in full[3:]], rel=1e-12)


@pytest.mark.parametrize('momentum_config, match', [
    (dict(policy='step', step=2, by_epoch=True), 'by_epoch=True needs an EpochBasedRunner'),
    (dict(policy='cyclic', by_epoch=True), 'by_epoch=True is not supported'),
    (dict(policy='CosineAnnealing'), 'exactly one of min_momentum and min_momentum_ratio'),
    (dict(policy='step'), "missing required argument 'step'"),
    (dict(policy='step', step=2, min_lr=0.1), r"unexpected keyword argument\(s\) \['min_lr'\]"),
    (dict(policy='cyclic', cyclic_times=0), 'momentum_config .*cyclic_times must be a positive int'),
    (dict(policy='OneCycle', pct_start=1), 'pct_start must be a float'),
    (dict(policy='Cyclical'), 'momentum_config.policy must be one of'),
])
def test_momentum_config_errors(tmp_path, toy_data, momentum_config, match):
    with pytest.raises(ConfigError, match=match):
        run(tmp_path, toy_data, max_iters=2, momentum_config=momentum_config)


def test_optimizer_without_momentum_is_refused(tmp_path, toy_data):
    with pytest.raises(ConfigError, match='Adagrad has neither momentum nor betas'):
        run(tmp_path, toy_data, max_iters=2, optimizer=dict(type='Adagrad', lr=0.01),
            momentum_config=dict(policy='cyclic'))
