"""The mmcv 1.x lr policies of engine/lr_policies.py against mmcv's formulas evaluated by hand at chosen iterations
(and epochs), warmup included, through the schedule and through ``LrUpdaterHook``; and their config errors."""
import math
from types import SimpleNamespace

import pytest
import torch

from mmseg_ddrnet.engine.hooks import LrUpdaterHook
from mmseg_ddrnet.engine.lr import build_lr_schedule
from mmseg_ddrnet.utils import ConfigError

BASE = 0.01


def lr_at(cfg: dict, it: int, max_iters: int = 100, base: float = BASE, epoch: int = 0, max_epochs: int = 1):
    return build_lr_schedule(cfg, by_epoch_default=False).lr_at(base, it, max_iters, epoch, max_epochs)


def cos_anneal(start, end, factor, weight=1.):
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * factor) + 1)


def runner(lrs, max_iters=100, max_epochs=None, loader_len=10):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{'params': [p], 'lr': lr} for p, lr in zip(params, lrs)], lr=lrs[0])
    return SimpleNamespace(optimizer=opt, iter=0, epoch=0, max_iters=max_iters, max_epochs=max_epochs,
                           data_loader=[0] * loader_len)


def hook_lrs(cfg: dict, run, by_epoch_default=False):
    """The lrs the hook sets before ``run.iter`` (calling before_run, before_train_epoch, before_train_iter)."""
    hook = LrUpdaterHook(build_lr_schedule(cfg, by_epoch_default))
    hook.before_run(run)
    hook.before_train_epoch(run)
    hook.before_train_iter(run)
    return [g['lr'] for g in run.optimizer.param_groups]


# ---------------------------------------------------------------- inv

@pytest.mark.parametrize('it,expected', [(0, 0.01), (10, 0.01 * 2 ** -0.75), (30, 0.01 * 4 ** -0.75)])
def test_inv(it, expected):
    assert lr_at(dict(policy='inv', gamma=0.1, power=0.75), it) == pytest.approx(expected, rel=1e-12)


def test_inv_by_epoch_uses_the_epoch():
    cfg = dict(policy='inv', gamma=0.1, by_epoch=True)  # power defaults to 1
    assert lr_at(cfg, it=57, epoch=3, max_epochs=5) == pytest.approx(0.01 / 1.3, rel=1e-12)


# ---------------------------------------------------------------- LinearAnnealing

def test_linear_annealing_min_lr_and_ratio():
    assert lr_at(dict(policy='LinearAnnealing', min_lr=1e-4), 25) == pytest.approx(0.01 - 0.25 * (0.01 - 1e-4))
    ratio = dict(policy='LinearAnnealing', min_lr_ratio=0.1)
    assert lr_at(ratio, 50) == pytest.approx(0.0055, rel=1e-12)
    assert lr_at(dict(ratio, by_epoch=True), it=99, epoch=2, max_epochs=4) == pytest.approx(0.0055, rel=1e-12)


# ---------------------------------------------------------------- FlatCosineAnnealing

def test_flat_cosine_annealing():
    cfg = dict(policy='FlatCosineAnnealing', start_percent=0.75, min_lr=0.0)
    assert lr_at(cfg, 0) == lr_at(cfg, 74) == lr_at(cfg, 75) == pytest.approx(0.01)
    assert lr_at(cfg, 80) == pytest.approx(cos_anneal(0.01, 0, 5 / 25), rel=1e-12)
    assert lr_at(cfg, 99) == pytest.approx(cos_anneal(0.01, 0, 24 / 25), rel=1e-12)


def test_flat_cosine_start_is_rounded_as_python_round():
    # start = round(10 * 0.25) = round(2.5) = 2 (banker's rounding, as mmcv): iteration 3 is already annealing
    cfg = dict(policy='FlatCosineAnnealing', start_percent=0.25, min_lr_ratio=0.1)
    assert lr_at(cfg, 3, max_iters=10) == pytest.approx(cos_anneal(0.01, 0.001, 1 / 8), rel=1e-12)
    by_epoch = dict(cfg, by_epoch=True)  # 8 epochs: start = 2; epoch 4 -> factor 2/6
    assert lr_at(by_epoch, it=0, epoch=4, max_epochs=8) == pytest.approx(cos_anneal(0.01, 0.001, 2 / 6))


