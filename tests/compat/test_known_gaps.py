"""Where an mmseg-0.x config or user extension does not run here yet (strict xfails: each passes once fixed).

Every test states what mmseg 0.x does; the reason says what happens here instead.
"""
import copy
import pickle

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from compat_utils import REPO, config_path, load_config, run_tool, small_options
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.engine.checkpoint import load_checkpoint, save_checkpoint
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.registry import PIPELINES

# the data transforms of mmseg v0.30 (mmseg/datasets/pipelines) that are not registered here
MISSING_0X_TRANSFORMS = ['ResizeToMultiple', 'Rerange', 'CLAHE', 'RandomRotate', 'RGB2Gray', 'AdjustGamma',
                         'SegRescale', 'RandomCutOut', 'RandomMosaic', 'Transpose', 'ToDataContainer']


def _logits_and_label(num_classes: int = 19):
    """1/8-resolution logits (as a DDRHead produces them) and full-resolution labels with ignored pixels."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, num_classes, 8, 16, generator=gen)
    label = torch.randint(0, num_classes, (2, 1, 64, 128), generator=gen)
    label[:, :, :4] = 255
    return logits, label


@pytest.mark.xfail(strict=True, reason=(
    'mmseg_ddrnet/models/heads/decode_head.py BaseDecodeHead.losses calls every loss as '
    'loss(seg_logit_at_1/8, label, ignore_index=, align_corners=): a user loss written for 0.x (forward(cls_score, '
    'label, weight=None, ignore_index=255, **kwargs), cls_score already resized to the label size) gets 1/8-res '
    'logits and fails with a shape mismatch (RuntimeError).'))
def test_user_loss_with_the_0x_contract():
    """0.x decode heads resize the logits to the label size (bilinear) before calling each loss."""
    cfg = Config.fromfile(config_path('ddrnet_23_slim_custom_loss'))  # imports compat_user_ext
    head = build_segmentor(copy.deepcopy(cfg.model)).decode_head
    logits, label = _logits_and_label()
    losses = head.losses(logits, label)
    full = F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=False)
    expected = head.loss_decode[1](full, label[:, 0], ignore_index=255)
    assert torch.allclose(losses['loss_user_l1'], expected)


@pytest.mark.xfail(strict=True, reason=(
    "mmseg_ddrnet/models/heads/decode_head.py raises ConfigError for sampler=dict(type='OHEMPixelSampler', ...), "
    "mmseg 0.x's own hard-pixel mining (used by 0.x Cityscapes recipes); only loss-side OhemCrossEntropy exists."))
def test_ohem_pixel_sampler():
    """0.x OHEMPixelSampler(thresh, min_kept): keep the valid pixels whose gt-class probability is below
    max(sorted_prob[min(min_kept * batch, n - 1)], thresh); the cross-entropy is averaged over all pixels
    with the dropped ones weighted 0."""
    cfg = Config.fromfile(config_path('ddrnet_23_slim_full_runtime'))
    cfg.model.decode_head.sampler = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=1000)
    head = build_segmentor(copy.deepcopy(cfg.model)).decode_head
    logits, label = _logits_and_label()
    full = F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=False)
    target = label[:, 0]
    valid = target != 255
    prob = full.softmax(1).gather(1, torch.where(valid, target, 0)[:, None])[:, 0]
    sorted_prob = prob[valid].sort().values
    threshold = max(sorted_prob[min(1000 * label.shape[0], sorted_prob.numel() - 1)].item(), 0.7)
    keep = valid & (prob < threshold)
    pixel_loss = F.cross_entropy(full, target, ignore_index=255, reduction='none')
    expected = (pixel_loss * keep).mean()
    assert torch.allclose(head.losses(logits, label)['loss_ce'], expected, atol=1e-6)


@pytest.mark.xfail(strict=True, reason=(
    "mmseg_ddrnet/datasets/pipelines RandomFlip: flip_ratio= raises ConfigError; mmseg 0.x's RandomFlip "
    "maps the old flip_ratio to prob with a deprecation warning (@deprecated_api_warning), so early 0.x configs "
    "with dict(type='RandomFlip', flip_ratio=0.5) ran"))
def test_random_flip_flip_ratio_spelling():
    flip = PIPELINES.build(dict(type='RandomFlip', flip_ratio=1.0))
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = flip(dict(img=img.copy(), seg_fields=[]))
    assert out['flip'] is True and np.array_equal(out['img'], img[:, ::-1])


@pytest.mark.xfail(strict=True, reason='mmseg_ddrnet/datasets/pipelines: this mmseg 0.x transform is not '
                                       'registered, so a 0.x config that lists it fails with a RegistryError')
@pytest.mark.parametrize('name', MISSING_0X_TRANSFORMS)
def test_0x_transform_is_registered(name):
    assert name in PIPELINES.module_dict


@pytest.mark.xfail(strict=True, reason=(
    'mmseg_ddrnet/models/segmentors/base.py: BaseSegmentor has no show_result method (only the function '
    'mmseg_ddrnet.apis.show_result); the 0.x quick start and user scripts call model.show_result(img, result, '
    "out_file='result.jpg', opacity=0.5) after inference_segmentor (AttributeError here)."))
def test_model_show_result_as_in_the_0x_quick_start(tmp_path):
    from mmseg_ddrnet.apis import inference_segmentor, init_segmentor
    model = init_segmentor(config_path('ddrnet_23_slim_custom_dataset'), device='cpu')
    img = np.random.default_rng(0).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    result = inference_segmentor(model, img)
    painted = model.show_result(img, result, out_file=str(tmp_path / 'result.jpg'), opacity=0.5)
    assert (tmp_path / 'result.jpg').is_file() and painted.shape == img.shape


@pytest.mark.xfail(strict=True, reason=(
    "mmseg_ddrnet/core/hooks/logger.py TextLoggerHook takes by_epoch/interval/ignore_last/reset_flag/out_dir; "
    "mmcv 1.x's also takes interval_exp_name, out_suffix, keep_local, file_client_args (ConfigError here)"))
def test_text_logger_hook_full_mmcv_signature():
    from mmseg_ddrnet.registry import HOOKS
    hook = HOOKS.build(dict(type='TextLoggerHook', by_epoch=False, interval=10, interval_exp_name=1000,
                            out_suffix=('.log.json', '.log', '.py'), keep_local=True, file_client_args=None))
    assert hook.interval == 10


@pytest.mark.xfail(strict=True, reason='mmseg_ddrnet/core/hooks: mmcv 1.x EmptyCacheHook (custom_hooks='
                                       "[dict(type='EmptyCacheHook', after_iter=True)]) is not registered")
def test_empty_cache_hook():
    from mmseg_ddrnet.registry import HOOKS
    assert HOOKS.build(dict(type='EmptyCacheHook', after_iter=True)) is not None


# mmcv 1.x lr_config policies (with 0.x-style arguments) that build_lr_schedule does not know
MISSING_LR_POLICIES = [
    dict(policy='inv', gamma=0.1, power=0.75),
    dict(policy='OneCycle', max_lr=0.01, total_steps=100),
    dict(policy='CosineRestart', periods=[10, 20], restart_weights=[1, 0.5], min_lr=0.0),
    dict(policy='Cyclic', target_ratio=(10, 1e-4), cyclic_times=1),
    dict(policy='FlatCosineAnnealing', start_percent=0.75, min_lr=0.0),
    dict(policy='LinearAnnealing', min_lr=0.0),
]


@pytest.mark.xfail(strict=True, reason='mmseg_ddrnet/engine/lr_schedule.py POLICIES has fixed/step/poly/exp/'
                                       'CosineAnnealing; this mmcv 1.x lr_config policy raises ConfigError')
@pytest.mark.parametrize('lr_config', MISSING_LR_POLICIES, ids=[c['policy'] for c in MISSING_LR_POLICIES])
def test_mmcv_lr_policy(lr_config):
    from mmseg_ddrnet.engine.lr_schedule import build_lr_schedule
    assert build_lr_schedule(dict(lr_config, by_epoch=False), by_epoch_default=False) is not None


@pytest.mark.xfail(strict=True, reason=(
    "mmseg_ddrnet/apis/train.py _split_optimizer_config accepts only OptimizerHook/Fp16OptimizerHook; mmcv 1.x's "
    "optimizer_config=dict(type='GradientCumulativeOptimizerHook', cumulative_iters=N) raises ConfigError"))
def test_gradient_cumulative_optimizer_hook(tmp_path, cityscapes_root):
    from mmseg_ddrnet.apis.train import train_segmentor
    cfg = load_config('ddrnet_23_slim_fork_cityscapes', small_options(cityscapes_root) + [
        'runner.max_iters=2', 'optimizer_config.type=GradientCumulativeOptimizerHook',
        'optimizer_config.cumulative_iters=2'])
    cfg.work_dir, cfg.gpu_ids, cfg.seed = str(tmp_path), [0], 0
    train_segmentor(build_segmentor(copy.deepcopy(cfg.model)), [build_dataset(cfg.data.train)], cfg)
    assert (tmp_path / 'iter_2.pth').is_file()


@pytest.fixture
def gloo_group(tmp_path):
    """A single-rank gloo process group, as ``train_dist.sh CONFIG 1`` creates on a machine without GPUs."""
    if not dist.is_available() or dist.is_initialized():
        pytest.skip('torch.distributed unavailable or already initialised')
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_syncbn_config_trains_distributed_on_cpu(tmp_path, gloo_group, cityscapes_root):
    from mmseg_ddrnet.apis.train import train_segmentor
    cfg = load_config('ddrnet_23_slim_fork_cityscapes', small_options(cityscapes_root) + ['runner.max_iters=1'])
    cfg.work_dir, cfg.gpu_ids, cfg.seed = str(tmp_path), [0], 0
    model = build_segmentor(copy.deepcopy(cfg.model))
    train_segmentor(model, [build_dataset(cfg.data.train)], cfg, distributed=True, validate=False)
    assert (tmp_path / 'latest.pth').is_file()


@pytest.mark.xfail(strict=True, reason=(
    'tools/test.py --out with --eval pickles the running sum (a list holding one C x C confusion matrix); '
    'mmseg 0.x (>= 0.16) pickles the pre-eval results, one entry per image (area_intersect, area_union, '
    'area_pred_label, area_label), which user scripts feed to pre_eval_to_metrics or per-image analysis.'))
def test_out_with_eval_keeps_one_result_per_image(tmp_path, cityscapes_root):
    cfg = Config.fromfile(config_path('ddrnet_23_slim_fork_cityscapes'))
    model = build_segmentor(copy.deepcopy(cfg.model))
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'init.pth')
    run_tool('test.py', config_path('ddrnet_23_slim_fork_cityscapes'), str(tmp_path / 'init.pth'), '--eval', 'mIoU',
             '--out', str(tmp_path / 'results.pkl'), '--work-dir', str(tmp_path), '--cfg-options',
             *small_options(cityscapes_root, splits=('test',)), cwd=str(tmp_path))
    with open(tmp_path / 'results.pkl', 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 2  # the 2 val images


@pytest.mark.xfail(strict=True, reason=(
    'the 0.x launch scripts live in tools/ (bash tools/dist_train.sh CONFIG GPUS, tools/dist_test.sh CONFIG '
    'CKPT GPUS, tools/slurm_test.sh); here they are train_dist.sh / test_dist.sh at the repository root and '
    'there is no slurm_test.sh, so the 0.x documented commands fail with "No such file".'))
@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh', 'slurm_test.sh'])
def test_0x_launch_script_exists(script):
    assert (REPO / 'tools' / script).is_file()


def test_load_from_another_num_classes_loads_what_fits(tmp_path):
    source = build_segmentor(copy.deepcopy(load_config('ddrnet_23_slim_fork_cityscapes').model))
    save_checkpoint({'state_dict': source.state_dict(), 'meta': {}}, tmp_path / 'cityscapes.pth')
    target = build_segmentor(copy.deepcopy(load_config('ddrnet_23_slim_custom_dataset').model))
    head_before = target.decode_head.conv_seg.weight.detach().clone()
    load_checkpoint(target, tmp_path / 'cityscapes.pth', strict=False, skip_mismatched=True)
    assert torch.equal(target.backbone.stem[0].conv.weight, source.backbone.stem[0].conv.weight)
    assert torch.equal(target.decode_head.head[0].conv.weight, source.decode_head.head[0].conv.weight)
    assert torch.equal(target.decode_head.conv_seg.weight, head_before)  # 3 vs 19 classes: left as initialised
