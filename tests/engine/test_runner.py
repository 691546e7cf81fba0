"""Training runs of the toy segmentor in this process: checkpoints, logs, AMP, runners, workflows, hooks."""
import json
import os
import os.path as osp
import sys

import pytest
import torch

import toy
from mmseg_ddrnet.apis import train as train_module
from mmseg_ddrnet.apis.train import train_segmentor
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.engine.rng import set_random_seed
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import ConfigError, RegistryError

TIMESTAMP = '20260101_000000'


def initial_model(cfg):
    """The model as :func:`train` builds it, before any training."""
    set_random_seed(0, deterministic=True)
    model = build_segmentor(cfg.model)
    model.init_weights()
    return model


def train(tmp_path, data_root, validate=True, workflow_val=False, **overrides):
    cfg = Config(toy.toy_config(data_root, **overrides))
    cfg.work_dir, cfg.seed, cfg.gpu_ids = str(tmp_path / 'wd'), 0, [0]
    model = initial_model(cfg)
    datasets = [build_dataset(cfg.data.train)]
    if workflow_val:
        datasets.append(build_dataset(dict(cfg.data.val, pipeline=cfg.data.train.pipeline)))
    train_segmentor(model, datasets, cfg, validate=validate, timestamp=TIMESTAMP,
                    meta=dict(seed=0, exp_name='toy.py', env_info='env'))
    return cfg.work_dir, model


def read_json_log(work_dir):
    with open(osp.join(work_dir, f'{TIMESTAMP}.log.json')) as f:
        return [json.loads(line) for line in f]


def test_checkpoints_keep_max_latest_and_meta(tmp_path, toy_data):
    work_dir, model = train(tmp_path, toy_data, validate=False, max_iters=6,
                            checkpoint_config=dict(by_epoch=False, interval=2, max_keep_ckpts=2))
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == ['iter_4.pth', 'iter_6.pth', 'latest.pth']
    ckpt = torch.load(osp.join(work_dir, 'latest.pth'), weights_only=True)
    meta = ckpt['meta']
    assert (meta['iter'], meta['epoch']) == (6, 1)  # 4 batches per epoch: 6 iterations = 1 epoch done
    assert meta['CLASSES'] == list(toy.CLASSES) and meta['PALETTE'] == toy.PALETTE
    assert "type='ToySegmentor'" in meta['config'] and meta['mmseg_ddrnet_version']
    assert set(ckpt) == {'meta', 'state_dict', 'optimizer', 'rng'}
    for key, value in model.state_dict().items():
        assert torch.equal(ckpt['state_dict'][key], value), key
    # latest.pth is a file of its own (a hard link), not a symlink: it survives removing iter_6.pth
    assert not osp.islink(osp.join(work_dir, 'latest.pth'))
    os.remove(osp.join(work_dir, 'iter_6.pth'))
    assert torch.load(osp.join(work_dir, 'latest.pth'), weights_only=True)['meta']['iter'] == 6