# ---------------------------------------------------------------- CosineRestart

@pytest.mark.parametrize('it,expected', [
    (0, 0.01),
    (5, 0.5 * 0.01 * (math.cos(math.pi / 2) + 1)),   # 0.005
    (10, 0.5 * 0.5 * 0.01 * 2),                     # restart at weight 0.5: 0.005
    (20, 0.5 * 0.5 * 0.01 * 1),                     # half-way through the 2nd period: 0.0025
    (29, 0.5 * 0.5 * 0.01 * (math.cos(math.pi * 19 / 20) + 1)),
])
def test_cosine_restart(it, expected):
    cfg = dict(policy='CosineRestart', periods=[10, 20], restart_weights=[1, 0.5], min_lr=0.0)
    assert lr_at(cfg, it, max_iters=30) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_cosine_restart_min_lr_ratio_and_by_epoch():
    cfg = dict(policy='CosineRestart', periods=[2, 4], restart_weights=[1, 0.5], min_lr_ratio=0.1, by_epoch=True)
    assert lr_at(cfg, it=0, epoch=2, max_epochs=6) == pytest.approx(0.001 + 0.5 * 0.5 * 0.009 * 2)  # 0.0055
    assert lr_at(cfg, it=0, epoch=4, max_epochs=6) == pytest.approx(0.001 + 0.5 * 0.5 * 0.009 * 1)


def test_cosine_restart_periods_must_cover_the_run():
    cfg = dict(policy='CosineRestart', periods=[10, 20], restart_weights=[1, 0.5], min_lr=0.0)
    with pytest.raises(ConfigError, match=r"policy 'CosineRestart'.*cover 30 iterations but the run has 40"):
        hook_lrs(cfg, runner([0.01], max_iters=40))
    assert hook_lrs(cfg, runner([0.01], max_iters=30)) == [pytest.approx(0.01)]


# ---------------------------------------------------------------- Cyclic

@pytest.mark.parametrize('it,expected', [
    (0, 0.01),
    (20, cos_anneal(0.01, 0.1, 0.5)),    # going up over 40 iterations: 0.055
    (40, 0.1),                           # the peak, base * target_ratio[0]
    (70, cos_anneal(0.1, 1e-6, 0.5)),    # going down to base * 1e-4 over 60 iterations
])
def test_cyclic_one_cycle(it, expected):
    cfg = dict(policy='Cyclic', target_ratio=(10, 1e-4), cyclic_times=1, step_ratio_up=0.4)
    assert lr_at(cfg, it) == pytest.approx(expected, rel=1e-12)


def test_cyclic_two_cycles_with_gamma():
    # cycles of 50 iterations, 20 up; cycle 1 scales the distance from the base lr by gamma = 0.5
    cfg = dict(policy='Cyclic', target_ratio=(10, 1e-4), cyclic_times=2, gamma=0.5)
    assert lr_at(cfg, 10) == pytest.approx(cos_anneal(0.01, 0.1, 0.5))
    peak = 0.01 * (1 - 0.5 + 10 * 0.5)  # 0.055
    assert lr_at(cfg, 60) == pytest.approx(cos_anneal(0.01, peak, 10 / 20), rel=1e-12)
    assert lr_at(cfg, 80) == pytest.approx(cos_anneal(peak, 1e-6, 10 / 30), rel=1e-12)


def test_cyclic_linear_and_scalar_target_ratio():
    assert lr_at(dict(policy='Cyclic', anneal_strategy='linear'), 10) == pytest.approx(0.01 + 0.09 * 10 / 40)
    # a number r means (r, r / 1e5)
    assert lr_at(dict(policy='Cyclic', target_ratio=5.0), 40) == pytest.approx(0.05)
    assert lr_at(dict(policy='Cyclic', target_ratio=5.0), 99) == pytest.approx(cos_anneal(0.05, 5e-7, 59 / 60))


