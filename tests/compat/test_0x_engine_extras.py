"""mmcv 1.x engine features that 0.x configs use: GradientCumulative(Fp16)OptimizerHook, EmptyCacheHook, the full
TextLoggerHook signature (out_dir copies, interval_exp_name) and the other lr policies, through the real runner.

Runs use the engine tests' toy segmentor (GroupNorm, dropout off) on generated data, in this process.
"""
import copy
import json
import logging
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import List

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'engine'))  # the engine tests' ``toy`` module

import toy  # noqa: E402
from compat_utils import load_config, small_options  # noqa: E402
from mmseg_ddrnet.apis.train import _split_optimizer_config, train_segmentor  # noqa: E402
from mmseg_ddrnet.config import Config  # noqa: E402
from mmseg_ddrnet.engine.hooks import GradientCumulativeOptimizerHook, Hook, OptimizerHook  # noqa: E402
from mmseg_ddrnet.engine.hooks import memory as memory_hooks  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.engine.amp import MixedPrecision  # noqa: E402
from mmseg_ddrnet.engine.log_buffer import LogBuffer  # noqa: E402
from mmseg_ddrnet.engine.lr import build_lr_schedule  # noqa: E402
from mmseg_ddrnet.engine.rng import set_random_seed  # noqa: E402
from mmseg_ddrnet.models import build_segmentor  # noqa: E402
from mmseg_ddrnet.registry import HOOKS  # noqa: E402
from mmseg_ddrnet.utils import ConfigError  # noqa: E402

TIMESTAMP = '20260101_000000'
SEEN_RUNNERS: List = []


@HOOKS.register_module(force=True)
class RecordRunnerHook(Hook):
    """Keeps the runner of each run (to look at its hooks and mixed-precision settings)."""

    def before_run(self, runner) -> None:
        SEEN_RUNNERS.append(runner)


@HOOKS.register_module(force=True)
class RecordLrHook(Hook):
    """Records the lr of the first param group before each training iteration (after the lr hook set it)."""

    lrs: List[float] = []

    def before_train_iter(self, runner) -> None:
        RecordLrHook.lrs.append(runner.optimizer.param_groups[0]['lr'])


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def package_log():
    """The messages of the package logger during the test."""
    handler = ListHandler()
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory) -> str:
    return toy.make_toy_data(str(tmp_path_factory.mktemp('toy_data')))


def train(work_dir, data_root: str, max_iters: int = 2, samples_per_gpu: int = 2, meta=None, **overrides):
    """Train the toy segmentor (no dropout, no random augmentation) as tools/train.py would; returns the model."""
    cfg_dict = toy.toy_config(data_root, max_iters=max_iters, **overrides)
    cfg_dict['model'] = dict(type='ToySegmentor', dropout=0.0)
    train_cfg = cfg_dict['data']['train']
    train_cfg['pipeline'] = [dict(t, prob=0.0) if t['type'] == 'RandomFlip' else t
                             for t in train_cfg['pipeline'] if t['type'] != 'PhotoMetricDistortion']
    cfg_dict['data']['samples_per_gpu'] = samples_per_gpu
    cfg = Config(cfg_dict)
    cfg.work_dir, cfg.seed, cfg.gpu_ids = str(work_dir), 0, [0]
    set_random_seed(0, deterministic=True)
    model = build_segmentor(cfg.model)
    model.init_weights()
    train_segmentor(model, [build_dataset(cfg.data.train)], cfg, validate=False, timestamp=TIMESTAMP,
                    meta=meta if meta is not None else dict(seed=0, exp_name='toy.py'))
    return model


def json_lines(work_dir) -> list:
    with open(Path(work_dir) / f'{TIMESTAMP}.log.json') as f:
        return [json.loads(line) for line in f]


def train_lines(work_dir) -> list:
    return [line for line in json_lines(work_dir) if line.get('mode') == 'train']


# ---------------------------------------------------------------- GradientCumulativeOptimizerHook

CLIP = dict(max_norm=0.5, norm_type=2)


