"""mmcv 1.7 hook types in 0.x configs (custom_hooks, checkpoint_config): real toy training runs.

EMAHook, SyncBuffersHook, DistSamplerSeedHook, ClosureHook, ProfilerHook, the CheckpointHook arguments of
mmcv 1.7, mmcv's generic hook stages, and the hook types refused with a reason.
"""
import json
import os
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import toy
from mmseg_ddrnet.apis.train import train_segmentor
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.engine.hooks import DistSamplerSeedHook, Hook, SyncBuffersHook
from mmseg_ddrnet.engine.hooks.refused import REFUSED_HOOKS
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.datasets.samplers import SeededSampler
from mmseg_ddrnet.engine.rng import set_random_seed
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.registry import HOOKS
from mmseg_ddrnet.utils import ConfigError

RUNNERS = []
SNAPSHOTS = []
EVENTS = []


@HOOKS.register_module(force=True)
class KeepRunnerHook(Hook):
    def before_run(self, runner) -> None:
        RUNNERS.append(runner)


@HOOKS.register_module(force=True)
class SnapshotParamsHook(Hook):
    """The parameters after each optimizer step (register between the optimizer hook and the EMA hook)."""

    def after_train_iter(self, runner) -> None:
        SNAPSHOTS.append({k: v.detach().clone() for k, v in runner.model.named_parameters()})


@HOOKS.register_module(force=True)
class GenericStagesHook(Hook):
    """An mmcv-style hook overriding only the generic stages."""

    def before_epoch(self, runner) -> None:
        EVENTS.append(('before_epoch', runner.mode))

    def after_iter(self, runner) -> None:
        EVENTS.append(('after_iter', runner.mode))


def train(tmp_path, data_root, name='wd', validate=False, datasets=1, **overrides):
    overrides.setdefault('checkpoint_config', None)
    cfg = Config(toy.toy_config(data_root, **overrides))
    cfg.work_dir, cfg.seed, cfg.gpu_ids = str(tmp_path / name), 0, [0]
    set_random_seed(0, deterministic=True)
    model = build_segmentor(cfg.model)
    model.init_weights()
    sets = [build_dataset(cfg.data.train)]
    if datasets == 2:
        sets.append(build_dataset(dict(cfg.data.val, pipeline=cfg.data.train.pipeline)))
    train_segmentor(model, sets, cfg, validate=validate, meta=dict(seed=0))
    return cfg.work_dir, model


def test_generic_stages_run_in_train_and_val_phases(tmp_path, toy_data):
    EVENTS.clear()
    train(tmp_path, toy_data, max_iters=2, datasets=2, workflow=[('train', 1), ('val', 1)],
          custom_hooks=[dict(type='GenericStagesHook')])
    assert EVENTS == [('before_epoch', None), ('after_iter', 'train'), ('before_epoch', 'val'),
                      ('after_iter', 'val'), ('after_iter', 'train'), ('before_epoch', 'val'), ('after_iter', 'val')]
    assert GenericStagesHook().get_triggered_stages() == ['before_train_epoch', 'after_train_iter',
                                                          'before_val_epoch', 'after_val_iter']


def test_custom_hooks_come_after_the_eval_hook_as_in_mmseg(tmp_path, toy_data):
    RUNNERS.clear()
    train(tmp_path, toy_data, max_iters=2, validate=True, custom_hooks=[dict(type='KeepRunnerHook', priority='LOW')])
    names = [type(h).__name__ for h in RUNNERS[-1].hooks]
    assert names.index('EvalHook') < names.index('KeepRunnerHook') < names.index('TextLoggerHook')


def expected_ema(initial, snapshots, momentum, interval, warm_up):
    ema = {k: v.clone() for k, v in initial.items()}
    for it, params in enumerate(snapshots):
        m = min(momentum ** interval, (1 + it) / (warm_up + it))
        if it % interval == 0:
            ema = {k: (1 - m) * ema[k] + m * params[k] for k in ema}
    return ema


