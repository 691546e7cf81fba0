"""Checkpoint converters: official DDRNet (segmentation, ImageNet) and mmsegmentation 1.x → ours."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg_ddrnet.checkpoint import load_checkpoint, plain_data, read_foreign_checkpoint
from mmseg_ddrnet.models.backbones.ddrnet_keys import convert_mmseg, convert_official, fold_conv_bias_into_bn
from mmseg_ddrnet.models.convert import convert_checkpoint
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.models.backbones import DDRNet
from mmseg_ddrnet.utils import CheckpointError

sys.path.insert(0, os.path.dirname(__file__))
from official_layout import VARIANTS, official_state_dict  # noqa: E402

TOOL = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'convert_checkpoint.py')


def ddrnet(variant: str, num_classes: int = 19, aux: bool = True):
    planes, layers, head_planes, _ = VARIANTS[variant]
    cfg = dict(type='EncoderDecoder', backbone=dict(type='DDRNet', channels=planes, layers=list(layers)),
               decode_head=dict(type='DDRHead', in_channels=4 * planes, channels=head_planes,
                                num_classes=num_classes, in_index=-1))
    if aux:
        cfg['auxiliary_head'] = dict(type='DDRHead', in_channels=2 * planes, channels=head_planes,
                                     num_classes=num_classes, in_index=0)
    return build_segmentor(cfg)


@pytest.mark.parametrize('variant', ['slim', '23', '39'])
def test_official_fits_our_model_exactly(variant):
    official = official_state_dict(variant)
    ours = convert_official(official)
    model = ddrnet(variant)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.items()} == expected
    # every official tensor but the two folded stem biases is carried over unchanged
    assert len(ours) == len(official) - 2
    assert torch.equal(ours['backbone.context_branch_layers.0.0.conv1.conv.weight'],
                       official['layer3.0.conv1.weight' if variant != '39' else 'layer3_1.0.conv1.weight'])
    assert torch.equal(ours['decode_head.conv_seg.weight'], official['final_layer.conv2.weight'])
    assert torch.equal(ours['auxiliary_head.head.1.running_var'], official['seghead_extra.bn2.running_var'])
    assert torch.equal(ours['backbone.spp.scales.4.1.conv.weight'], official['spp.scale4.3.weight'])


def test_bias_folding_is_exact():
    official = official_state_dict('slim')
    ours = convert_official(official)
    for conv, bn, new in (('conv1.0', 'conv1.1', 'stem.0'), ('conv1.3', 'conv1.4', 'stem.1')):
        bias, mean = official[f'{conv}.bias'], official[f'{bn}.running_mean']
        assert torch.equal(ours[f'backbone.{new}.bn.running_mean'], mean - bias)
        assert f'backbone.{new}.conv.bias' not in ours
    # BN(conv(x) + b) == BN'(conv(x)) in eval mode, in float64 to see past rounding
    weight, bias = official['conv1.0.weight'].double(), official['conv1.0.bias'].double()
    bn = {k: official[f'conv1.1.{k}'].double() for k in ('weight', 'bias', 'running_mean', 'running_var')}
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    before = F.batch_norm(F.conv2d(x, weight, bias, 2, 1), bn['running_mean'], bn['running_var'],
                          bn['weight'], bn['bias'])
    after = F.batch_norm(F.conv2d(x, weight, None, 2, 1), fold_conv_bias_into_bn(bias, bn['running_mean']),
                         bn['running_var'], bn['weight'], bn['bias'])
    assert torch.allclose(before, after, atol=1e-12)


def test_official_forward_matches_folding_numerics():
    """The converted model equals our model with the stem biases added back by hand (eval, fp64)."""
    official = official_state_dict('slim', augment=False)
    model = ddrnet('slim', aux=False).double().eval()
    model.load_state_dict(convert_official(official), strict=True)
    x = torch.randn(1, 3, 32, 64, dtype=torch.float64)
    with torch.no_grad():
        folded = model.forward_dummy(x)
        stem0 = model.backbone.stem[0]
        stem0.bn.running_mean += official['conv1.0.bias'].double()
        stem0.conv.bias = torch.nn.Parameter(official['conv1.0.bias'].double())
        stem1 = model.backbone.stem[1]
        stem1.bn.running_mean += official['conv1.3.bias'].double()
        stem1.conv.bias = torch.nn.Parameter(official['conv1.3.bias'].double())
        unfolded = model.forward_dummy(x)
    assert torch.allclose(folded, unfolded, atol=1e-9)


def test_model_prefix_and_loss_weight_dropped(tmp_path):
    src = tmp_path / 'official.pth'
    torch.save(official_state_dict('slim', prefix='model.', extra=['loss.criterion.weight']), src)
    ckpt = convert_checkpoint(src, tmp_path / 'ours.pth', 'official')
    assert not any(k.startswith(('model.', 'loss.')) for k in ckpt['state_dict'])
    assert ckpt['meta']['src_format'] == 'official'
    assert ckpt['meta']['CLASSES'][:2] == ['road', 'sidewalk'] and ckpt['meta']['PALETTE'][0] == [128, 64, 128]
    model = ddrnet('slim')
    load_checkpoint(model, tmp_path / 'ours.pth', strict=True)
    assert torch.load(tmp_path / 'ours.pth', weights_only=True)['meta']['converted_from'] == 'official.pth'


def test_official_without_aux_head_loads_into_model_without_aux(tmp_path):
    torch.save(official_state_dict('23', augment=False), tmp_path / 'a.pth')
    convert_checkpoint(tmp_path / 'a.pth', tmp_path / 'b.pth', 'official')
    load_checkpoint(ddrnet('23', aux=False), tmp_path / 'b.pth', strict=True)


@pytest.mark.parametrize('variant', ['slim', '39'])
def test_official_imagenet_gives_backbone_weights(tmp_path, variant):
    src = tmp_path / 'imagenet.pth'
    torch.save({'state_dict': official_state_dict(variant, imagenet=True, prefix='module.')}, src)
    ckpt = convert_checkpoint(src, tmp_path / 'pretrained.pth', 'official-imagenet')
    keys = set(ckpt['state_dict'])
    assert not any(k.startswith(('down5', 'last_layer', 'linear', 'backbone.')) for k in keys)
    planes, layers, _, _ = VARIANTS[variant]
    backbone = DDRNet(channels=planes, layers=list(layers))
    result = backbone.load_state_dict(torch.load(tmp_path / 'pretrained.pth')['state_dict'], strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(k.startswith('spp.') for k in result.missing_keys)  # DAPPM: not pretrained
    assert torch.equal(backbone.spatial_branch_layers[-1][0].conv3.conv.weight,
                       official_state_dict(variant, imagenet=True)['layer5_.0.conv3.weight'])


def test_wrong_format_and_unknown_keys_named(tmp_path):
    official = official_state_dict('slim')
    with pytest.raises(CheckpointError, match=r'official ImageNet.*seghead_extra\.bn1\.weight'):
        convert_official(official, imagenet=True)
    with pytest.raises(CheckpointError, match=r'not those of an mmsegmentation DDRNet model: conv1\.0\.weight'):
        convert_mmseg(official)
    official['head.fc.weight'] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r'1 key\(s\) are not those of an official DDRNet.*head\.fc\.weight'):
        convert_official(official)
    with pytest.raises(CheckpointError, match='unknown --src-format'):
        convert_checkpoint(tmp_path / 'x.pth', tmp_path / 'y.pth', 'caffe')
    with pytest.raises(CheckpointError, match='not found'):
        convert_checkpoint(tmp_path / 'missing.pth', tmp_path / 'y.pth', 'official')


def test_mmseg_names_and_meta(tmp_path):
    model = ddrnet('slim')
    mmseg_sd = {}
    for key, value in model.state_dict().items():
        key = key.replace('auxiliary_head.head.', 'decode_head.aux_head.')
        mmseg_sd[key.replace('auxiliary_head.conv_seg.', 'decode_head.aux_cls_seg.')] = value + 1
    classes = tuple(f'c{i}' for i in range(19))
    torch.save({'meta': {'dataset_meta': {'classes': classes, 'palette': [[i, i, i] for i in range(19)]}},
                'state_dict': mmseg_sd}, tmp_path / 'mmseg.pth')
    ckpt = convert_checkpoint(tmp_path / 'mmseg.pth', tmp_path / 'ours.pth', 'mmseg')
    assert ckpt['meta']['CLASSES'] == list(classes) and ckpt['meta']['PALETTE'][3] == [3, 3, 3]
    load_checkpoint(model, tmp_path / 'ours.pth', strict=True)
    assert torch.equal(model.auxiliary_head.conv_seg.weight, mmseg_sd['decode_head.aux_cls_seg.weight'])


def test_num_classes_drops_another_classifier(tmp_path):
    torch.save(official_state_dict('slim'), tmp_path / 'a.pth')
    kept = convert_checkpoint(tmp_path / 'a.pth', tmp_path / 'b.pth', 'official', num_classes=19)
    assert 'decode_head.conv_seg.weight' in kept['state_dict']
    dropped = convert_checkpoint(tmp_path / 'a.pth', tmp_path / 'c.pth', 'official', num_classes=11)
    assert not any('conv_seg' in k for k in dropped['state_dict']) and dropped['meta']['dropped_classifier']
    assert 'CLASSES' not in dropped['meta']
    load_checkpoint(ddrnet('slim', num_classes=11), tmp_path / 'c.pth')  # missing classifier: warning only


class _SideEffect:
    def __reduce__(self):
        return (os.mkdir, (os.environ['SIDE_EFFECT_DIR'],))


class HistoryBuffer:  # stands for mmengine's message-hub buffers in training checkpoints
    def __init__(self):
        self.values = [1.0, 2.0]


@pytest.fixture
def fake_mmengine(monkeypatch):
    """``HistoryBuffer`` importable as ``mmengine.logging.history_buffer.HistoryBuffer`` (for pickling it)."""
    import types
    for name in ('mmengine', 'mmengine.logging', 'mmengine.logging.history_buffer'):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setattr(HistoryBuffer, '__module__', 'mmengine.logging.history_buffer')
    sys.modules['mmengine.logging.history_buffer'].HistoryBuffer = HistoryBuffer
    sys.modules['mmengine.logging'].history_buffer = sys.modules['mmengine.logging.history_buffer']
    sys.modules['mmengine'].logging = sys.modules['mmengine.logging']


def test_foreign_objects_become_inert_placeholders(tmp_path, fake_mmengine):
    import numpy as np
    torch.save({'meta': {'seed': np.int64(3), 'iter': 4, 'hub': HistoryBuffer()},
                'state_dict': {'w': torch.ones(2)}, 'message_hub': {'x': np.zeros(2)}}, tmp_path / 'a.pth')
    raw = read_foreign_checkpoint(tmp_path / 'a.pth')
    assert torch.equal(raw['state_dict']['w'], torch.ones(2)) and raw['meta']['iter'] == 4
    assert type(raw['meta']['hub']) is not HistoryBuffer  # rebuilt as a placeholder, its code never ran
    assert plain_data(raw['meta']) == {'iter': 4}


def test_malicious_or_corrupt_files_refused(tmp_path, monkeypatch):
    marker = tmp_path / 'pwned'
    monkeypatch.setenv('SIDE_EFFECT_DIR', str(marker))
    torch.save({'state_dict': {'w': torch.ones(2)}, 'x': _SideEffect()}, tmp_path / 'evil.pth')
    with pytest.raises(CheckpointError, match=r'evil\.pth: unpickling it would call posix\.mkdir.*--unsafe-load'):
        read_foreign_checkpoint(tmp_path / 'evil.pth')
    assert not marker.exists()
    (tmp_path / 'bad.pth').write_bytes(b'\x80\x02}q\x00garbage')
    with pytest.raises(CheckpointError, match=r'bad\.pth'):
        read_foreign_checkpoint(tmp_path / 'bad.pth')


def test_tool_cli(tmp_path):
    torch.save(official_state_dict('slim', prefix='model.'), tmp_path / 'a.pth')
    ok = subprocess.run([sys.executable, TOOL, '--src-format', 'official', str(tmp_path / 'a.pth'),
                         str(tmp_path / 'b.pth')], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert 'classifier kept' in ok.stdout and (tmp_path / 'b.pth').is_file()
    bad = subprocess.run([sys.executable, TOOL, '--src-format', 'mmseg', str(tmp_path / 'a.pth'),
                          str(tmp_path / 'c.pth')], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith('error: ') and 'model.conv1.0.weight' in bad.stderr
    assert not (tmp_path / 'c.pth').exists()


# ------------------------------------------------------------------ parity with mmsegmentation 1.2.2
REFERENCE_SCRIPT = os.path.join(os.path.dirname(__file__), 'mmseg_reference_ddrnet.py')


def _run_reference(python: str, out, *args: str) -> None:
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1', OMP_NUM_THREADS='2')
    proc = subprocess.run([python, REFERENCE_SCRIPT, str(out), *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _mmseg_parity(reference_dir, tmp_path, variant: str) -> float:
    """Max abs logit difference between mmseg's DDRNet and ours after ``--src-format mmseg`` conversion."""
    ref = reference_dir / variant
    convert_checkpoint(ref / 'mmseg.pth', tmp_path / 'ours.pth', 'mmseg')
    model = ddrnet(variant).eval()
    meta = load_checkpoint(model, tmp_path / 'ours.pth', strict=True)['meta']
    assert meta['CLASSES'][:2] == ['c0', 'c1']
    x = torch.load(ref / 'input.pth')
    with torch.no_grad():
        logits = model.forward_dummy(x)
    return float((logits - torch.load(ref / 'logits.pth')['full']).abs().max())