@pytest.mark.parametrize('grad_clip', [None, CLIP], ids=['no_clip', 'clip'])
def test_two_accumulated_batches_of_one_equal_one_batch_of_two(tmp_path, toy_root, grad_clip):
    """mean(loss_1, loss_2) of one batch of 2 == loss_1 / 2 + loss_2 / 2 accumulated: the same single step
    (momentum SGD with weight decay; the clip applies to the accumulated gradient)."""
    fixed = dict(policy='fixed')
    accumulated = train(tmp_path / 'acc', toy_root, max_iters=2, samples_per_gpu=1, lr_config=fixed,
                        optimizer_config=dict(type='GradientCumulativeOptimizerHook', cumulative_iters=2,
                                              grad_clip=grad_clip))
    batched = train(tmp_path / 'batch', toy_root, max_iters=1, samples_per_gpu=2, lr_config=fixed,
                    optimizer_config=dict(grad_clip=grad_clip))
    two_steps = train(tmp_path / 'two', toy_root, max_iters=2, samples_per_gpu=1, lr_config=fixed,
                      optimizer_config=dict(grad_clip=grad_clip))
    for (name, a), b, c in zip(accumulated.state_dict().items(), batched.state_dict().values(),
                               two_steps.state_dict().values()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), name
    assert any(not torch.allclose(a, c, atol=1e-4) for a, c in zip(accumulated.parameters(), two_steps.parameters()))
    if grad_clip is not None:  # clipped (and logged) at the step only
        assert [('grad_norm' in line) for line in train_lines(tmp_path / 'acc')] == [False, True]
        assert train_lines(tmp_path / 'acc')[1]['grad_norm'] > 2 * CLIP['max_norm']  # the clip bites


def linear_runner(max_iters: int, start_iter: int = 0):
    """A runner stand-in around ``loss = w * x`` (gradient x), SGD lr 1, for the hook alone."""
    w = torch.nn.Parameter(torch.zeros(1))
    logger = logging.getLogger('test_gradient_cumulative')
    return SimpleNamespace(model=torch.nn.Linear(1, 1), optimizer=torch.optim.SGD([w], lr=1.0), w=w,
                           amp=MixedPrecision(torch.device('cpu'), enabled=False), log_buffer=LogBuffer(),
                           logger=logger, iter=start_iter, max_iters=max_iters, outputs={})


def run_hook(hook, runner, xs) -> List[float]:
    """Feed ``loss = w * x`` for each x through ``hook``; the weight after each iteration."""
    weights = []
    for x in xs:
        runner.outputs = dict(loss=(runner.w * x).sum(), num_samples=1)
        hook.after_train_iter(runner)
        weights.append(runner.w.item())
        runner.iter += 1
    return weights


def test_last_incomplete_group_divides_by_the_remainder(caplog):
    # 5 iterations, groups of 2: steps after iterations 2 and 4 (losses / 2), the 5th alone (loss / 1)
    runner = linear_runner(max_iters=5)
    hook = GradientCumulativeOptimizerHook(cumulative_iters=2)
    with caplog.at_level(logging.WARNING, logger='test_gradient_cumulative'):
        weights = run_hook(hook, runner, [1., 2., 3., 4., 5.])
    assert weights == pytest.approx([0., -1.5, -1.5, -5., -10.])
    assert hook.remainder_iters == 1
    assert sum('divided by 1' in r.getMessage() for r in caplog.records) == 1


def test_resumed_run_steps_at_the_next_multiple(caplog):
    # resumed at iteration 3 of groups of 3: iterations 3..5 make the 2nd group (step after the 6th), then 6, 7
    # are the incomplete last group (max_iters 8 = 2 * 3 + 2): divided by 2, step at the last iteration
    runner = linear_runner(max_iters=8, start_iter=3)
    hook = GradientCumulativeOptimizerHook(cumulative_iters=3)
    with caplog.at_level(logging.WARNING, logger='test_gradient_cumulative'):
        weights = run_hook(hook, runner, [3., 6., 9., 2., 4.])
    assert weights == pytest.approx([0., 0., -6., -6., -9.])
    assert not any('resumes at iteration' in r.getMessage() for r in caplog.records)  # 3 is a multiple of 3
    runner = linear_runner(max_iters=8, start_iter=4)
    with caplog.at_level(logging.WARNING, logger='test_gradient_cumulative'):
        weights = run_hook(GradientCumulativeOptimizerHook(cumulative_iters=3), runner, [6., 9., 2., 4.])
    # the gradient of iteration 3 was lost with the interruption: the step after iteration 6 sees (6 + 9) / 3
    assert weights == pytest.approx([0., -5., -5., -8.])
    assert any('resumes at iteration 4' in r.getMessage() for r in caplog.records)