def test_ema_hook_follows_mmcv_formula_and_swaps_after_the_epoch(tmp_path, toy_data):
    SNAPSHOTS.clear()
    _, model = train(tmp_path, toy_data, max_iters=5, custom_hooks=[
        dict(type='SnapshotParamsHook', priority=45),
        dict(type='EMAHook', momentum=0.3, interval=2, warm_up=2, priority=49)])
    # the ema buffers start as copies of the weights at registration (the initialised model)
    set_random_seed(0, deterministic=True)
    fresh = build_segmentor(dict(type='ToySegmentor'))
    fresh.init_weights()
    initial = {k: v.detach().clone() for k, v in fresh.named_parameters()}
    expected = expected_ema(initial, SNAPSHOTS, 0.3, 2, 2)
    state = model.state_dict()
    # IterBasedRunner: one epoch; after it the weights hold the averages and the ema_* buffers the last weights
    for key, value in model.named_parameters():
        torch.testing.assert_close(value.detach(), expected[key], rtol=1e-6, atol=1e-7, msg=key)
        assert not torch.equal(value.detach(), SNAPSHOTS[-1][key])
        assert torch.equal(state[f"ema_{key.replace('.', '_')}"], SNAPSHOTS[-1][key])


EPOCHS = dict(runner=dict(type='EpochBasedRunner', max_epochs=3), lr_config=dict(policy='fixed'),
              log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook')]))


@pytest.mark.parametrize('runner, priority, ckpt_name', [('iter', 49, 'iter_3.pth'), ('epoch', 49, 'epoch_1.pth'),
                                                         ('epoch', 'NORMAL', 'epoch_2.pth')])
def test_ema_checkpoints_resume_exactly(tmp_path, toy_data, runner, priority, ckpt_name):
    # priority 49: the epoch checkpoints hold the swapped weights; NORMAL: saved before the swap
    hooks = [dict(type='EMAHook', momentum=0.2, warm_up=3, priority=priority)]
    if runner == 'iter':
        common = dict(max_iters=6, checkpoint_config=dict(by_epoch=False, interval=3))
    else:
        common = dict(EPOCHS, checkpoint_config=dict(interval=1))
    _, full = train(tmp_path, toy_data, 'full', custom_hooks=hooks, **common)
    saved = torch.load(tmp_path / 'full' / ckpt_name, weights_only=True)
    assert any(k.startswith('ema_') for k in saved['state_dict'])
    assert saved['meta']['hook_msgs']['ema_swapped'] is (runner == 'epoch' and priority == 49)
    _, resumed = train(tmp_path, toy_data, 'resumed', custom_hooks=hooks, **common,
                       resume_from=str(tmp_path / 'full' / ckpt_name))
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_ema_hook_resume_from_argument(tmp_path, toy_data):
    hooks = [dict(type='EMAHook', momentum=0.2, warm_up=3)]
    train(tmp_path, toy_data, 'first', max_iters=3, custom_hooks=hooks, checkpoint_config=dict(by_epoch=False,
                                                                                               interval=3))
    RUNNERS.clear()
    train(tmp_path, toy_data, 'second', max_iters=5, checkpoint_config=None, custom_hooks=[
        dict(type='KeepRunnerHook'), dict(hooks[0], resume_from=str(tmp_path / 'first' / 'iter_3.pth'))])
    assert RUNNERS[-1].iter == 5  # resumed at 3 by the hook's resume_from, then 2 more iterations


@pytest.mark.parametrize('args, match', [(dict(momentum=1.5), 'momentum must be in'),
                                         (dict(interval=0), 'interval must be a positive int')])
def test_ema_hook_argument_errors(tmp_path, toy_data, args, match):
    with pytest.raises(ConfigError, match=match):
        train(tmp_path, toy_data, max_iters=1, custom_hooks=[dict(type='EMAHook', **args)])


def _sync_worker(rank, port, out):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    model = nn.BatchNorm2d(2)
    model.running_mean.fill_(float(rank * 2))  # 0 and 2: the average is 1
    model.num_batches_tracked.fill_(7)

    class Runner:
        pass
    runner = Runner()
    runner.model = model
    SyncBuffersHook().after_train_epoch(runner)
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, f'{out}_{rank}.pt')
    dist.destroy_process_group()


def test_sync_buffers_hook_averages_over_two_processes(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_sync_worker, args=(port, str(tmp_path / 'bn')), nprocs=2)
    for rank in (0, 1):
        state = torch.load(tmp_path / f'bn_{rank}.pt', weights_only=True)
        assert torch.equal(state['running_mean'], torch.ones(2))
        assert int(state['num_batches_tracked']) == 7
    # without a process group it leaves the buffers alone
    bn = nn.BatchNorm2d(2)
    bn.running_mean.fill_(3.)
    SyncBuffersHook().after_val_epoch(type('R', (), {'model': bn})())
    assert torch.equal(bn.running_mean, torch.full((2,), 3.))