def test_cyclic_and_one_cycle_ignore_the_epoch_runner_default():
    for cfg in (dict(policy='Cyclic'), dict(policy='OneCycle', max_lr=0.1)):
        assert build_lr_schedule(cfg, by_epoch_default=True).by_epoch is False


# ---------------------------------------------------------------- OneCycle

ONE_CYCLE = dict(policy='OneCycle', max_lr=0.01, total_steps=100)  # pct_start 0.3, div 25, final_div 1e4


@pytest.mark.parametrize('extra,it,expected', [
    ({}, 0, 0.0004),                                             # max_lr / div_factor
    ({}, 10, cos_anneal(0.0004, 0.01, 10 / 29)),                 # phase 1 ends at 0.3 * 100 - 1 = 29
    ({}, 29, 0.01),
    ({}, 64, cos_anneal(0.01, 4e-8, 35 / 70)),                   # phase 2: 29 -> 99, down to 0.0004 / 1e4
    ({}, 99, 4e-8),
    ({'anneal_strategy': 'linear'}, 10, 0.0004 + 0.0096 * 10 / 29),
    ({'three_phase': True}, 50, cos_anneal(0.01, 0.0004, 21 / 29)),  # phase 2: 29 -> 58 back to the start
    ({'three_phase': True}, 58, 0.0004),
    ({'three_phase': True}, 80, cos_anneal(0.0004, 4e-8, 22 / 41)),
])
def test_one_cycle(extra, it, expected):
    run = runner([0.5])  # the optimizer's lr does not matter: the base lr is max_lr / div_factor
    run.iter = it
    assert hook_lrs(dict(ONE_CYCLE, **extra), run) == [pytest.approx(expected, rel=1e-12)]
    assert run.optimizer.param_groups[0]['initial_lr'] == pytest.approx(0.0004)


def test_one_cycle_max_lr_per_group_and_default_total_steps():
    run = runner([0.5, 0.5], max_iters=50)
    run.iter = 14  # total_steps = max_iters = 50: phase 1 ends at 14
    assert hook_lrs(dict(policy='OneCycle', max_lr=[0.01, 0.02]), run) == pytest.approx([0.01, 0.02])
    run = runner([0.5], max_iters=50)
    assert hook_lrs(dict(policy='OneCycle', max_lr={'SGD': 0.05}, div_factor=10.), run) == pytest.approx([0.005])


def test_one_cycle_warmup_scales_the_regular_lr():
    cfg = dict(ONE_CYCLE, warmup='linear', warmup_iters=10, warmup_ratio=0.1)
    run = runner([0.5])
    run.iter = 5
    factor = 1 - (1 - 5 / 10) * (1 - 0.1)
    assert hook_lrs(cfg, run) == [pytest.approx(cos_anneal(0.0004, 0.01, 5 / 29) * factor, rel=1e-12)]


# ---------------------------------------------------------------- warmup with the hook

def test_by_epoch_policy_with_warmup_through_the_hook():
    hook = LrUpdaterHook(build_lr_schedule(dict(policy='inv', gamma=1.0, by_epoch=True, warmup='exp',
                                                warmup_iters=4, warmup_ratio=0.25), True))
    run = runner([0.1], max_epochs=3)
    hook.before_run(run)
    hook.before_train_epoch(run)
    run.iter = 2
    hook.before_train_iter(run)
    assert run.optimizer.param_groups[0]['lr'] == pytest.approx(0.1 * 0.25 ** 0.5)
    run.iter = 4  # warmup over: the regular lr of epoch 0
    hook.before_train_iter(run)
    assert run.optimizer.param_groups[0]['lr'] == pytest.approx(0.1)
    run.epoch, run.iter = 1, 10
    hook.before_train_epoch(run)
    hook.before_train_iter(run)
    assert run.optimizer.param_groups[0]['lr'] == pytest.approx(0.1 / 2)