def test_json_log_lines_and_best_checkpoint(tmp_path, toy_data):
    work_dir, _ = train(tmp_path, toy_data, max_iters=4,
                        evaluation=dict(interval=2, metric='mIoU', pre_eval=True, save_best='mIoU'))
    lines = read_json_log(work_dir)
    assert lines[0] == {'seed': 0, 'exp_name': 'toy.py', 'env_info': 'env'}
    train_lines = [line for line in lines if line.get('mode') == 'train']
    assert [line['iter'] for line in train_lines] == [1, 2, 3, 4]
    for line in train_lines:
        assert {'mode', 'epoch', 'iter', 'lr', 'memory', 'time', 'data_time', 'decode.loss_ce', 'decode.acc_seg',
                'loss'} <= set(line)
        assert line['memory'] > 0 and line['time'] >= line['data_time'] >= 0
    assert train_lines[0]['lr'] == pytest.approx(0.05)
    assert train_lines[1]['lr'] == pytest.approx((0.05 - 1e-4) * 0.75 ** 0.9 + 1e-4, abs=1e-5)
    val_lines = [line for line in lines if line.get('mode') == 'val']
    assert [line['iter'] for line in val_lines] == [2, 4]
    assert all(0 <= line['mIoU'] <= 1 and 'IoU.road' in line for line in val_lines)
    best = [f for f in os.listdir(work_dir) if f.startswith('best_')]
    scores = [line['mIoU'] for line in val_lines]
    # the kept checkpoint holds the best score (up to the log's 5 decimals: kernel-independent on any CPU)
    assert len(best) == 1 and best[0].startswith('best_mIoU_iter_')
    best_iter = int(best[0][len('best_mIoU_iter_'):-len('.pth')])
    assert best_iter in (2, 4) and scores[best_iter // 2 - 1] == pytest.approx(max(scores), abs=1e-5)
    meta = torch.load(osp.join(work_dir, best[0]), weights_only=True)['meta']
    assert meta['hook_msgs']['best_score'] == pytest.approx(max(scores), abs=1e-5)


def test_fp16_key_on_cpu_trains_with_bf16_autocast(tmp_path, toy_data, monkeypatch):
    seen = []
    original = toy.ToySegmentor.forward

    def spy(self, img, *args, **kwargs):
        out = original(self, img, *args, **kwargs)
        if kwargs.get('return_loss', True):
            seen.append((torch.is_autocast_enabled('cpu'), torch.get_autocast_dtype('cpu')))
        return out

    monkeypatch.setattr(toy.ToySegmentor, 'forward', spy)
    work_dir, _ = train(tmp_path, toy_data, validate=False, max_iters=2, fp16=dict(loss_scale=512.),
                        optimizer_config=dict(type='Fp16OptimizerHook', loss_scale=512., distributed=False))
    assert seen == [(True, torch.bfloat16)] * 2
    losses = [line['loss'] for line in read_json_log(work_dir)[1:]]
    assert len(losses) == 2 and all(0 < loss < 10 for loss in losses)


def test_epoch_based_runner_and_grad_clip(tmp_path, toy_data):
    work_dir, _ = train(tmp_path, toy_data, validate=True, runner=dict(type='EpochBasedRunner', max_epochs=2),
                        checkpoint_config=dict(interval=1), lr_config=dict(policy='step', step=[1], gamma=0.1),
                        optimizer_config=dict(grad_clip=dict(max_norm=0.5, norm_type=2)),
                        evaluation=dict(interval=1, metric='mIoU'),
                        log_config=dict(interval=2, hooks=[dict(type='TextLoggerHook')]))
    assert {'epoch_1.pth', 'epoch_2.pth', 'latest.pth'} <= set(os.listdir(work_dir))
    meta = torch.load(osp.join(work_dir, 'epoch_2.pth'), weights_only=True)['meta']
    assert (meta['epoch'], meta['iter']) == (2, 8)
    train_lines = [line for line in read_json_log(work_dir) if line.get('mode') == 'train']
    assert [(line['epoch'], line['iter']) for line in train_lines] == [(1, 2), (1, 4), (2, 2), (2, 4)]
    assert [line['lr'] for line in train_lines] == pytest.approx([0.05, 0.05, 0.005, 0.005])
    assert all(line['grad_norm'] > 0 for line in train_lines)
    assert sum(line.get('mode') == 'val' for line in read_json_log(work_dir)) == 2


def test_grad_clip_scales_one_sgd_step_by_max_norm_over_norm(tmp_path, toy_data):
    """One plain SGD step (no momentum, no weight decay, fixed lr) with and without a tiny max_norm: the clipped
    update is the unclipped one times max_norm / norm, where norm is the unclipped gradient's global 2-norm."""
    lr, max_norm = 1.0, 0.05  # a large lr: the steps stand far above float32 rounding of the weights
    common = dict(validate=False, max_iters=1, model=dict(type='ToySegmentor', dropout=0.0),
                  optimizer=dict(type='SGD', lr=lr, momentum=0.0, weight_decay=0.0),
                  lr_config=dict(policy='fixed'), checkpoint_config=dict(by_epoch=False, interval=1))
    start = initial_model(Config(toy.toy_config(toy_data, **common)))
    start = {k: v.detach().clone().double() for k, v in start.state_dict().items()}
    _, free = train(tmp_path / 'free', toy_data, **common)
    work_dir, clipped = train(tmp_path / 'clip', toy_data, **common,
                              optimizer_config=dict(grad_clip=dict(max_norm=max_norm, norm_type=2)))
    free_step = {k: v.double() - start[k] for k, v in free.state_dict().items()}
    clip_step = {k: v.double() - start[k] for k, v in clipped.state_dict().items()}
    norm = float(torch.sqrt(sum((s / lr).pow(2).sum() for s in free_step.values())))
    assert norm > 20 * max_norm  # the clip really bites (norm 2.65 measured)
    [line] = [line for line in read_json_log(work_dir) if line.get('mode') == 'train']
    assert line['grad_norm'] == pytest.approx(norm, rel=1e-5)
    scale = max_norm / (norm + 1e-6)  # torch's clip_grad_norm_ (as mmcv): max_norm / (total_norm + 1e-6)
    for key, step in free_step.items():
        assert torch.allclose(clip_step[key], step * scale, rtol=1e-5, atol=1e-7), key
    clipped_norm = float(torch.sqrt(sum((s / lr).pow(2).sum() for s in clip_step.values())))
    assert clipped_norm == pytest.approx(max_norm, rel=1e-5)


def test_val_workflow_logs_validation_losses(tmp_path, toy_data):
    work_dir, _ = train(tmp_path, toy_data, validate=False, workflow_val=True, max_iters=4,
                        workflow=[('train', 2), ('val', 1)])
    val_lines = [line for line in read_json_log(work_dir) if line.get('mode') == 'val']
    assert len(val_lines) == 2 and all('decode.loss_ce_val' in line for line in val_lines)


def test_tensorboard_events(tmp_path, toy_data):
    pytest.importorskip('tensorboard')
    work_dir, _ = train(tmp_path, toy_data, validate=False, max_iters=2, log_config=dict(
        interval=1, hooks=[dict(type='TextLoggerHook', by_epoch=False), dict(type='TensorboardLoggerHook')]))
    events = os.listdir(osp.join(work_dir, 'tf_logs'))
    assert len(events) == 1 and events[0].startswith('events.out.tfevents')
    # the event file holds the logged scalars of both iterations, as the JSON log has them
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(osp.join(work_dir, 'tf_logs')).Reload()
    json_lines = [line for line in read_json_log(work_dir) if line.get('mode') == 'train']
    for tag, key in (('learning_rate', 'lr'), ('train/loss', 'loss'), ('train/decode.loss_ce', 'decode.loss_ce')):
        assert [e.step for e in acc.Scalars(tag)] == [1, 2], tag
        assert [e.value for e in acc.Scalars(tag)] == pytest.approx([line[key] for line in json_lines], abs=1e-4)
    assert [e.value for e in acc.Scalars('momentum')] == pytest.approx([0.9, 0.9])  # mmcv's tags
    assert 'train/time' not in acc.Tags()['scalars']  # mmcv skips time and data_time


def test_tensorboard_missing_is_a_clear_error(tmp_path, toy_data, monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)  # import fails as if not installed
    with pytest.raises(ConfigError, match='needs the tensorboard package'):
        train(tmp_path, toy_data, validate=False, max_iters=1, log_config=dict(
            interval=1, hooks=[dict(type='TensorboardLoggerHook')]))


def test_load_from_loads_weights_and_starts_at_iteration_zero(tmp_path, toy_data):
    first, _ = train(tmp_path / 'a', toy_data, validate=False, max_iters=2)
    source = toy.state_of(osp.join(first, 'latest.pth'))
    # lr 0 (fixed): the one iteration leaves the weights as loaded
    frozen = dict(validate=False, max_iters=1, optimizer=dict(type='SGD', lr=0.0, momentum=0.9, weight_decay=5e-4),
                  lr_config=dict(policy='fixed'), checkpoint_config=dict(interval=1))
    fresh = initial_model(Config(toy.toy_config(toy_data, **frozen))).state_dict()
    assert any(not torch.equal(fresh[k], v) for k, v in source.items())  # loading is visible
    work_dir, model = train(tmp_path / 'b', toy_data, load_from=osp.join(first, 'latest.pth'), **frozen)
    for key, value in model.state_dict().items():
        assert torch.equal(value, source[key]), key
    ckpt = torch.load(osp.join(work_dir, 'iter_1.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 1  # weights only: the schedule restarts
    assert all(torch.equal(ckpt['state_dict'][k], v) for k, v in source.items())


def test_config_errors(tmp_path, toy_data):
    with pytest.raises(RegistryError, match='did you mean CheckpointHook'):
        train(tmp_path, toy_data, validate=False, custom_hooks=[dict(type='CheckpointHok')])
    with pytest.raises(ConfigError, match='runner.type'):
        train(tmp_path, toy_data, validate=False, runner=dict(type='IterRunner', max_iters=2))
    with pytest.raises(ConfigError, match='workflow'):
        train(tmp_path, toy_data, validate=False, workflow=[('train', 1), ('val', 1)])
    with pytest.raises(ConfigError, match='momentum_config.policy must be one of'):
        train(tmp_path, toy_data, validate=False, momentum_config=dict(policy='cyclical'))
    with pytest.raises(ConfigError, match='optimizer_config.type'):
        train(tmp_path, toy_data, validate=False, optimizer_config=dict(type='MyOptimizerHook'))


def test_legacy_total_iters_out_dir_no_optimizer_and_save_best_auto(tmp_path, toy_data):
    out_dir = tmp_path / 'ckpts'
    work_dir, _ = train(tmp_path, toy_data, runner=None, total_iters=2,
                        checkpoint_config=dict(by_epoch=False, interval=1, save_optimizer=False, out_dir=str(out_dir)),
                        evaluation=dict(interval=2, metric='mIoU', save_best='auto', out_dir=str(out_dir)))
    assert [line['iter'] for line in read_json_log(work_dir) if line.get('mode') == 'train'] == [1, 2]
    out_dir = out_dir / 'wd'  # mmcv 1.x: <out_dir>/<last folder of work_dir>
    ckpt = torch.load(out_dir / 'iter_2.pth', weights_only=True)
    assert 'optimizer' not in ckpt and ckpt['meta']['iter'] == 2
    assert sorted(os.listdir(out_dir)) == ['best_aAcc_iter_2.pth', 'iter_1.pth', 'iter_2.pth', 'latest.pth']


def test_total_iters_next_to_a_runner_is_ignored_with_a_warning_as_mmseg(tmp_path, toy_data, monkeypatch):
    seen = []
    monkeypatch.setattr(train_module, 'warn_once', seen.append)
    work_dir, _ = train(tmp_path, toy_data, validate=False, runner=dict(type='IterBasedRunner', max_iters=2),
                        total_iters=5)
    assert [line['iter'] for line in read_json_log(work_dir) if line.get('mode') == 'train'] == [1, 2]
    assert any('total_iters=5 is ignored' in msg and 'max_iters' in msg for msg in seen)
    seen.clear()
    train(tmp_path / 'same', toy_data, validate=False, runner=dict(type='IterBasedRunner', max_iters=2),
          total_iters=2)
    assert not [msg for msg in seen if 'total_iters' in msg]  # agreeing values: nothing to say
