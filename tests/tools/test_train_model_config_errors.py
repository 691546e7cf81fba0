"""Wrongly typed model config values through tools/train.py: one ``error:`` line naming the key, exit 1.

``--cfg-options`` values that are not Python literals reach the model as strings (``model.train_cfg={}`` is
the string ``'{}'``, as in mmcv); the constructors name the key and the type they expected.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'ddrnet', 'ddrnet_23_slim_demo_cityscapes.py')

CASES = [
    ('model.train_cfg={}', "EncoderDecoder: train_cfg must be a dict or None, got str '{}'"),
    ('model.backbone.init_cfg=Kaiming', "DDRNet: init_cfg must be a dict or a list of dicts, got str 'Kaiming'"),
    ('model.decode_head.loss_decode.loss_weight=heavy',
     "CrossEntropyLoss: loss_weight must be a number, got str 'heavy'"),
]


@pytest.mark.parametrize('option,message', CASES)
def test_train_tool_names_the_key_and_the_type(tmp_path, option, message):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir',
                           str(tmp_path), '--cfg-options', option], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [f'error: {message}']
    assert osp.isfile(tmp_path / osp.basename(CONFIG))  # what was written before (the config dump) is kept


def test_the_same_errors_through_the_api():
    from mmseg_ddrnet.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({'model.train_cfg': '{}'})
    with pytest.raises(ConfigError, match="^EncoderDecoder: train_cfg must be a dict or None, got str '{}'$"):
        build_segmentor(cfg.model)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({'model.decode_head.init_cfg': dict(type='Normal', std=0.01, override=dict(name='conv_seg'))})
    model = build_segmentor(cfg.model)
    model.init_weights()
    assert 0.005 < model.decode_head.conv_seg.weight.std().item() < 0.015  # 19 x 64 weights drawn with std 0.01