def test_warmup_by_epoch_with_iteration_updates():
    # mmcv converts warmup epochs to iterations before the by_epoch check: 1 epoch of 10 batches = 10 iterations
    cfg = dict(policy='LinearAnnealing', min_lr=0.0, warmup='linear', warmup_iters=1, warmup_by_epoch=True,
               warmup_ratio=0.1)
    run = runner([0.01], max_iters=100, loader_len=10)
    run.iter = 5
    assert hook_lrs(cfg, run) == [pytest.approx(0.01 * 0.95 * (1 - 0.5 * 0.9), rel=1e-12)]


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize('cfg,match', [
    (dict(policy='OneCycle', max_lr=0.01, foo=1), r"policy 'OneCycle'.*unexpected keyword argument.*'foo'"),
    (dict(policy='OneCycle'), r"policy 'OneCycle'.*missing required argument.*'max_lr'"),
    (dict(policy='inv'), r"policy 'inv'.*missing required argument.*'gamma'"),
    (dict(policy='OneCycle', max_lr=0.01, by_epoch=True), r"policy 'OneCycle'.*by_epoch=True"),
    (dict(policy='OneCycle', max_lr=0.01, pct_start=1), r"policy 'OneCycle'.*pct_start must be a float"),
    (dict(policy='OneCycle', max_lr='big'), r"policy 'OneCycle'.*max_lr must be"),
    (dict(policy='OneCycle', max_lr=0.01, anneal_strategy='tri'), r"policy 'OneCycle'.*anneal_strategy"),
    (dict(policy='OneCycle', max_lr=0.01, total_steps=1.5), r"policy 'OneCycle'.*total_steps"),
    (dict(policy='Cyclic', by_epoch=True), r"policy 'Cyclic'.*by_epoch=True"),
    (dict(policy='Cyclic', step_ratio_up=1.0), r"policy 'Cyclic'.*step_ratio_up"),
    (dict(policy='Cyclic', gamma=0), r"policy 'Cyclic'.*gamma"),
    (dict(policy='Cyclic', target_ratio=(1, 2, 3)), r"policy 'Cyclic'.*target_ratio"),
    (dict(policy='Cyclic', cyclic_times=0), r"policy 'Cyclic'.*cyclic_times"),
    (dict(policy='CosineRestart', periods=[10, 20], min_lr=0.0), r"policy 'CosineRestart'.*same length"),
    (dict(policy='CosineRestart', periods=[10, 0], restart_weights=[1, 1], min_lr=0.0), r'periods must be'),
    (dict(policy='CosineRestart', periods=[10]), r"policy 'CosineRestart'.*exactly one of min_lr"),
    (dict(policy='FlatCosineAnnealing', start_percent=1, min_lr=0.0), r'start_percent must be a float'),
    (dict(policy='LinearAnnealing', min_lr=0.0, min_lr_ratio=0.1), r"'LinearAnnealing'.*exactly one"),
    (dict(policy='Linear', min_lr=0.0), r"policy must be one of .*'LinearAnnealing'"),
])
def test_config_errors_name_the_policy_and_argument(cfg, match):
    with pytest.raises(ConfigError, match=match) as info:
        build_lr_schedule(cfg, by_epoch_default=False)
    assert '\n' not in str(info.value)


@pytest.mark.parametrize('cfg,run,match', [
    (dict(ONE_CYCLE, max_lr=[0.01, 0.02]), runner([0.1]), 'max_lr has 2 values but the optimizer has 1'),
    (dict(ONE_CYCLE, max_lr={'Adam': 0.01}), runner([0.1]), "no entry for the optimizer 'SGD'"),
    (ONE_CYCLE, runner([0.1], max_iters=200), r'total_steps \(100\) must be at least max_iters \(200\)'),
    (dict(policy='Cyclic', cyclic_times=20), runner([0.1], max_iters=10), r'cyclic_times \(20\) exceeds'),
])
def test_errors_found_before_the_run(cfg, run, match):
    with pytest.raises(ConfigError, match=match):
        hook_lrs(cfg, run)