def test_dist_sampler_seed_hook_sets_the_runner_epoch(tmp_path, toy_data):
    dataset = list(range(8))
    for loader in (torch.utils.data.DataLoader(dataset, sampler=SeededSampler(dataset, seed=0)),
                   torch.utils.data.DataLoader(dataset, batch_sampler=torch.utils.data.BatchSampler(
                       SeededSampler(dataset, seed=0), 2, False))):
        runner = type('R', (), {'data_loader': loader, 'epoch': 3})()
        DistSamplerSeedHook().before_train_epoch(runner)
        sampler = loader.sampler if isinstance(loader.sampler, SeededSampler) else loader.batch_sampler.sampler
        assert sampler.epoch == 3
    # with the runner (which already sets the epoch), the data order and so the weights are unchanged
    common = dict(EPOCHS, runner=dict(type='EpochBasedRunner', max_epochs=2))
    _, plain = train(tmp_path, toy_data, 'plain', **common)
    _, hooked = train(tmp_path, toy_data, 'hooked', custom_hooks=[dict(type='DistSamplerSeedHook')], **common)
    for key, value in plain.state_dict().items():
        assert torch.equal(value, hooked.state_dict()[key]), key


def test_closure_hook(tmp_path, toy_data):
    seen = []
    train(tmp_path, toy_data, max_iters=3, custom_hooks=[
        dict(type='ClosureHook', fn_name='after_train_iter', fn=lambda runner: seen.append(runner.iter))])
    assert seen == [0, 1, 2]
    with pytest.raises(ConfigError, match='fn_name must be a hook stage'):
        train(tmp_path, toy_data, max_iters=1, custom_hooks=[dict(type='ClosureHook', fn_name='nope', fn=print)])


def test_profiler_hook_writes_a_chrome_trace(tmp_path, toy_data, capsys):
    work_dir, _ = train(tmp_path, toy_data, max_iters=3, custom_hooks=[dict(
        type='ProfilerHook', by_epoch=False, profile_iters=2, activities=['cpu'], json_trace_path='trace.json',
        on_trace_ready=dict(type='log_trace', sort_by='self_cpu_time_total', row_limit=5))])
    with open(osp.join(work_dir, 'trace.json')) as f:
        events = json.load(f)['traceEvents']
    names = {e.get('name', '') for e in events}
    assert any('conv2d' in n for n in names), sorted(names)[:20]
    assert 'Self CPU' in capsys.readouterr().out  # the log_trace table
    with pytest.raises(ConfigError, match='by_epoch=True needs an EpochBasedRunner'):
        train(tmp_path, toy_data, max_iters=1, custom_hooks=[dict(type='ProfilerHook')])
    with pytest.raises(ConfigError, match='profile_iters=5 is more than the run'):
        train(tmp_path, toy_data, max_iters=2, custom_hooks=[dict(type='ProfilerHook', by_epoch=False,
                                                                   profile_iters=5)])


def test_checkpoint_hook_mmcv_arguments(tmp_path, toy_data):
    work_dir, _ = train(tmp_path, toy_data, max_iters=4, checkpoint_config=dict(
        by_epoch=False, interval=2, filename_tmpl='ckpt_{}.pth', create_symlink=False, sync_buffer=True,
        file_client_args=dict(backend='disk')))
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == ['ckpt_2.pth', 'ckpt_4.pth']
    assert torch.load(osp.join(work_dir, 'ckpt_4.pth'), weights_only=True)['meta']['iter'] == 4
    with pytest.raises(ConfigError, match="file_client_args must be None or dict\\(backend='disk'\\)"):
        train(tmp_path, toy_data, max_iters=1, checkpoint_config=dict(file_client_args=dict(backend='petrel')))


@pytest.mark.parametrize('name', sorted(REFUSED_HOOKS))
def test_refused_hooks_say_why(tmp_path, toy_data, name):
    with pytest.raises(ConfigError, match=f"hook type '{name}' is not supported: .+"):
        train(tmp_path, toy_data, max_iters=1, log_config=dict(interval=1, hooks=[dict(type=name)]))
