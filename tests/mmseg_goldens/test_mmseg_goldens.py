"""Parity with mmsegmentation 1.2.2 through committed goldens: checked everywhere, with or without the reference.

``mmseg_1.2.2.npz`` holds mmseg's outputs for the inputs of ``mmseg_side.py`` (made by ``make_mmseg_goldens.py``
in the reference Python): DDRNet-23-slim and DDRNet-23 logits with weights drawn from each tensor's name, the
losses and their gradients, the metrics, PhotoMetricDistortion, Resize and the other 0.x transforms. Where the
reference is installed, ``test_goldens_are_what_mmseg_computes`` regenerates them and compares them with the file.
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import mmseg_side
from mmseg_ddrnet import ops
from mmseg_ddrnet.metrics import confusion_to_metrics, image_confusion_matrix
from mmseg_ddrnet.datasets import pipelines
from mmseg_ddrnet.datasets.pipelines import PhotoMetricDistortion, Resize
from mmseg_ddrnet.models import build_segmentor

HERE = Path(__file__).resolve().parent
GOLDENS = HERE / 'mmseg_1.2.2.npz'
#: logits are O(1): max |ours - mmseg| measured 0 (bit-equal) with this CPU's kernels and 1.1e-6 with
#: ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (AMD EPYC family 25 model 17); swapping any two same-shape
#: conv weights moves them by 0.12 or more
LOGIT_ATOL = 1e-4


@pytest.fixture(scope='module')
def goldens() -> dict:
    return dict(np.load(GOLDENS))


def _to_mmseg_name(key: str) -> str:
    for theirs, ours in mmseg_side.MMSEG_TO_OURS.items():
        key = key.replace(ours, theirs)
    return key


def _ours(variant: str) -> torch.nn.Module:
    channels, head_channels = mmseg_side.VARIANTS[variant]
    head = dict(type='DDRHead', channels=head_channels, num_classes=mmseg_side.NUM_CLASSES)
    return build_segmentor(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet', channels=channels, ppm_channels=128),
        decode_head=dict(head, in_channels=channels * 4),
        auxiliary_head=dict(head, in_channels=channels * 2, in_index=0)))


@pytest.mark.parametrize('variant', sorted(mmseg_side.VARIANTS))
def test_ddrnet_logits_match_mmseg(goldens, variant):
    model = _ours(variant)
    mmseg_names = {_to_mmseg_name(k): k for k in model.state_dict()}
    assert sorted(mmseg_names) == goldens[f'model_{variant}_keys'].tolist()  # the same tensors, by mmseg's names
    shapes = {theirs: tuple(model.state_dict()[ours].shape) for theirs, ours in mmseg_names.items()}
    weights = mmseg_side.golden_state_dict(shapes)
    model.load_state_dict({mmseg_names[k]: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    model.eval()
    with torch.no_grad():
        feats = model.backbone(torch.from_numpy(mmseg_side.model_input()))
        decode, aux = model.decode_head(feats), model.auxiliary_head(feats)
    np.testing.assert_allclose(decode.numpy(), goldens[f'model_{variant}_decode'], rtol=0, atol=LOGIT_ATOL)
    np.testing.assert_allclose(aux.numpy(), goldens[f'model_{variant}_aux'], rtol=0, atol=LOGIT_ATOL)


@pytest.mark.parametrize('use_ext', [True, False])
def test_seg_cross_entropy_matches_mmseg(goldens, use_ext):
    logits, label = map(torch.from_numpy, mmseg_side.loss_inputs())
    with ops.use_ext(use_ext):
        for name, (align_corners, avg_non_ignore, thres, min_kept, weight) in mmseg_side.LOSS_CASES.items():
            x = logits.clone().requires_grad_()
            loss = ops.seg_cross_entropy(x, label, weight=weight, avg_non_ignore=avg_non_ignore,
                                         align_corners=align_corners, thres=thres, min_kept=min_kept)
            loss.backward()
            expected = torch.from_numpy(goldens[f'loss_{name}'])
            torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6, msg=name)
            torch.testing.assert_close(x.grad, torch.from_numpy(goldens[f'loss_{name}_grad']), rtol=1e-5, atol=1e-7,
                                       msg=name)


def test_metrics_match_mmseg(goldens):
    preds, gts, _ = mmseg_side.metric_inputs()
    total = sum(image_confusion_matrix(p, g, 5) for p, g in zip(preds, gts))
    ours = confusion_to_metrics(total, ['mIoU', 'mDice', 'mFscore'], beta=2)
    theirs = {k[len('metric_'):]: v for k, v in goldens.items() if k.startswith('metric_')}
    assert set(ours) == set(theirs)
    for key, values in theirs.items():
        np.testing.assert_allclose(np.asarray(ours[key], dtype=float), values, rtol=1e-6, err_msg=key)


def test_transforms_match_mmseg(goldens):
    img = mmseg_side.metric_inputs()[2]
    resized = Resize(img_scale=(100, 30), keep_ratio=True)(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(resized, goldens['resize'])
    for seed in range(6):
        np.random.seed(seed)
        ours = PhotoMetricDistortion()(dict(img=img.copy()))['img'].astype(int)
        theirs = goldens[f'photo{seed}'].astype(int)
        # the same random draws in the same order; float64 vs float32 arithmetic may round a level apart
        assert np.abs(ours - theirs).max() <= 1 and (ours == theirs).mean() > 0.99, seed


def test_extra_transforms_match_mmseg(goldens):
    out = {}
    data = mmseg_side.extra_transform_inputs()
    exec(mmseg_side.EXTRA_TRANSFORM_CALLS, dict(T=pipelines, np=np, data=data, out=out))  # noqa: S102
    theirs = {k[len('extra_'):]: v for k, v in goldens.items() if k.startswith('extra_')}
    assert set(out) == set(theirs)
    for key, value in theirs.items():
        assert out[key].shape == value.shape and out[key].dtype == value.dtype, key
        np.testing.assert_array_equal(out[key], value, err_msg=key)


@pytest.mark.slow
def test_goldens_are_what_mmseg_computes(mmseg_reference_python, goldens, tmp_path):
    """The committed file is what ``make_mmseg_goldens.py`` writes with the installed mmsegmentation 1.2.2."""
    out = tmp_path / 'goldens.npz'
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    done = subprocess.run([mmseg_reference_python, str(HERE / 'make_mmseg_goldens.py'), str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = dict(np.load(out))
    assert set(fresh) == set(goldens) and str(fresh['mmseg_version']) == '1.2.2'
    for key, value in goldens.items():
        if value.dtype.kind in 'fc':
            np.testing.assert_allclose(fresh[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
        elif key != 'torch_version':
            np.testing.assert_array_equal(fresh[key], value, err_msg=key)
