"""The inputs of the mmsegmentation 1.2.2 goldens, and the code that runs on the reference side to make them.

Importable without mmseg (our tests rebuild the same inputs from here); the ``dump_*`` functions import mmseg and run
only in the reference Python (see ``make_mmseg_goldens.py``). Every input is a function of a seed through NumPy's
PCG64 ``Generator.random``/``integers`` (a stable stream), so the goldens hold only outputs, never weights: the
weights of a tensor are drawn from its state-dict name and shape alone, whatever the framework.
"""
import zlib
from typing import Dict, Sequence, Tuple

import numpy as np

#: mmseg 1.2.2 keeps the auxiliary branch inside the decode head; this package has a separate 0.x auxiliary_head.
MMSEG_TO_OURS = {'decode_head.aux_head.': 'auxiliary_head.head.',
                 'decode_head.aux_cls_seg.': 'auxiliary_head.conv_seg.'}
#: variant -> (backbone channels, head channels), as mmseg's DDRNet-23-slim and DDRNet-23 configs
VARIANTS = {'slim': (32, 64), '23': (64, 128)}
NUM_CLASSES, IMAGE_HW, WEIGHT_SEED = 19, (64, 128), 2024

LOSS_CASES = {  # name -> (align_corners, avg_non_ignore, thres, min_kept, class weight)
    'mean': (False, False, None, 0, None),
    'avg_non_ignore': (True, True, None, 0, None),
    'ohem': (False, False, 0.7, 300, None),
    'ohem_weighted': (False, False, 0.9, 5000, [0.8, 1.0, 1.2, 0.5, 2.0]),
}


def _uniform(key: str, shape: Sequence[int], low: float, high: float) -> np.ndarray:
    rng = np.random.default_rng([WEIGHT_SEED, zlib.crc32(key.encode())])
    return (low + (high - low) * rng.random(tuple(shape))).astype(np.float32)


def golden_state_dict(shapes: Dict[str, Tuple[int, ...]]) -> Dict[str, np.ndarray]:
    """Weights for an mmseg-named DDRNet state dict, from each tensor's name and shape (and its siblings' names).

    Convolutions: uniform with He variance 2/fan_in; their biases U(-0.1, 0.1). BN: weight U(0.5, 1), bias and
    running mean U(-0.1, 0.1), running var U(1, 2), so that every layer matters. ``num_batches_tracked`` is 0.
    """
    out = {}
    for key, shape in shapes.items():
        prefix, _, leaf = key.rpartition('.')
        is_bn = f'{prefix}.running_mean' in shapes
        if leaf == 'num_batches_tracked':
            out[key] = np.zeros(shape, np.int64)
        elif len(shape) == 4:
            bound = float(np.sqrt(6.0 / np.prod(shape[1:])))  # U(-b, b) has variance b^2/3 = 2/fan_in
            out[key] = _uniform(key, shape, -bound, bound)
        elif is_bn and leaf == 'weight':
            out[key] = _uniform(key, shape, 0.5, 1.0)
        elif is_bn and leaf == 'running_var':
            out[key] = _uniform(key, shape, 1.0, 2.0)
        elif leaf in ('bias', 'running_mean'):
            out[key] = _uniform(key, shape, -0.1, 0.1)
        else:
            raise ValueError(f'golden_state_dict: no rule for {key} {tuple(shape)}')
    return out


def model_input() -> np.ndarray:
    """A 1x3xHxW float32 image, roughly normalised."""
    return (np.random.default_rng(1).random((1, 3, *IMAGE_HW)) * 4 - 2).astype(np.float32)


def loss_inputs() -> Tuple[np.ndarray, np.ndarray]:
    """Low-resolution logits (2x5x9x13) and full-resolution labels (2x37x51, ~15 % ignored as 255)."""
    rng = np.random.default_rng(2)
    logits = ((rng.random((2, 5, 9, 13)) * 2 - 1) * 4).astype(np.float32)
    label = rng.integers(0, 5, (2, 37, 51))
    label[rng.random(label.shape) < 0.15] = 255
    return logits, label