def test_resumed_run_through_the_runner_warns(tmp_path, toy_root, package_log):
    cumulative = dict(type='GradientCumulativeOptimizerHook', cumulative_iters=2)
    train(tmp_path, toy_root, max_iters=1, optimizer_config=cumulative, checkpoint_config=dict(interval=1))
    package_log.clear()
    train(tmp_path, toy_root, max_iters=3, optimizer_config=cumulative, resume_from=str(tmp_path / 'iter_1.pth'),
          checkpoint_config=dict(interval=1))
    assert any('resumes at iteration 1' in m for m in package_log)
    assert any('last 1 iteration(s) are divided by 1' in m for m in package_log)
    assert torch.load(tmp_path / 'iter_3.pth', weights_only=True)['meta']['iter'] == 3


def test_fp16_variant_maps_to_amp_and_the_cumulative_hook(tmp_path, toy_root):
    cfg = Config(dict(optimizer_config=dict(type='GradientCumulativeFp16OptimizerHook', cumulative_iters=4,
                                            loss_scale=512., distributed=False, grad_clip=None)))
    assert _split_optimizer_config(cfg) == (dict(type='GradientCumulativeOptimizerHook', cumulative_iters=4,
                                                 grad_clip=None), {'loss_scale': 512.})
    SEEN_RUNNERS.clear()
    train(tmp_path, toy_root, max_iters=2, custom_hooks=[dict(type='RecordRunnerHook')], optimizer_config=dict(
        type='GradientCumulativeFp16OptimizerHook', cumulative_iters=2, loss_scale='dynamic'))
    [runner] = SEEN_RUNNERS
    [hook] = [h for h in runner.hooks if isinstance(h, OptimizerHook)]
    assert type(hook) is GradientCumulativeOptimizerHook and hook.cumulative_iters == 2
    assert runner.amp.enabled  # bf16 autocast on the CPU
    assert all(0 < line['loss'] < 10 for line in train_lines(tmp_path))


@pytest.mark.parametrize('optimizer_config,match', [
    (dict(type='GradientCumulativeOptimizerHook', cumulative_iters=0), 'cumulative_iters must be a positive int'),
    (dict(type='GradientCumulativeOptimizerHook', cumulative_iters=2.0), 'cumulative_iters must be a positive int'),
    (dict(type='GradientCumulativeOptimizerHook', cumulative_iter=2), "unexpected keyword argument 'cumulative_iter'"),
    (dict(type='GradientCumulativeOptimizerHook', grad_clip=0.5), 'grad_clip must be dict'),
    (dict(type='GradientCumulativeOptimiserHook'), "optimizer_config.type must be one of .*'GradientCumulativeOpt"),
])
def test_optimizer_config_errors(tmp_path, toy_root, optimizer_config, match):
    with pytest.raises(ConfigError, match=match):
        train(tmp_path, toy_root, max_iters=1, optimizer_config=optimizer_config)


def test_0x_config_with_gradient_cumulative_optimizer_hook(tmp_path, cityscapes_root):
    cfg = load_config('ddrnet_23_slim_fork_cityscapes', small_options(cityscapes_root) + [
        'runner.max_iters=2', 'optimizer_config.type=GradientCumulativeOptimizerHook',
        'optimizer_config.cumulative_iters=2'])
    cfg.work_dir, cfg.gpu_ids, cfg.seed = str(tmp_path), [0], 0
    cfg.custom_hooks = [dict(type='RecordRunnerHook')]
    model = build_segmentor(copy.deepcopy(cfg.model))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    SEEN_RUNNERS.clear()
    train_segmentor(model, [build_dataset(cfg.data.train)], cfg)
    [runner] = SEEN_RUNNERS
    [hook] = [h for h in runner.hooks if isinstance(h, OptimizerHook)]
    assert type(hook) is GradientCumulativeOptimizerHook and hook.cumulative_iters == 2
    state = torch.load(tmp_path / 'iter_2.pth', weights_only=True)['state_dict']
    assert not torch.equal(state['decode_head.conv_seg.weight'], before['decode_head.conv_seg.weight'])


