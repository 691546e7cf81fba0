"""lr policies against mmcv 1.x's formulas, evaluated by hand at chosen iterations (warmup included)."""
import math
from types import SimpleNamespace

import pytest
import torch

from mmseg_ddrnet.engine.hooks import LrUpdaterHook
from mmseg_ddrnet.engine.lr import build_lr_schedule
from mmseg_ddrnet.utils import ConfigError


def lr_at(cfg: dict, it: int, max_iters: int = 100, base: float = 0.01, epoch: int = 0, max_epochs: int = 1):
    return build_lr_schedule(cfg, by_epoch_default=False).lr_at(base, it, max_iters, epoch, max_epochs)


@pytest.mark.parametrize('it,expected', [
    (0, 0.01),
    (50, (0.01 - 1e-4) * 0.5 ** 0.9 + 1e-4),   # 0.00540528...
    (99, (0.01 - 1e-4) * 0.01 ** 0.9 + 1e-4),
])
def test_poly(it, expected):
    assert lr_at(dict(policy='poly', power=0.9, min_lr=1e-4), it) == pytest.approx(expected, rel=1e-12)
    assert lr_at(dict(policy='poly', power=0.9, min_lr=1e-4), 50) == pytest.approx(0.0054052786, rel=1e-8)


@pytest.mark.parametrize('step,it,expected', [
    (30, 29, 0.01), (30, 30, 0.001), (30, 65, 0.0001),            # int step: gamma ** (it // step)
    ([40, 70], 39, 0.01), ([40, 70], 40, 0.001), ([40, 70], 99, 0.0001),  # milestones passed
])
def test_step(step, it, expected):
    assert lr_at(dict(policy='step', step=step, gamma=0.1), it) == pytest.approx(expected, rel=1e-12)


def test_step_min_lr_floor():
    assert lr_at(dict(policy='step', step=10, gamma=0.1, min_lr=5e-4), 55) == 5e-4


def test_cosine_min_lr_and_ratio():
    cfg = dict(policy='CosineAnnealing', min_lr=1e-4)
    assert lr_at(cfg, 0) == pytest.approx(0.01)
    assert lr_at(cfg, 50) == pytest.approx(1e-4 + 0.5 * (0.01 - 1e-4))  # cos(pi/2) + 1 = 1
    assert lr_at(cfg, 25) == pytest.approx(1e-4 + 0.5 * (0.01 - 1e-4) * (math.cos(math.pi / 4) + 1))
    ratio = dict(policy='CosineAnnealing', min_lr_ratio=0.1)
    assert lr_at(ratio, 100) == pytest.approx(0.001)
    with pytest.raises(ConfigError, match='exactly one'):
        build_lr_schedule(dict(policy='CosineAnnealing'), False)


@pytest.mark.parametrize('warmup,it,factor', [
    ('constant', 0, 0.1), ('constant', 9, 0.1),
    ('linear', 0, 0.1), ('linear', 5, 1 - (1 - 5 / 10) * (1 - 0.1)),  # 0.55
    ('exp', 0, 0.1), ('exp', 5, 0.1 ** (1 - 5 / 10)),
])
def test_warmup_scales_the_regular_lr(warmup, it, factor):
    cfg = dict(policy='poly', power=1.0, min_lr=0.0, warmup=warmup, warmup_iters=10, warmup_ratio=0.1)
    regular = 0.01 * (1 - it / 100)
    assert lr_at(cfg, it) == pytest.approx(regular * factor, rel=1e-12)
    assert lr_at(cfg, 10) == pytest.approx(0.01 * 0.9)  # warmup over: the regular lr


def test_policy_names_and_errors():
    assert type(build_lr_schedule(dict(policy='Poly'), False)).__name__ == 'PolyLr'
    with pytest.raises(ConfigError, match="policy must be one of"):
        build_lr_schedule(dict(policy='polynomial'), False)
    with pytest.raises(ConfigError, match='warmup must be one of'):
        build_lr_schedule(dict(policy='poly', warmup='cosine', warmup_iters=5), False)
    with pytest.raises(ConfigError, match='warmup_iters'):
        build_lr_schedule(dict(policy='poly', warmup='linear', warmup_iters=0), False)
    with pytest.raises(ConfigError, match='unexpected keyword'):
        build_lr_schedule(dict(policy='poly', gamma=0.1), False)


def _runner(lrs, it=0, epoch=0, max_iters=100, max_epochs=None):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{'params': [p], 'lr': lr} for p, lr in zip(params, lrs)], lr=lrs[0])
    return SimpleNamespace(optimizer=opt, iter=it, epoch=epoch, max_iters=max_iters, max_epochs=max_epochs,
                           data_loader=[0] * 10)


def test_hook_sets_each_group_from_its_initial_lr():
    hook = LrUpdaterHook(build_lr_schedule(dict(policy='poly', power=1.0, min_lr=0.0, warmup='linear',
                                                warmup_iters=4, warmup_ratio=0.5), False))
    runner = _runner([0.02, 0.002], it=2)
    hook.before_run(runner)
    hook.before_train_iter(runner)
    factor = 1 - (1 - 2 / 4) * 0.5
    got = [g['lr'] for g in runner.optimizer.param_groups]
    assert got == pytest.approx([0.02 * 0.98 * factor, 0.002 * 0.98 * factor])
    assert [g['initial_lr'] for g in runner.optimizer.param_groups] == [0.02, 0.002]


def test_hook_by_epoch_updates_per_epoch_and_warms_up_per_iter():
    hook = LrUpdaterHook(build_lr_schedule(dict(policy='step', step=[2], gamma=0.1, by_epoch=True,
                                                warmup='constant', warmup_iters=3, warmup_ratio=0.25), True))
    runner = _runner([0.1], it=0, epoch=0, max_epochs=4)
    hook.before_run(runner)
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner)
    assert runner.optimizer.param_groups[0]['lr'] == pytest.approx(0.025)
    runner.iter = 3
    hook.before_train_iter(runner)
    assert runner.optimizer.param_groups[0]['lr'] == pytest.approx(0.1)
    runner.epoch, runner.iter = 2, 25
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner)
    assert runner.optimizer.param_groups[0]['lr'] == pytest.approx(0.01)
