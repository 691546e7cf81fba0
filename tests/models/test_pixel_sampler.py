"""decode_head.sampler (mmseg 0.x OHEMPixelSampler) against hand-written 0.x formulas; the fast path without it."""
import pytest
import torch
import torch.nn.functional as F

from ddrnet_test_cfgs import slim_cfg
from mmseg_ddrnet.models import BasePixelSampler, DDRHead, OHEMPixelSampler, build_segmentor
from mmseg_ddrnet.models.losses import cross_entropy_loss
from mmseg_ddrnet.registry import PIXEL_SAMPLERS
from mmseg_ddrnet.utils import ConfigError, DataError, RegistryError

NUM_CLASSES = 5


def _head(sampler=None, loss_decode=dict(type='CrossEntropyLoss'), align_corners=False) -> DDRHead:
    return DDRHead(in_channels=16, channels=8, num_classes=NUM_CLASSES, sampler=sampler, loss_decode=loss_decode,
                   align_corners=align_corners)


def _logits_and_label(seed: int = 0):
    """1/8-resolution logits and 8x larger labels (first rows ignored), as a DDRHead sees them in training."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, NUM_CLASSES, 6, 8, generator=gen)
    label = torch.randint(0, NUM_CLASSES, (2, 1, 48, 64), generator=gen)
    label[:, :, :5] = 255
    return logits, label


def _full(logits, label, align_corners=False):
    return F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=align_corners)


def _keep_by_threshold(full, target, thresh, batch_kept):
    """mmseg 0.x OHEMPixelSampler with thresh: valid & p < max(sorted_p[min(kept, n-1)], thresh)."""
    valid = target != 255
    prob = full.softmax(1).gather(1, torch.where(valid, target, 0)[:, None])[:, 0]
    sorted_prob = prob[valid].sort().values
    threshold = max(sorted_prob[min(batch_kept, sorted_prob.numel() - 1)].item(), thresh)
    return valid & (prob < threshold)


@pytest.mark.parametrize('thresh, min_kept', [(0.7, 100), (0.3, 1000), (0.05, 2), (0.9, 100000)])
@pytest.mark.parametrize('align_corners', [False, True])
def test_thresh_selection_and_loss_match_the_0x_formula(thresh, min_kept, align_corners):
    head = _head(dict(type='OHEMPixelSampler', thresh=thresh, min_kept=min_kept), align_corners=align_corners)
    logits, label = _logits_and_label()
    logits.requires_grad_(True)
    full, target = _full(logits, label, align_corners), label[:, 0]
    keep = _keep_by_threshold(full, target, thresh, min_kept * label.shape[0])  # batch_kept = min_kept * N
    weight = head.sampler.sample(full.detach(), label)
    assert weight.shape == target.shape and torch.equal(weight.bool(), keep)
    expected = (F.cross_entropy(full, target, ignore_index=255, reduction='none') * keep).mean()  # over all pixels
    loss = head.losses(logits, label)['loss_ce']
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=1e-5)
    grad, = torch.autograd.grad(loss, logits)
    expected_grad, = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(grad, expected_grad, atol=1e-7, rtol=1e-4)


def test_batch_kept_scales_with_the_batch():
    logits, label = _logits_and_label()
    sampler = _head(dict(type='OHEMPixelSampler', thresh=0.0, min_kept=50)).sampler
    full = _full(logits, label)
    # thresh 0: exactly the batch_kept = 100 lowest-probability pixels are kept (no ties in random logits)
    assert int(sampler.sample(full, label).sum()) == 100
    assert int(sampler.sample(full[:1], label[:1]).sum()) == 50


def test_without_thresh_the_highest_losses_are_kept():
    head = _head(dict(type='OHEMPixelSampler', min_kept=200))
    logits, label = _logits_and_label(1)
    full, target = _full(logits, label), label[:, 0]
    weight = head.sampler.sample(full, label)
    pixel_loss = F.cross_entropy(full, target, ignore_index=255, reduction='none')
    valid = target != 255
    assert int(weight.sum()) == 400 and not bool(weight[~valid].any())
    kept, dropped = pixel_loss[weight.bool()], pixel_loss[valid & ~weight.bool()]
    assert kept.min() >= dropped.max()
    torch.testing.assert_close(head.losses(logits, label)['loss_ce'], (pixel_loss * weight).mean())


def test_class_weight_and_avg_non_ignore_with_a_sampler():
    class_weight = [1.0, 2.0, 0.5, 1.0, 3.0]
    head = _head(dict(type='OHEMPixelSampler', thresh=0.5, min_kept=10),
                 dict(type='CrossEntropyLoss', class_weight=class_weight, avg_non_ignore=True, loss_weight=0.4))
    logits, label = _logits_and_label(2)
    full, target = _full(logits, label), label[:, 0]
    keep = _keep_by_threshold(full, target, 0.5, 20)
    pixel_loss = F.cross_entropy(full, target, weight=torch.tensor(class_weight), ignore_index=255, reduction='none')
    n_valid = int((target != 255).sum())
    expected = 0.4 * (pixel_loss * keep).sum() / n_valid  # 0.x: avg_factor = non-ignored pixels
    torch.testing.assert_close(head.losses(logits, label)['loss_ce'], expected)


def test_no_sampler_keeps_the_fused_low_resolution_path(monkeypatch):
    head = _head()
    logits, label = _logits_and_label()
    expected = head.loss_decode[0](logits, label[:, 0])
    monkeypatch.setattr(cross_entropy_loss, 'pixel_cross_entropy', _refuse)
    monkeypatch.setattr(head, '_resize_to_label', _refuse)  # neither the head nor the loss makes full logits
    loss = head.losses(logits, label)['loss_ce']
    assert head.sampler is None and torch.equal(loss, expected)


def _refuse(*args, **kwargs):
    raise AssertionError('the fast path must not compute full-resolution logits')


def test_weighted_path_equals_the_fast_path_with_unit_weights():
    ce = _head().loss_decode[0]
    logits, label = _logits_and_label()
    ones = torch.ones(label[:, 0].shape)
    torch.testing.assert_close(ce(logits, label[:, 0], weight=ones), ce(logits, label[:, 0]))


def test_a_user_sampler_from_the_registry_is_used():
    @PIXEL_SAMPLERS.register_module(force=True)
    class EveryOtherRowSampler(BasePixelSampler):
        def __init__(self, context, **kwargs):
            super().__init__(**kwargs)
            self.context = context

        def sample(self, seg_logit, seg_label):
            weight = seg_logit.new_zeros(seg_label[:, 0].shape)
            weight[:, ::2] = 1
            return weight

    head = _head(dict(type='EveryOtherRowSampler'))
    assert head.sampler.context is head
    logits, label = _logits_and_label()
    full, target = _full(logits, label), label[:, 0]
    weight = torch.zeros(target.shape)
    weight[:, ::2] = 1
    expected = (F.cross_entropy(full, target, ignore_index=255, reduction='none') * weight).mean()
    torch.testing.assert_close(head.losses(logits, label)['loss_ce'], expected)


def test_a_segmentor_trains_with_the_sampler():
    torch.manual_seed(0)
    model = build_segmentor(slim_cfg(sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=500)))
    assert isinstance(model.decode_head.sampler, OHEMPixelSampler) and model.auxiliary_head.sampler is None
    img, label = torch.randn(2, 3, 64, 64), torch.randint(0, NUM_CLASSES, (2, 1, 64, 64))
    losses = model.forward_train(img, [{}] * 2, label)
    assert torch.isfinite(losses['decode.loss_ce']) and losses['decode.loss_ce'] > 0
    losses['decode.loss_ce'].backward()
    assert model.decode_head.conv_seg.weight.grad is not None
    # the decode loss is the OHEM-weighted one (mmseg 0.x: mean over all pixels of CE x the sampler's weight)
    with torch.no_grad():
        full = _full(model.decode_head(model.extract_feat(img)), label)  # train mode: the same batch statistics
        weight = model.decode_head.sampler.sample(full, label)
        pixel_ce = F.cross_entropy(full, label[:, 0], ignore_index=255, reduction='none')
    assert 0 < int(weight.sum()) < weight.numel()  # the sampler dropped easy pixels
    assert losses['decode.loss_ce'].item() == pytest.approx((pixel_ce * weight).mean().item(), rel=1e-5)


@pytest.mark.parametrize('sampler, loss, error, match', [
    (dict(type='OHEMPixelSampler', min_kept=1), None, ConfigError, 'min_kept'),
    (dict(type='OHEMPixelSampler', thresh='0.7'), None, ConfigError, 'thresh'),
    (dict(type='OHEMPixelSampler', tresh=0.7), None, ConfigError, 'tresh'),
    (dict(type='OHEMSampler'), None, RegistryError, 'OHEMPixelSampler'),
    ('OHEMPixelSampler', None, ConfigError, 'sampler must be'),
    (dict(type='OHEMPixelSampler'), dict(type='OhemCrossEntropy'), ConfigError, 'OhemCrossEntropy'),
])
def test_bad_sampler_configs_are_clear_errors(sampler, loss, error, match):
    with pytest.raises(error, match=match):
        _head(sampler, loss or dict(type='CrossEntropyLoss'))


def test_sample_checks_sizes_and_label_values():
    sampler = _head(dict(type='OHEMPixelSampler', thresh=0.7)).sampler
    logits, label = _logits_and_label()
    with pytest.raises(DataError, match='same batch and size'):
        sampler.sample(logits, label)
    label[0, 0, 10, 10] = NUM_CLASSES
    with pytest.raises(DataError, match='outside'):
        sampler.sample(_full(logits, label), label)


def test_no_valid_pixel_gives_zero_weights_and_loss():
    head = _head(dict(type='OHEMPixelSampler', thresh=0.7, min_kept=10))
    logits, label = _logits_and_label()
    label[:] = 255
    assert not bool(head.sampler.sample(_full(logits, label), label).any())
    assert head.losses(logits, label)['loss_ce'].item() == 0.0