def metric_inputs() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions and ground truths (3x16x16, 5 classes, class 4 absent from the truth) and a 20x40 image."""
    rng = np.random.default_rng(0)
    gts = rng.integers(0, 5, (3, 16, 16))
    gts[:, :2] = 255
    gts[gts == 4] = 3
    preds = np.where(rng.random(gts.shape) < 0.6, np.where(gts == 255, 0, gts), rng.integers(0, 5, gts.shape))
    img = rng.integers(0, 256, (20, 40, 3), dtype=np.uint8)
    return preds, gts, img


#: The same calls on both sides: ``T`` is mmseg's transforms module there, this package's pipelines here; ``data`` is
#: extra_transform_inputs() and ``out`` collects the results.
EXTRA_TRANSFORM_CALLS = r'''
def sample(img='img', seg='seg'):
    return dict(img=data[img].copy(), gt_semantic_seg=data[seg].copy(), seg_fields=['gt_semantic_seg'])
def keep(name, results):
    out[name + '_img'], out[name + '_seg'] = results['img'], results.get('gt_semantic_seg', np.zeros(0))
keep('multiple', T.ResizeToMultiple(size_divisor=8)(sample()))
keep('rerange', T.Rerange(-1, 2)(sample()))
keep('clahe', T.CLAHE(clip_limit=3.0, tile_grid_size=(4, 4))(sample()))
keep('gray', T.RGB2Gray(out_channels=2)(sample()))
keep('gamma', T.AdjustGamma(gamma=1.7)(sample()))
keep('segrescale', T.SegRescale(scale_factor=0.5)(sample()))
for seed in range(6):
    np.random.seed(seed)
    keep(f'rotate{seed}', T.RandomRotate(prob=0.5, degree=30, pad_val=0, seg_pad_val=255)(sample()))
    np.random.seed(seed)
    keep(f'cutout{seed}', T.RandomCutOut(prob=0.7, n_holes=(1, 4), cutout_ratio=[(0.2, 0.3), (0.4, 0.1)],
                                         fill_in=(1, 2, 3), seg_fill_in=255)(sample()))
    np.random.seed(seed)
    mix = [sample('img2', 'seg2'), sample('img3', 'seg3'), sample()]
    keep(f'mosaic{seed}', T.RandomMosaic(prob=0.7, img_scale=(8, 10))(dict(sample(), mix_results=mix)))
'''


def extra_transform_inputs() -> Dict[str, np.ndarray]:
    """Small images and label maps for the 0.x transforms of EXTRA_TRANSFORM_CALLS."""
    rng = np.random.default_rng(1)
    return dict(img=rng.integers(0, 256, (13, 21, 3), dtype=np.uint8), seg=rng.integers(0, 6, (13, 21), dtype=np.uint8),
                img2=rng.integers(0, 256, (5, 9, 3), dtype=np.uint8), seg2=rng.integers(0, 6, (5, 9), dtype=np.uint8),
                img3=rng.integers(0, 256, (20, 6, 3), dtype=np.uint8), seg3=rng.integers(0, 6, (20, 6), dtype=np.uint8))


# ---------------------------------------------------------------- run in the reference Python only

def dump_model(variant: str) -> Dict[str, np.ndarray]:
    """mmseg's EncoderDecoder(DDRNet, DDRHead) with the golden weights: eval-mode decode and aux logits (1/8)."""
    import torch
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    channels, head_channels = VARIANTS[variant]
    norm_cfg, ce = dict(type='BN', requires_grad=True), dict(type='CrossEntropyLoss')
    model = MODELS.build(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet', channels=channels, ppm_channels=128, norm_cfg=norm_cfg),
        decode_head=dict(type='DDRHead', in_channels=channels * 4, channels=head_channels, dropout_ratio=0.,
                         num_classes=NUM_CLASSES, norm_cfg=norm_cfg, loss_decode=[ce, ce]),
        test_cfg=dict(mode='whole')))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict({k: torch.from_numpy(v) for k, v in golden_state_dict(shapes).items()}, strict=True)
    model.eval()
    # the training-mode flag on the two modules themselves (not their BN children) makes them return both branches
    model.backbone.training = model.decode_head.training = True
    with torch.no_grad():
        decode, aux = model.decode_head(model.backbone(torch.from_numpy(model_input())))
    return {f'model_{variant}_keys': np.array(sorted(shapes)),
            f'model_{variant}_decode': decode.numpy(), f'model_{variant}_aux': aux.numpy()}


def dump_losses() -> Dict[str, np.ndarray]:
    """mmseg's cross_entropy / OhemCrossEntropy on bilinearly upsampled logits: each case's loss and gradient."""
    import torch
    import torch.nn.functional as F
    from mmseg.models.losses.cross_entropy_loss import cross_entropy
    from mmseg.models.losses.ohem_cross_entropy_loss import OhemCrossEntropy
    logits, label = map(torch.from_numpy, loss_inputs())
    out = {}
    for name, (align_corners, avg_non_ignore, thres, min_kept, weight) in LOSS_CASES.items():
        x = logits.clone().requires_grad_()
        up = F.interpolate(x, label.shape[1:], mode='bilinear', align_corners=align_corners)
        if thres is None:
            loss = cross_entropy(up, label, ignore_index=255, avg_non_ignore=avg_non_ignore)
        else:
            loss = OhemCrossEntropy(thres=thres, min_kept=min_kept, class_weight=weight)(up, label)
        loss.backward()
        out[f'loss_{name}'], out[f'loss_{name}_grad'] = loss.detach().numpy(), x.grad.numpy()
    return out


def dump_metrics_and_transforms() -> Dict[str, np.ndarray]:
    """IoUMetric's mIoU/mDice/mFscore (beta 2); PhotoMetricDistortion under np.random seeds 0-5; a kept-ratio Resize."""
    import torch
    from mmcv.transforms import Resize
    from mmseg.datasets.transforms import PhotoMetricDistortion
    from mmseg.evaluation.metrics import IoUMetric
    preds, gts, img = metric_inputs()
    areas = [IoUMetric.intersect_and_union(torch.from_numpy(p), torch.from_numpy(g), 5, 255)
             for p, g in zip(preds, gts)]
    totals = [sum(a[i] for a in areas) for i in range(4)]
    metrics = IoUMetric.total_area_to_metrics(*totals, ['mIoU', 'mDice', 'mFscore'], beta=2)
    out = {f'metric_{k}': np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    for seed in range(6):
        np.random.seed(seed)
        out[f'photo{seed}'] = PhotoMetricDistortion()(dict(img=img.copy()))['img'].astype(np.uint8)
    out['resize'] = Resize(scale=(100, 30), keep_ratio=True)(dict(img=img.copy()))['img']
    return out


def dump_extra_transforms() -> Dict[str, np.ndarray]:
    """mmseg's ResizeToMultiple, Rerange, CLAHE, RGB2Gray, AdjustGamma, SegRescale, RandomRotate, RandomCutOut and
    RandomMosaic on extra_transform_inputs() (EXTRA_TRANSFORM_CALLS)."""
    from mmseg.datasets import transforms
    out: Dict[str, np.ndarray] = {}
    exec(EXTRA_TRANSFORM_CALLS, dict(T=transforms, np=np, data=extra_transform_inputs(), out=out))  # noqa: S102
    return {f'extra_{k}': v for k, v in out.items()}
