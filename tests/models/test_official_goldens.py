"""Official checkpoint conversion against the official code itself: its weights and its outputs.

The goldens in ``goldens/`` were written by ``goldens/make_official_goldens.py`` from ydhongHIT/DDRNet's
``DualResNet`` (see that script); the name table is ``official_key_table.py``, written from the official code.
"""
import os.path as osp
import sys

import pytest
import torch

from mmseg_ddrnet.models.backbones.ddrnet_keys import convert_official
from mmseg_ddrnet.models import build_segmentor

sys.path.insert(0, osp.dirname(__file__))
from official_key_table import official_module_table, our_key  # noqa: E402

GOLDENS = osp.join(osp.dirname(__file__), 'goldens')
STEM_BIASES = {'conv1.0.bias': 'conv1.1.running_mean', 'conv1.3.bias': 'conv1.4.running_mean'}


def golden(name: str) -> dict:
    return torch.load(osp.join(GOLDENS, f'official_{name}.pth'), weights_only=True)


def our_model(arch: dict):
    c = arch['planes']
    cfg = dict(type='EncoderDecoder',
               backbone=dict(type='DDRNet', channels=c, ppm_channels=arch['spp_planes'], layers=arch['layers']),
               decode_head=dict(type='DDRHead', in_channels=4 * c, channels=arch['head_planes'],
                                num_classes=arch['num_classes'], in_index=-1),
               auxiliary_head=dict(type='DDRHead', in_channels=2 * c, channels=arch['head_planes'],
                                   num_classes=arch['num_classes'], in_index=0))
    return build_segmentor(cfg)


@pytest.mark.parametrize('name', ['slim', '39'])
def test_every_tensor_lands_where_the_official_code_says(name):
    ref = golden(name)
    official = ref['state_dict']
    ours = convert_official(official)
    table = official_module_table(ref['arch']['layers'])
    expected_keys = {our_key(k, table) for k in official if k not in STEM_BIASES}
    assert set(ours) == expected_keys
    assert set(ours) == set(our_model(ref['arch']).state_dict())
    for key, value in official.items():
        if key in STEM_BIASES:
            continue
        mapped = ours[our_key(key, table)]
        if key in STEM_BIASES.values():  # the stem conv bias is folded into the following BN's running mean
            bias = official[next(b for b, m in STEM_BIASES.items() if m == key)]
            assert torch.equal(mapped, value - bias), key
        else:
            assert torch.equal(mapped, value), key


def test_same_shaped_tensors_are_told_apart():
    """down3.0 and down4.0 (and many more) have the same shape: only their values tell a swap."""
    official = golden('slim')['state_dict']
    assert official['down3.0.weight'].shape == official['down4.0.weight'].shape
    assert not torch.equal(official['down3.0.weight'], official['down4.0.weight'])


@pytest.mark.parametrize('name', ['slim', '39'])
def test_converted_model_gives_the_official_logits(name):
    ref = golden(name)
    model = our_model(ref['arch'])
    model.load_state_dict(convert_official(ref['state_dict']), strict=True)
    model = model.double().eval()
    x = (ref['image'].double() / 255 - 0.5) / 0.25  # as the script feeds the official model
    with torch.no_grad():
        feats = model.extract_feat(x)
        logits, aux_logits = model.decode_head(feats), model.auxiliary_head(feats)
    for ours, theirs in ((logits, ref['logits']), (aux_logits, ref['aux_logits'])):
        assert ours.shape == theirs.shape
        # float64 on both sides; the weights went through float32 once (the folded stem mean): 1e-6 of the scale
        assert (ours - theirs).abs().max() <= 1e-6 * theirs.abs().max(), (ours - theirs).abs().max()
    assert ref['logits'].std() > 1  # the goldens are not trivially flat
