"""Sample mmseg-0.x configs run unchanged through ``tools/train.py`` and ``tools/test.py`` (subprocesses).

Each case trains 2 iterations on 64x128 images with the 0.x command line, then checks what a 0.x user
finds in the work dir: checkpoints, the JSON log (losses, lr, validation metrics) and the test metrics.
"""
import glob
import json
import math
import os.path as osp
import re

import pytest
import torch

from compat_utils import CUSTOM_CLASSES, config_path, run_tool, small_options

CITYSCAPES_CLASSES = 19


def json_log(work_dir: str) -> list:
    """The records of the ``.log.json`` (the first line is the run's meta, as mmcv writes it)."""
    [path] = glob.glob(osp.join(work_dir, '*.log.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if 'mode' in r]


def train(config: str, work_dir: str, options, *flags: str) -> list:
    run_tool('train.py', config_path(config), '--work-dir', work_dir, '--seed', '0', '--deterministic', *flags,
             '--cfg-options', *options, cwd=work_dir)
    return json_log(work_dir)


def test_metrics(config_file: str, checkpoint: str, work_dir: str, options=(), metrics=('mIoU',),
                 options_flag: str = '--cfg-options') -> dict:
    """``tools/test.py CONFIG CKPT --eval METRICS``: the metrics of the JSON it writes (and its output)."""
    overrides = [options_flag, *options] if options else []
    proc = run_tool('test.py', config_file, checkpoint, '--eval', *metrics, '--work-dir', work_dir, *overrides,
                    cwd=work_dir)
    [path] = glob.glob(osp.join(work_dir, 'eval_*.json'))
    with open(path) as f:
        return dict(json.load(f)['metric'], output=proc.stdout + proc.stderr)


test_metrics.__test__ = False  # a helper, not a pytest test


def load_ckpt(path: str) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)


def test_fork_recipe_trains_validates_and_tests(tmp_path, cityscapes_root):
    """OHEM on both heads, save_best; tools/test.py on the final checkpoint gives the validation mIoU."""
    work_dir = str(tmp_path)
    options = small_options(cityscapes_root) + ['runner.max_iters=2', 'evaluation.interval=2']
    records = train('ddrnet_23_slim_fork_cityscapes', work_dir, options)
    train_recs = [r for r in records if r['mode'] == 'train']
    [val] = [r for r in records if r['mode'] == 'val']
    assert [r['iter'] for r in train_recs] == [1, 2]
    for r in train_recs:
        assert math.isfinite(r['loss']) and r['loss'] > 0
        assert r['loss'] == pytest.approx(r['decode.loss_ohem'] + r['aux.loss_ohem'], abs=2e-5)
    assert osp.isfile(osp.join(work_dir, 'best_mIoU_iter_2.pth'))
    assert osp.isfile(osp.join(work_dir, 'ddrnet_23_slim_fork_cityscapes.py'))  # the dumped config
    ckpt = load_ckpt(osp.join(work_dir, 'latest.pth'))
    assert ckpt['meta']['iter'] == 2 and len(ckpt['meta']['CLASSES']) == CITYSCAPES_CLASSES

    metric = test_metrics(config_path('ddrnet_23_slim_fork_cityscapes'), osp.join(work_dir, 'latest.pth'), work_dir,
                          small_options(cityscapes_root, splits=('test',)))
    assert metric['mIoU'] == pytest.approx(val['mIoU'], abs=1e-5)
    assert metric['aAcc'] == pytest.approx(val['aAcc'], abs=1e-5)


def test_1x_model_dict_trains_with_main_and_aux_losses(tmp_path, cityscapes_root):
    """The pasted mmseg 1.x model section trains with OHEM on both outputs (aux weight 0.4)."""
    work_dir = str(tmp_path)
    records = train('ddrnet_23_slim_1x_model_dict', work_dir, small_options(cityscapes_root) + ['runner.max_iters=2'],
                    '--no-validate')
    assert [r['iter'] for r in records] == [1, 2]
    for r in records:
        assert r['loss'] == pytest.approx(r['decode.loss_ohem'] + r['aux.loss_ohem'], abs=2e-5)


def test_custom_imports_hook_runs_without_validation(tmp_path, cityscapes_root):
    """``custom_imports`` registers the user's hook; ``--no-validate`` skips evaluation."""
    work_dir = str(tmp_path)
    records = train('ddrnet_23_slim_custom_imports', work_dir,
                    small_options(cityscapes_root) + ['runner.max_iters=2', 'evaluation.interval=1'], '--no-validate')
    assert [r['mode'] for r in records] == ['train', 'train']
    with open(osp.join(work_dir, 'user_hook_iters.txt')) as f:
        assert f.read().split() == ['2', '2']  # 2 calls of after_train_iter, runner.iter == 2 at the end
    assert not glob.glob(osp.join(work_dir, 'best_*.pth'))


def test_full_runtime_keys(tmp_path, cityscapes_root):
    """fp16, TensorBoard, max_keep_ckpts, find_unused_parameters, gpu_ids=range(..), nccl on a CPU box;
    then the 0.x habit of testing with the config dumped into the work dir (overrides included)."""
    work_dir = str(tmp_path)
    records = train('ddrnet_23_slim_full_runtime', work_dir, small_options(cityscapes_root))
    assert [r['mode'] for r in records] == ['train', 'train', 'val']
    metric = test_metrics(osp.join(work_dir, 'ddrnet_23_slim_full_runtime.py'), osp.join(work_dir, 'latest.pth'),
                          work_dir)
    assert metric['mIoU'] == pytest.approx(records[2]['mIoU'], abs=1e-5)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(records[0])
    assert glob.glob(osp.join(work_dir, 'tf_logs', 'events.out.tfevents.*'))
    assert not osp.exists(osp.join(work_dir, 'iter_1.pth'))  # max_keep_ckpts=1 removed it
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth')) and osp.isfile(osp.join(work_dir, 'best_mIoU_iter_2.pth'))


def test_warmup_paramwise_grad_clip_total_iters(tmp_path, cityscapes_root):
    """The logged lr follows poly x linear warmup; paramwise_cfg sets the param groups; grad_norm is logged."""
    work_dir = str(tmp_path)
    records = train('ddrnet_23_slim_warmup_paramwise', work_dir, small_options(cityscapes_root) + ['total_iters=2'])
    base, ratio, warmup_iters, max_iters = 6e-5, 1e-6, 1500, 2
    expected = []
    for it in range(max_iters):  # mmcv: regular poly lr, then lr * (1 - k) during warmup
        regular = base * (1 - it / max_iters) ** 1.0
        expected.append(regular * (1 - (1 - it / warmup_iters) * (1 - ratio)))
    # the JSON log rounds to 5 decimals (as mmcv's); the text log prints the lr as %.3e
    [text_log] = glob.glob(osp.join(work_dir, '*.log'))
    with open(text_log) as f:
        logged = [float(lr) for lr in re.findall(r'Iter \[\d+/2\]\tlr: (\S+),', f.read())]
    assert logged == pytest.approx(expected, rel=1e-3)
    assert [r['lr'] for r in records] == pytest.approx([round(lr, 5) for lr in expected])
    assert all(r['grad_norm'] > 0 for r in records)

    groups = load_ckpt(osp.join(work_dir, 'latest.pth'))['optimizer']['param_groups']
    last_lr = expected[-1]
    kinds = {(round(g['lr'] / last_lr, 3), g['weight_decay']) for g in groups}
    # backbone/aux convs; backbone/aux norms (norm_decay_mult=0); decode head (custom key: lr x10)
    assert kinds == {(1.0, 0.01), (1.0, 0.0), (10.0, 0.01)}


def test_repeat_dataset_with_underscore_and_deprecated_flags(tmp_path, cityscapes_root):
    """0.x spellings (--work_dir, --diff_seed, --local_rank) and deprecated --gpus/--options warn but work."""
    work_dir = str(tmp_path)
    options = small_options(cityscapes_root, train_key='data.train.dataset') + ['runner.max_iters=2']
    proc = run_tool('train.py', config_path('ddrnet_23_slim_repeat_dataset'), '--work_dir', work_dir,
                    '--no-validate', '--gpus', '1', '--diff_seed', '--local_rank', '0', '--seed', '0',
                    '--options', *options, cwd=work_dir)
    output = proc.stdout + proc.stderr
    assert '--options is deprecated' in output and '--gpus is deprecated' in output
    assert [r['iter'] for r in json_log(work_dir)] == [1, 2]


def test_epoch_based_runner(tmp_path, cityscapes_root):
    """EpochBasedRunner: 4 images / 2 per batch = 2 iterations per epoch; best checkpoint by mDice."""
    work_dir = str(tmp_path)
    records = train('ddrnet_23_slim_epoch_runner', work_dir, small_options(cityscapes_root) + ['runner.max_epochs=1'])
    train_recs = [r for r in records if r['mode'] == 'train']
    [val] = [r for r in records if r['mode'] == 'val']
    assert [(r['epoch'], r['iter']) for r in train_recs] == [(1, 1), (1, 2)]
    assert train_recs[0]['lr'] == train_recs[1]['lr'] == pytest.approx(0.01)  # poly by epoch: fixed in epoch 1
    assert {'mIoU', 'mDice'} <= set(val)
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth')) and osp.isfile(osp.join(work_dir, 'best_mDice_epoch_1.pth'))


def test_custom_dataset_trains_and_tests(tmp_path, custom_root):
    """A user's CustomDataset: classes/palette from the config reach the checkpoint and the metrics.

    tools/test.py gets its overrides through the deprecated ``--options``, which warns but works.
    """
    work_dir = str(tmp_path)
    options = [f'data.{s}.data_root={custom_root}' for s in ('train', 'val')] + [
        'data.train.pipeline.2.img_scale=(128,64)', 'data.train.pipeline.3.crop_size=(64,64)',
        'data.train.pipeline.7.size=(64,64)', 'data.val.pipeline.1.img_scale=(128,64)',
        'data.samples_per_gpu=2', 'data.workers_per_gpu=0', 'log_config.interval=1', 'runner.max_iters=2',
        'evaluation.interval=2']
    records = train('ddrnet_23_slim_custom_dataset', work_dir, options)
    [val] = [r for r in records if r['mode'] == 'val']
    assert {f'IoU.{c}' for c in CUSTOM_CLASSES} <= set(val)
    meta = load_ckpt(osp.join(work_dir, 'latest.pth'))['meta']
    assert tuple(meta['CLASSES']) == CUSTOM_CLASSES
    assert [list(p) for p in meta['PALETTE']] == [[128, 64, 128], [70, 70, 70], [70, 130, 180]]

    metric = test_metrics(config_path('ddrnet_23_slim_custom_dataset'), osp.join(work_dir, 'latest.pth'), work_dir,
                          [f'data.test.data_root={custom_root}', 'data.test.pipeline.1.img_scale=(128,64)'],
                          metrics=('mIoU', 'mDice'), options_flag='--options')
    assert '--options is deprecated' in metric['output']
    assert metric['mIoU'] == pytest.approx(val['mIoU'], abs=1e-5)
    assert set(metric) >= {'aAcc', 'mIoU', 'mDice'} | {f'IoU.{c}' for c in CUSTOM_CLASSES}


def test_mmcv_hooks_and_momentum_config(tmp_path, cityscapes_root):
    """momentum_config, EMAHook, SyncBuffersHook, DistSamplerSeedHook, ProfilerHook and mmcv 1.7 checkpoint and
    evaluation arguments in a DDRNet 0.x config, through tools/train.py."""
    work_dir = str(tmp_path)
    records = train('ddrnet_23_slim_mmcv_hooks', work_dir, small_options(cityscapes_root))
    assert [r['mode'] for r in records] == ['train'] * 3 + ['val']
    ckpt = torch.load(osp.join(work_dir, 'ckpt_3.pth'), weights_only=True)
    assert not osp.exists(osp.join(work_dir, 'latest.pth'))  # create_symlink=False
    state = ckpt['state_dict']
    ema = {k for k in state if k.startswith('ema_')}
    assert 'ema_backbone_stem_0_conv_weight' in ema and len(ema) == sum(1 for k in state if k.startswith('ema_'))
    group = ckpt['optimizer']['param_groups'][0]
    # the cyclic momentum set before the 3rd iteration (index 2): 3 iterations, 1 going down, 2 going up
    low = 0.9 * 0.85 / 0.95
    expected = low + (0.9 - low) * (1 - math.cos(math.pi * (2 - 1) / 2)) / 2
    assert group['initial_momentum'] == 0.9 and group['momentum'] == pytest.approx(expected, rel=1e-12)
    with open(osp.join(work_dir, 'trace.json')) as f:
        assert json.load(f)['traceEvents']
    assert glob.glob(osp.join(work_dir, 'best_mIoU_iter_3.pth'))