# ---------------------------------------------------------------- EmptyCacheHook

def test_empty_cuda_cache_only_with_cuda(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, 'empty_cache', lambda: calls.append(1))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    memory_hooks.empty_cuda_cache()
    assert calls == []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    memory_hooks.empty_cuda_cache()
    assert calls == [1]


@pytest.mark.parametrize('args,expected', [
    ({}, ['after_train_epoch', 'after_val_epoch']),  # mmcv's defaults: after each epoch
    (dict(before_epoch=True, after_epoch=False, after_iter=True),
     ['before_train_epoch', 'after_train_iter', 'before_val_epoch', 'after_val_iter']),
])
def test_empty_cache_hook_stages(monkeypatch, args, expected):
    called = []
    hook = HOOKS.build(dict(type='EmptyCacheHook', **args))
    for stage in Hook.STAGES:
        monkeypatch.setattr(memory_hooks, 'empty_cuda_cache', lambda stage=stage: called.append(stage))
        getattr(hook, stage)(None)
    assert sorted(called) == sorted(expected)


def test_empty_cache_hook_in_a_cpu_run(tmp_path, toy_root, monkeypatch):
    calls = []
    monkeypatch.setattr(memory_hooks, 'empty_cuda_cache', lambda: calls.append(1))
    train(tmp_path, toy_root, max_iters=2, custom_hooks=[dict(type='EmptyCacheHook', after_iter=True)])
    assert len(calls) == 3  # after each of the 2 iterations and after the (single) train epoch
    assert (tmp_path / 'iter_2.pth').is_file()


# ---------------------------------------------------------------- TextLoggerHook

def test_text_logger_full_mmcv_signature():
    hook = HOOKS.build(dict(type='TextLoggerHook', by_epoch=False, interval=10, interval_exp_name=1000,
                            out_suffix=('.log.json', '.log', '.py'), keep_local=True, file_client_args=None))
    assert (hook.interval, hook.interval_exp_name, hook.out_dir) == (10, 1000, None)


@pytest.mark.parametrize('keep_local', [True, False])
def test_text_logger_out_dir_copies_the_logs(tmp_path, toy_root, keep_local):
    work_dir, out_dir = tmp_path / 'my_exp', tmp_path / 'shared_logs'
    work_dir.mkdir()
    (work_dir / 'my_exp.py').write_text('# the dumped config\n')
    (work_dir / 'notes.txt').write_text('not a log\n')
    train(work_dir, toy_root, max_iters=2, log_config=dict(interval=1, hooks=[dict(
        type='TextLoggerHook', by_epoch=False, out_dir=str(out_dir), keep_local=keep_local,
        file_client_args=dict(backend='disk'))]))
    copied = out_dir / 'my_exp'  # out_dir / the last folder of work_dir, as mmcv
    assert sorted(os.listdir(copied)) == [f'{TIMESTAMP}.log.json', 'my_exp.py']
    assert [json.loads(x)['iter'] for x in (copied / f'{TIMESTAMP}.log.json').read_text().splitlines()[1:]] == [1, 2]
    assert (work_dir / f'{TIMESTAMP}.log.json').exists() == keep_local
    assert (work_dir / 'my_exp.py').exists() == keep_local and (work_dir / 'notes.txt').exists()


def test_text_logger_interval_exp_name(tmp_path, toy_root, package_log):
    train(tmp_path, toy_root, max_iters=4, meta=dict(seed=0, exp_name='my_exp.py'), log_config=dict(
        interval=1, hooks=[dict(type='TextLoggerHook', by_epoch=False, interval_exp_name=2)]))
    assert package_log.count('Exp name: my_exp.py') == 2  # at iterations 2 and 4


