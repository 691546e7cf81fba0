"""Parity with mmsegmentation 1.2.2's DDRNet: its state dict loads strictly and the logits match."""
import os
import subprocess
from pathlib import Path

import pytest
import torch

from mmseg_ddrnet.models import build_segmentor

DUMP = Path(__file__).with_name('mmseg_reference_dump.py')


def _reference(python: str, out: Path, channels: int, head_channels: int, size=(256, 512)) -> dict:
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1', OMP_NUM_THREADS='2')
    cmd = [python, str(DUMP), str(out), str(channels), str(head_channels), '19', *map(str, size)]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    return torch.load(out, weights_only=True)


def _ours(channels: int, head_channels: int) -> torch.nn.Module:
    return build_segmentor(dict(
        type='EncoderDecoder', backbone=dict(type='DDRNet', channels=channels, ppm_channels=128),
        decode_head=dict(type='DDRHead', in_channels=channels * 4, channels=head_channels, num_classes=19),
        auxiliary_head=dict(type='DDRHead', in_channels=channels * 2, channels=head_channels, num_classes=19,
                            in_index=0)))


@pytest.mark.parametrize('channels,head_channels', [(32, 64), (64, 128)])
def test_mmseg_state_dict_loads_and_logits_match(mmseg_reference_python, tmp_path, channels, head_channels):
    ref = _reference(mmseg_reference_python, tmp_path / 'ref.pth', channels, head_channels)
    model = _ours(channels, head_channels)
    # backbone.* and decode_head.* keep mmseg's names; its aux branch lives in our auxiliary_head
    renames = {'decode_head.aux_head.': 'auxiliary_head.head.', 'decode_head.aux_cls_seg.': 'auxiliary_head.conv_seg.'}
    state_dict = {}
    for key, value in ref['state_dict'].items():
        for old, new in renames.items():
            key = key.replace(old, new)
        state_dict[key] = value
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model.decode_head(model.backbone(ref['input']))
    assert logits.shape == ref['logits'].shape
    assert (logits - ref['logits']).abs().max().item() <= 1e-4
