"""``init_weights()`` with mmcv 1.x ``BaseModule`` semantics on the segmentor, DDRNet and the heads.

mmcv 1.7 ``BaseModule.init_weights``: the module's own ``init_cfg`` first, then ``init_weights()`` of its
children that have one; a single ``Pretrained`` dict returns before the children (and leaves ``is_init``
False); a second call warns and does nothing.
"""
import logging

import pytest
import torch

from mmseg_ddrnet.models import DDRNet, build_segmentor
from mmseg_ddrnet.utils import ConfigError, get_root_logger


def seg_cfg(**kwargs):
    cfg = dict(type='EncoderDecoder', backbone=dict(type='DDRNet'),
               decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3))
    cfg.update(kwargs)
    return cfg


def full(t, value):
    return torch.full_like(t, float(value))


def test_own_init_cfg_first_then_the_children_s():
    model = build_segmentor(seg_cfg(
        init_cfg=dict(type='Constant', layer='Conv2d', val=0, bias=0),
        decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3,
                         init_cfg=dict(type='Constant', val=1, bias=2, override=dict(name='conv_seg')))))
    stem_before = model.backbone.stem[0].bn.weight.clone()
    model.init_weights()
    assert torch.equal(model.backbone.stem[0].conv.weight, full(model.backbone.stem[0].conv.weight, 0))
    assert torch.equal(model.backbone.spp.shortcut.conv.weight, full(model.backbone.spp.shortcut.conv.weight, 0))
    assert torch.equal(model.backbone.stem[0].bn.weight, stem_before)  # BN is not a Conv2d: untouched
    head = model.decode_head
    assert torch.equal(head.head[0].conv.weight, full(head.head[0].conv.weight, 0))  # only the segmentor's
    assert torch.equal(head.conv_seg.weight, full(head.conv_seg.weight, 1))  # the head's, applied after
    assert torch.equal(head.conv_seg.bias, full(head.conv_seg.bias, 2))
    assert model.is_init and model.backbone.is_init and head.is_init


def test_a_pretrained_dict_returns_before_the_children(tmp_path):
    source = build_segmentor(seg_cfg())
    path = tmp_path / 'seg.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    model = build_segmentor(seg_cfg(
        init_cfg=dict(type='Pretrained', checkpoint=str(path)),
        decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3,
                         init_cfg=dict(type='Constant', val=1, override=dict(name='conv_seg')))))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key  # the head's Constant did not run
    assert not model.is_init and not model.decode_head.is_init
    # in a list, Pretrained does not stop the children (mmcv)
    model = build_segmentor(seg_cfg(
        init_cfg=[dict(type='Pretrained', checkpoint=str(path))],
        decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3,
                         init_cfg=dict(type='Constant', val=1, override=dict(name='conv_seg')))))
    model.init_weights()
    assert torch.equal(model.decode_head.conv_seg.weight, full(model.decode_head.conv_seg.weight, 1))
    assert torch.equal(model.backbone.stem[0].conv.weight, source.backbone.stem[0].conv.weight)


def test_init_weights_runs_once_then_warns(fresh_warnings, caplog):
    model = build_segmentor(seg_cfg(init_cfg=dict(type='Constant', layer='Conv2d', val=0)))
    model.init_weights()
    with torch.no_grad():
        model.decode_head.conv_seg.weight.fill_(5)
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(caplog.handler)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(caplog.handler)
    assert torch.equal(model.decode_head.conv_seg.weight, full(model.decode_head.conv_seg.weight, 5))
    assert any('init_weights of EncoderDecoder has been called more than once' in r.getMessage()
               for r in caplog.records)


def test_every_auxiliary_head_of_a_list_is_initialised():
    aux = [dict(type='DDRHead', in_channels=64, channels=8, num_classes=3,
                init_cfg=dict(type='Constant', val=v, override=dict(name='conv_seg'))) for v in (3, 4)]
    model = build_segmentor(seg_cfg(auxiliary_head=aux))
    model.init_weights()
    for head, value in zip(model.auxiliary_head, (3, 4)):
        assert torch.equal(head.conv_seg.weight, full(head.conv_seg.weight, value))


def test_backbone_init_cfg_and_pretrained():
    torch.manual_seed(0)
    backbone = DDRNet(init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_in', distribution='uniform'))
    before = backbone.stem[0].conv.weight.clone()
    backbone.init_weights()
    w = backbone.context_branch_layers[-1][0].conv2.conv.weight  # 256 x 256 x 3 x 3 in DDRNet-23-slim
    bound = (2.0 ** 0.5) * (3.0 / (256 * 9)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert not torch.equal(backbone.stem[0].conv.weight, before)
    assert DDRNet(pretrained='a.pth').init_cfg == dict(type='Pretrained', checkpoint='a.pth')  # the 0.x spelling
    with pytest.raises(ConfigError, match='set either pretrained or init_cfg'):
        DDRNet(pretrained='a.pth', init_cfg=dict(type='Normal', layer='Conv2d'))
    with pytest.raises(ConfigError, match='pretrained is set both in the segmentor and in its backbone'):
        build_segmentor(seg_cfg(pretrained='a.pth', backbone=dict(type='DDRNet', pretrained='b.pth')))


def test_override_of_a_missing_name_fails_when_the_model_is_built():
    with pytest.raises(ConfigError, match="DDRHead: init_cfg override name='cls': DDRHead has no sub-module"):
        build_segmentor(seg_cfg(decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3,
                                                 init_cfg=dict(type='Normal', override=dict(name='cls')))))
    with pytest.raises(ConfigError, match="EncoderDecoder: init_cfg override name='neck'"):  # None is no module
        build_segmentor(seg_cfg(init_cfg=dict(type='Normal', override=dict(name='neck'))))
    model = build_segmentor(seg_cfg(init_cfg=dict(type='Constant', val=0, override=dict(name='decode_head'))))
    model.init_weights()
    assert torch.equal(model.decode_head.conv_seg.weight, full(model.decode_head.conv_seg.weight, 0))


def test_the_init_info_table_goes_to_the_log_file(tmp_path):
    log_file = tmp_path / 'run.log'
    logger = get_root_logger(log_file=str(log_file))
    try:
        model = build_segmentor(seg_cfg(
            decode_head=dict(type='DDRHead', in_channels=128, channels=16, num_classes=3,
                             init_cfg=dict(type='Constant', val=1, override=dict(name='conv_seg')))))
        model.init_weights()
    finally:
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            logger.removeHandler(handler)
            handler.close()
    text = log_file.read_text()
    assert 'Name of parameter - Initialization information' in text
    assert "decode_head.conv_seg.weight - (3, 16, 1, 1): DDRHead init_cfg {'type': 'Constant'" in text
    assert ('backbone.stem.0.conv.weight - (32, 3, 3, 3): the value is the same before and after calling '
            'init_weights of EncoderDecoder') in text
