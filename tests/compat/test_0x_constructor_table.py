"""Rows of docs/mmseg0x_compat.md: 0.x constructor arguments supported or refused with a reason.

Each case is a 0.x config snippet put into the DDRNet-23-slim model config and built through the real
``build_segmentor`` path (or the top-level keys through ``tools/train.py``'s config set-up).
"""
import copy
import multiprocessing as mp

import cv2
import pytest
import torch
from torch import nn

from compat_utils import REPO
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.utils.set_env import setup_multi_processes
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import ConfigError

BASE = Config.fromfile(str(REPO / 'configs/_base_/models/ddrnet_23_slim.py')).model


def model_with(path: str, value):
    """The DDRNet-23-slim model config with ``path`` (dotted) set to ``value``."""
    cfg = Config(dict(model=copy.deepcopy(BASE.to_dict() if hasattr(BASE, 'to_dict') else dict(BASE))))
    cfg.merge_from_dict({f'model.{path}': value})
    return cfg.model


@pytest.mark.parametrize('path, value', [
    ('decode_head.conv_cfg', dict(type='Conv2d')),
    ('decode_head.conv_cfg', dict(type='Conv')),
    ('decode_head.out_channels', 19),
    ('decode_head.act_cfg', dict(type='Clamp', min=-2., max=2.)),
    ('decode_head.norm_cfg', dict(type='IN', affine=True)),
    ('decode_head.norm_cfg', dict(type='BN', requires_grad=True, affine=False)),
    ('decode_head.norm_cfg', dict(type='SyncBN', requires_grad=True, track_running_stats=False)),
    ('decode_head.norm_cfg', dict(type='GN', num_groups=4, affine=False)),
])
def test_supported_rows_build(path, value):
    model = build_segmentor(model_with(path, value))
    head = model.decode_head
    if path.endswith('norm_cfg'):
        norms = [m for m in head.modules() if isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm))]
        norm = norms[0]
        assert {'IN': nn.InstanceNorm2d, 'BN': nn.BatchNorm2d, 'SyncBN': nn.SyncBatchNorm,
                'GN': nn.GroupNorm}[value['type']] in type(norm).__mro__
        assert norm.affine == value.get('affine', value['type'] != 'IN')
        if 'track_running_stats' in value:
            assert norm.track_running_stats is False and norm.running_mean is None
    if path.endswith('act_cfg'):
        act = [m for m in head.modules() if type(m).__name__ == 'Clamp'][0]
        assert torch.equal(act(torch.tensor([-3., 0.5, 3.])), torch.tensor([-2., 0.5, 2.]))
    if path.endswith('conv_cfg'):
        assert all(type(m) is nn.Conv2d for m in head.modules() if isinstance(m, nn.modules.conv._ConvNd))
    if path.endswith('out_channels'):
        assert head.conv_seg.out_channels == 19


def test_threshold_is_ignored_with_a_warning(monkeypatch):
    import mmseg_ddrnet.models.heads.decode_head as decode_head
    seen = []
    monkeypatch.setattr(decode_head, 'warn_once', seen.append)
    model = build_segmentor(model_with('decode_head.threshold', 0.3))
    assert seen == ['DDRHead: threshold=0.3 is ignored: it applies to the binary mode (out_channels=1) only, as in '
                    'mmseg 0.x']
    assert model.decode_head.conv_seg.out_channels == 19


@pytest.mark.parametrize('path, value, match', [
    ('decode_head.out_channels', 1, "out_channels=1 is not supported: mmseg 0.x's binary mode"),
    ('decode_head.conv_cfg', dict(type='DCNv2'), 'plain 2-D convolutions'),
    ('decode_head.norm_cfg', dict(type='LN'), "'LN' is not supported: nn.LayerNorm normalises the last"),
    ('decode_head.norm_cfg', dict(type='BN1d'), "'BN1d' is not supported: the layers normalise 2-D"),
    ('decode_head.norm_cfg', dict(type='MMSyncBN'), "'MMSyncBN' is not supported: mmcv's own"),
    ('decode_head.norm_cfg', dict(type='GN', num_groups=2, track_running_stats=True), 'GN keeps no running'),
    ('decode_head.loss_decode', dict(type='DiceLoss'), "'DiceLoss' is not supported: .*custom_imports"),
    ('decode_head.loss_decode', dict(type='FocalLoss'), "'FocalLoss' is not supported"),
    ('decode_head.loss_decode', dict(type='LovaszLoss'), "'LovaszLoss' is not supported"),
    ('decode_head.loss_decode', dict(type='TverskyLoss'), "'TverskyLoss' is not supported"),
    ('neck', dict(type='FPN', in_channels=[64], out_channels=64, num_outs=1), "'FPN' is not supported: DDRNet has no"),
    ('type', 'CascadeEncoderDecoder', "'CascadeEncoderDecoder' is not supported: DDRNet is a single-stage"),
])
def test_refused_rows_say_why(path, value, match):
    with pytest.raises(ConfigError, match=match):
        build_segmentor(model_with(path, value))


def test_opencv_num_threads_and_mp_start_method():
    threads, method = cv2.getNumThreads(), mp.get_start_method(allow_none=True)
    try:
        setup_multi_processes(Config(dict(opencv_num_threads=1, mp_start_method='spawn')))
        assert cv2.getNumThreads() == 1 and mp.get_start_method() == 'spawn'
        with pytest.raises(ConfigError, match='mp_start_method must be one of'):
            setup_multi_processes(Config(dict(mp_start_method='threads')))
    finally:
        cv2.setNumThreads(threads)
        mp.set_start_method(method, force=True)