@pytest.mark.parametrize('args,match', [
    (dict(file_client_args=dict(backend='disk')), 'file_client_args must be None when out_dir is not set'),
    (dict(out_dir='/tmp/x', file_client_args=dict(backend='petrel')), "file_client_args must be None or "),
    (dict(out_dir='s3://bucket/logs'), 'only local folders'),
    (dict(out_dir=3), 'out_dir must be a folder path'),
    (dict(out_suffix=['.log']), 'out_suffix must be a str or a tuple of str'),
])
def test_text_logger_errors(args, match):
    with pytest.raises(ConfigError, match=match) as info:
        HOOKS.build(dict(type='TextLoggerHook', **args))
    assert str(info.value).startswith('TextLoggerHook:')


# ---------------------------------------------------------------- lr policies of 0.x configs

MMCV_LR_POLICIES = [
    dict(policy='inv', gamma=0.1, power=0.75),
    dict(policy='OneCycle', max_lr=0.01, total_steps=100),
    dict(policy='CosineRestart', periods=[10, 20], restart_weights=[1, 0.5], min_lr=0.0),
    dict(policy='Cyclic', target_ratio=(10, 1e-4), cyclic_times=1),
    dict(policy='FlatCosineAnnealing', start_percent=0.75, min_lr=0.0),
    dict(policy='LinearAnnealing', min_lr=0.0),
]


@pytest.mark.parametrize('lr_config', MMCV_LR_POLICIES, ids=[c['policy'] for c in MMCV_LR_POLICIES])
def test_mmcv_lr_policy_drives_the_run(tmp_path, toy_root, lr_config):
    """A 0.x config's lr_config sets the lr of every iteration of a real run, as the policy's schedule says
    (each schedule is checked against mmcv's formulas in tests/engine/test_lr_policies.py)."""
    cfg = dict(lr_config, by_epoch=False)
    schedule = build_lr_schedule(cfg, by_epoch_default=False)
    assert schedule.policy == lr_config['policy']
    max_iters = 8
    RecordLrHook.lrs = []
    train(tmp_path, toy_root, max_iters=max_iters, lr_config=cfg, checkpoint_config=None,
          custom_hooks=[dict(type='RecordLrHook')])
    # OneCycle's base lr is max_lr / div_factor (25), whatever optimizer.lr (0.05) says
    base = lr_config['max_lr'] / 25 if lr_config['policy'] == 'OneCycle' else 0.05
    expected = [schedule.lr_at(base, it, max_iters) for it in range(max_iters)]
    assert len({round(lr, 12) for lr in expected}) > 1  # the policy moves the lr within the run
    assert RecordLrHook.lrs == pytest.approx(expected, rel=1e-12)


def test_cyclic_lr_in_an_epoch_based_run(tmp_path, toy_root):
    # 8 images / 2 = 4 iterations: one cycle of 4, up for int(0.4 * 4) = 1 iteration (lr 0.05 -> 0.5), then down
    train(tmp_path, toy_root, runner=dict(type='EpochBasedRunner', max_epochs=1), checkpoint_config=None,
          lr_config=dict(policy='Cyclic', target_ratio=(10, 1e-4)))

    def cos(start, end, factor):
        import math
        return end + 0.5 * (start - end) * (math.cos(math.pi * factor) + 1)

    expected = [0.05, 0.5, cos(0.5, 5e-6, 1 / 3), cos(0.5, 5e-6, 2 / 3)]
    assert [line['lr'] for line in train_lines(tmp_path)] == pytest.approx(expected, abs=1e-5)


def test_one_cycle_lr_in_an_iter_based_run(tmp_path, toy_root):
    # base lr = max_lr / div_factor = 0.02 whatever optimizer.lr says; phase 1 ends at 0.5 * 4 - 1 = 1, phase 2
    # at 3: iteration 2 is half-way down (cos(pi / 2) + 1 = 1), iteration 3 at the end (cos(pi) + 1 = 0)
    train(tmp_path, toy_root, max_iters=4, lr_config=dict(policy='OneCycle', max_lr=0.5, pct_start=0.5))
    final = 0.02 / 1e4
    expected = [0.02, 0.5, final + 0.5 * (0.5 - final), final]
    assert [line['lr'] for line in train_lines(tmp_path)] == pytest.approx(expected, abs=1e-5)
