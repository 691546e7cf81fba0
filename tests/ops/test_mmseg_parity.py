"""seg_cross_entropy against mmsegmentation 1.2.2's losses (run in its own python).

mmseg 1.2.2 and 0.x agree on the cases compared here; they differ with class weights without OHEM
(1.x divides by the sum of the pixels' class weights, 0.x and this package by the pixel count).
"""
import subprocess

import pytest
import torch

from mmseg_ddrnet import ops

REFERENCE = r'''
import sys
import torch
import torch.nn.functional as F
from mmseg.models.losses.cross_entropy_loss import cross_entropy
from mmseg.models.losses.ohem_cross_entropy_loss import OhemCrossEntropy
data = torch.load(sys.argv[1])
out = {}
for name, case in data['cases'].items():
    x = data['logits'].clone().requires_grad_()
    up = F.interpolate(x, data['label'].shape[1:], mode='bilinear', align_corners=case['align_corners'])
    if case['thres'] is None:
        loss = cross_entropy(up, data['label'], ignore_index=255, avg_non_ignore=case['avg_non_ignore'])
    else:
        loss = OhemCrossEntropy(thres=case['thres'], min_kept=case['min_kept'],
                                class_weight=case['weight'])(up, data['label'])
    loss.backward()
    out[name] = dict(loss=loss.detach(), grad=x.grad)
torch.save(out, sys.argv[2])
'''

CASES = {
    'mean': dict(align_corners=False, avg_non_ignore=False, thres=None, min_kept=0, weight=None),
    'avg_non_ignore': dict(align_corners=True, avg_non_ignore=True, thres=None, min_kept=0, weight=None),
    'ohem': dict(align_corners=False, avg_non_ignore=False, thres=0.7, min_kept=300, weight=None),
    'ohem_weighted': dict(align_corners=False, avg_non_ignore=False, thres=0.9, min_kept=5000,
                          weight=[0.8, 1.0, 1.2, 0.5, 2.0]),
}


@pytest.mark.parametrize('use_ext', [True, False])
def test_seg_cross_entropy_matches_mmseg(mmseg_reference_python, tmp_path, use_ext):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 9, 13, generator=gen) * 2
    label = torch.randint(0, 5, (2, 37, 51), generator=gen)
    label[torch.rand(2, 37, 51, generator=gen) < 0.15] = 255
    torch.save(dict(logits=logits, label=label, cases=CASES), tmp_path / 'in.pt')
    script = tmp_path / 'reference.py'
    script.write_text(REFERENCE)
    run = subprocess.run([mmseg_reference_python, str(script), str(tmp_path / 'in.pt'), str(tmp_path / 'out.pt')],
                         capture_output=True, text=True, timeout=300,
                         env={'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'PATH': '/usr/bin:/bin'})
    assert run.returncode == 0, run.stderr
    expected = torch.load(tmp_path / 'out.pt', weights_only=True)
    with ops.use_ext(use_ext):
        for name, case in CASES.items():
            x = logits.clone().requires_grad_()
            loss = ops.seg_cross_entropy(x, label, weight=case['weight'], avg_non_ignore=case['avg_non_ignore'],
                                         align_corners=case['align_corners'], thres=case['thres'],
                                         min_kept=case['min_kept'])
            loss.backward()
            torch.testing.assert_close(loss.detach(), expected[name]['loss'], rtol=1e-5, atol=1e-6, msg=name)
            torch.testing.assert_close(x.grad, expected[name]['grad'], rtol=1e-5, atol=1e-7, msg=name)