@pytest.fixture(scope='module')
def mmseg_reference_outputs(mmseg_reference_python, tmp_path_factory):
    """mmseg 1.2.2's DDRNet-23-slim and -23 (random weights): checkpoints, inputs, logits (64x128)."""
    out = tmp_path_factory.mktemp('mmseg_reference')
    _run_reference(mmseg_reference_python, out, '--variant', 'slim', '23', '--size', '64', '128')
    return out


@pytest.mark.parametrize('variant', ['slim', '23'])
def test_mmseg_parity(mmseg_reference_outputs, tmp_path, variant):
    assert _mmseg_parity(mmseg_reference_outputs, tmp_path, variant) <= 1e-4


@pytest.mark.slow
def test_mmseg_parity_full_size(mmseg_reference_python, tmp_path):
    _run_reference(mmseg_reference_python, tmp_path / 'ref', '--variant', 'slim', '--size', '512', '1024')
    assert _mmseg_parity(tmp_path / 'ref', tmp_path, 'slim') <= 1e-4


@pytest.mark.parametrize('variant', ['slim'])
def test_official_conversion_loads_into_mmseg(mmseg_reference_python, tmp_path, variant):
    """Converted official weights, mapped back to mmseg names, give mmseg's DDRNet the same logits as ours."""
    torch.save(official_state_dict(variant), tmp_path / 'official.pth')
    ours = convert_checkpoint(tmp_path / 'official.pth', tmp_path / 'ours.pth', 'official')['state_dict']
    as_mmseg = {k.replace('auxiliary_head.head.', 'decode_head.aux_head.')
                .replace('auxiliary_head.conv_seg.', 'decode_head.aux_cls_seg.'): v for k, v in ours.items()}
    torch.save(as_mmseg, tmp_path / 'mmseg_names.pth')
    x = torch.randn(1, 3, 64, 96)
    torch.save(x, tmp_path / 'x.pth')
    _run_reference(mmseg_reference_python, tmp_path / 'ref', '--variant', variant, '--load',
                   str(tmp_path / 'mmseg_names.pth'), '--input', str(tmp_path / 'x.pth'))
    model = ddrnet(variant).eval()
    model.load_state_dict(ours, strict=True)
    with torch.no_grad():
        logits = model.forward_dummy(x)
    assert (logits - torch.load(tmp_path / 'ref' / variant / 'logits.pth')['full']).abs().max() <= 1e-4


class _NumpyAttr:
    """Pickles as ``getattr(<numpy scalar>, 'real')``, as mmengine's checkpoints call ``getattr`` on their data."""

    def __reduce__(self):
        return getattr, (np.float64(1.0), 'real')


class _OsAttr:
    """Pickles as ``getattr(os, 'getcwd')``-style gadgets do: ``getattr`` on a module that is no data library."""

    def __reduce__(self):
        import os
        return getattr, (os.stat_result, 'n_fields')


def test_foreign_getattr_on_data_is_inert_but_a_code_module_is_refused(tmp_path):
    data = tmp_path / 'mmengine_like.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'message_hub': _NumpyAttr()}, data)
    loaded = plain_data(read_foreign_checkpoint(data))
    assert list(loaded) == ['state_dict'] and torch.equal(loaded['state_dict']['w'], torch.ones(2))
    gadget = tmp_path / 'gadget.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'x': _OsAttr()}, gadget)
    with pytest.raises(CheckpointError, match=r'gadget\.pth.*os\.stat_result'):
        read_foreign_checkpoint(gadget)
