"""``train_cfg`` / ``test_cfg`` as mmseg 0.x: kept as given, handed to the heads, unread keys named once."""
import logging

import pytest
import torch

from mmseg_ddrnet.models import DDRHead, build_segmentor
from mmseg_ddrnet.utils import ConfigError


def seg_cfg(**kwargs):
    cfg = dict(type='EncoderDecoder', backbone=dict(type='DDRNet'),
               decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3))
    cfg.update(kwargs)
    return cfg


@pytest.fixture
def warnings_seen(fresh_warnings, caplog):
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(caplog.handler)
    yield lambda: [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    logger.removeHandler(caplog.handler)


class SamplerReadingHead(DDRHead):
    """A user head that reads ``train_cfg['sampler']``, as mmseg 0.x heads may."""

    train_cfg_keys = frozenset({'sampler'})
    seen = []

    def forward_train(self, inputs, img_metas, gt_semantic_seg, train_cfg=None):
        SamplerReadingHead.seen.append(train_cfg)
        return super().forward_train(inputs, img_metas, gt_semantic_seg, train_cfg)


def test_train_cfg_keys_are_kept_handed_to_the_heads_and_unread_ones_named_once(warnings_seen):
    train_cfg = dict(sampler=None, num_points=2048)
    model = build_segmentor(seg_cfg(train_cfg=train_cfg))
    assert model.train_cfg == train_cfg
    build_segmentor(seg_cfg(train_cfg=train_cfg))
    unread = [w for w in warnings_seen() if 'train_cfg' in w]
    assert unread == ["EncoderDecoder: train_cfg key(s) ['num_points', 'sampler'] are read by neither the "
                      'segmentor nor its heads (DDRHead) and are ignored, as in mmseg 0.x']
    losses = model.train().forward_train(torch.randn(2, 3, 64, 64), [{}] * 2, torch.randint(0, 3, (2, 1, 64, 64)))
    assert torch.isfinite(losses['decode.loss_ce'])


def test_keys_a_head_reads_are_not_named(warnings_seen):
    SamplerReadingHead.seen.clear()
    model = build_segmentor(seg_cfg(
        train_cfg=dict(sampler=dict(type='OHEMPixelSampler'), foo=1),
        decode_head=dict(type=SamplerReadingHead, in_channels=128, channels=16, num_classes=3)))
    assert [w for w in warnings_seen() if 'train_cfg' in w] == [
        "EncoderDecoder: train_cfg key(s) ['foo'] are read by neither the segmentor nor its heads "
        '(SamplerReadingHead) and are ignored, as in mmseg 0.x']
    model.train().forward_train(torch.randn(2, 3, 64, 64), [{}] * 2, torch.randint(0, 3, (2, 1, 64, 64)))
    assert SamplerReadingHead.seen == [dict(sampler=dict(type='OHEMPixelSampler'), foo=1)]


def test_empty_or_absent_train_cfg_says_nothing(warnings_seen):
    build_segmentor(seg_cfg(train_cfg=dict()))
    build_segmentor(seg_cfg())
    assert warnings_seen() == []


def test_test_cfg_used_keys_are_validated_and_unknown_ones_named(warnings_seen):
    model = build_segmentor(seg_cfg(test_cfg=dict(mode='slide', crop_size=32, stride=(16, 24), output_seg_logits=1)))
    assert model.test_cfg == dict(mode='slide', crop_size=(32, 32), stride=(16, 24), output_seg_logits=1)
    assert [w for w in warnings_seen() if 'test_cfg' in w] == [
        "EncoderDecoder: test_cfg key(s) ['output_seg_logits'] are read by neither the segmentor nor its heads "
        '(DDRHead) and are ignored, as in mmseg 0.x']
    model.eval()
    meta = dict(ori_shape=(40, 56, 3), img_shape=(40, 56, 3), pad_shape=(40, 56, 3), flip=False)
    [label] = model.simple_test(torch.randn(1, 3, 40, 56), [meta])
    assert label.shape == (40, 56)
    with pytest.raises(ConfigError, match=r"test_cfg: mode='slide' needs stride as two positive ints \(h, w\), "
                                          "got str '16'"):
        build_segmentor(seg_cfg(test_cfg=dict(mode='slide', crop_size=32, stride='16')))
    with pytest.raises(ConfigError, match="test_cfg: mode must be one of 'whole', 'slide', got str 'sliding'"):
        build_segmentor(seg_cfg(test_cfg=dict(mode='sliding')))
