"""tools/pytorch2onnx.py and tools/deploy_test.py on a tiny DDRNet: onnxruntime against PyTorch."""
import importlib.util
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

import onnx  # noqa: E402

from mmseg_ddrnet.apis import init_segmentor  # noqa: E402
from mmseg_ddrnet.export import ONNXRuntimeSegmentor  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, DataError  # noqa: E402
from tiny_seg import REPO  # noqa: E402

TOLERANCE = 1e-4  # relative to the largest |logit|: fp32 rounding of two engines


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f'mmseg_ddrnet_tools_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


p2o, deploy_test, test_tool = _load('pytorch2onnx'), _load('deploy_test'), _load('test')


@pytest.fixture(scope='module')
def dynamic_onnx(tiny):
    tmp, config, checkpoint = tiny
    path = tmp / 'dynamic.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(path), '--shape', '48', '64', '--dynamic-export']) == 0
    return path


def _torch_logits(config, checkpoint, img):
    model = init_segmentor(config, checkpoint)
    with torch.no_grad():
        return model.forward_dummy(img).numpy()


def _ort(path, img):
    return ONNXRuntimeSegmentor(str(path)).run(img).numpy()


def test_dynamic_export_runs_other_shapes_like_pytorch(tiny, dynamic_onnx):
    _, config, checkpoint = tiny
    img = torch.randn(2, 3, 80, 96, generator=torch.Generator().manual_seed(1))
    ref, out = _torch_logits(config, checkpoint, img), _ort(dynamic_onnx, img)
    assert out.shape == ref.shape == (2, 11, 80, 96)
    assert np.abs(out - ref).max() <= TOLERANCE * np.abs(ref).max()
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.999
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(dynamic_onnx)).metadata_props}
    assert meta['CLASSES'][0] == 'Sky' and len(meta['PALETTE']) == 11


def test_main_head_only(dynamic_onnx):
    graph = onnx.load(str(dynamic_onnx)).graph
    names = {init.name for init in graph.initializer}
    assert not any('auxiliary_head' in n for n in names) and any('decode_head' in n for n in names)
    assert [o.name for o in graph.output] == ['output']


def test_verify_prints_differences_agreement_and_fps(tiny, capsys):
    tmp, config, checkpoint = tiny
    argv = [config, checkpoint, '--output-file', str(tmp / 'v.onnx'), '--shape', '48', '64', '--dynamic-export',
            '--verify', '--verify-runs', '1']
    assert p2o.main(argv) == 0
    out = capsys.readouterr().out
    for shape in ('1x48x64', '2x64x64'):  # the traced shape, and a second one through the dynamic axes
        assert f'input {shape}: max abs diff' in out and f'input {shape}: CPU' in out
    assert out.count(': OK') == 2 and 'img/s onnxruntime' in out and 'img/s PyTorch' in out


@pytest.fixture(scope='module')
def argmax_onnx(tiny):
    tmp, config, checkpoint = tiny
    path = tmp / 'argmax.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(path), '--shape', '48', '64', '--with-argmax',
                     '--opset', '13']) == 0
    return path


def test_static_export_with_argmax(tiny, argmax_onnx):
    _, config, checkpoint = tiny
    path = argmax_onnx
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 13
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 48, 64]
    img = torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    labels = _ort(path, img)
    assert labels.dtype == np.int64 and labels.shape == (1, 48, 64)
    assert (labels == _torch_logits(config, checkpoint, img).argmax(1)).mean() >= 0.999
    with pytest.raises(DataError, match='dynamic-export'):
        ONNXRuntimeSegmentor(str(path)).run(torch.zeros(1, 3, 64, 64))


def test_verify_with_argmax_compares_labels(tiny, capsys):
    tmp, config, checkpoint = tiny
    assert p2o.main([config, checkpoint, '--output-file', str(tmp / 'va.onnx'), '--shape', '48', '64',
                     '--with-argmax', '--verify', '--verify-runs', '1']) == 0
    out = capsys.readouterr().out
    assert 'input 1x48x64: labels agree on' in out and ': OK' in out and 'max abs diff' not in out


def test_fuse_conv_bn_export_equals_the_unfused_model(tiny, monkeypatch):
    from mmseg_ddrnet.models import EncoderDecoder
    tmp, config, checkpoint = tiny
    calls, fuse = [], EncoderDecoder.fuse
    monkeypatch.setattr(EncoderDecoder, 'fuse', lambda self: calls.append(1) or fuse(self))
    path = tmp / 'fused.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(path), '--shape', '48', '64', '--fuse-conv-bn']) == 0
    assert calls == [1]
    img = torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(3))
    ref = _torch_logits(config, checkpoint, img)
    assert np.abs(_ort(path, img) - ref).max() <= TOLERANCE * np.abs(ref).max()


def test_deploy_test_matches_tools_test(tiny, dynamic_onnx):
    tmp, config, checkpoint = tiny
    test_tool.main([config, checkpoint, '--out', str(tmp / 'pt.pkl')])
    deploy_test.main([config, str(dynamic_onnx), '--out', str(tmp / 'ort.pkl'), '--eval', 'mIoU',
                      '--work-dir', str(tmp / 'work'), '--show-dir', str(tmp / 'vis')])
    pt = pickle.loads((tmp / 'pt.pkl').read_bytes())
    ort = pickle.loads((tmp / 'ort.pkl').read_bytes())  # with --eval: one confusion matrix per image
    assert len(pt) == len(ort) == 3 and all(m.shape == (11, 11) for m in ort)
    dataset_matrices = [_dataset_matrix(config, i, seg) for i, seg in enumerate(pt)]
    assert np.abs(sum(dataset_matrices) - sum(ort)).sum() <= 0.001 * sum(ort).sum()
    assert len(list((tmp / 'vis').glob('*.png'))) == 3
    (json_file,) = (tmp / 'work').glob('eval_*.json')
    assert 'mIoU' in json.loads(json_file.read_text())['metric']


def _dataset_matrix(config, index, seg):
    from mmseg_ddrnet.config import Config
    from mmseg_ddrnet.datasets import build_dataset
    return build_dataset(Config.fromfile(config).data.test).pre_eval(seg, index)[0]


def test_deploy_test_refuses_a_static_model_of_another_size(tiny):
    tmp, config, checkpoint = tiny
    path = tmp / 'static.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(path), '--shape', '32', '32']) == 0
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'deploy_test.py'), config, str(path), '--eval',
                           'mIoU'], capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ') and '--dynamic-export' in proc.stderr


def test_aug_test_averages_scales_and_flips_like_pytorch(tiny, dynamic_onnx):
    _, config, checkpoint = tiny
    model, ort = init_segmentor(config, checkpoint), ONNXRuntimeSegmentor(str(dynamic_onnx))
    img = torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(4))
    big = torch.nn.functional.interpolate(img, size=(72, 96), mode='bilinear')
    meta = dict(ori_shape=(48, 64, 3), img_shape=(48, 64, 3), flip=False)
    imgs = [img, img.flip(3), big]
    metas = [[meta], [dict(meta, flip=True, flip_direction='horizontal')], [dict(meta, img_shape=(72, 96, 3))]]
    with torch.no_grad():
        ref = model.aug_test(imgs, metas)[0]
    out = ort.aug_test(imgs, metas)[0]
    assert out.shape == ref.shape == (48, 64) and (out == ref).mean() >= 0.999


def test_aug_test_divides_the_summed_probabilities_by_the_number_of_augmentations(dynamic_onnx, monkeypatch):
    from types import SimpleNamespace
    from mmseg_ddrnet.export import onnxruntime_segmentor
    a, b = 0.7501220107078552, 0.7501220703125  # adjacent float32 values with a / 3 == b / 3
    assert torch.tensor(a) < torch.tensor(b) and torch.tensor(a) / 3 == torch.tensor(b) / 3
    ort = ONNXRuntimeSegmentor(str(dynamic_onnx))
    outputs = iter([torch.tensor([a, b]).view(1, 2, 1, 1)] + [torch.zeros(1, 2, 1, 1)] * 2)
    monkeypatch.setattr(ort, '_outputs_at', lambda img, metas, rescale: next(outputs))
    monkeypatch.setattr(onnxruntime_segmentor, 'F', SimpleNamespace(softmax=lambda x, dim: x))  # the sums as given
    # (a, b) / 3 ties: argmax takes the first class, as mmseg 0.x; the undivided sum would give class 1
    meta = dict(ori_shape=(1, 1, 3), img_shape=(1, 1, 3))
    assert ort.aug_test([torch.zeros(1, 3, 8, 8)] * 3, [[meta]] * 3)[0].item() == 0


def test_aug_test_needs_logits(argmax_onnx):
    model = ONNXRuntimeSegmentor(str(argmax_onnx))
    with pytest.raises(ConfigError, match='with-argmax'):
        model.aug_test([torch.zeros(1, 3, 48, 64)] * 2, [[{}]] * 2)


@pytest.mark.parametrize('module,tool', [('onnx', 'pytorch2onnx'), ('onnxruntime', 'deploy_test'),
                                         ('onnxruntime', 'pytorch2onnx --verify')])
def test_missing_optional_package_is_one_line(tiny, module, tool):
    tmp, config, checkpoint = tiny
    tool, *flags = tool.split()
    args = [config, checkpoint, '--output-file', str(tmp / 'x.onnx'), *flags] if tool == 'pytorch2onnx' else \
        [config, str(tmp / 'dynamic.onnx'), '--eval', 'mIoU']
    code = (f'import sys, runpy; sys.modules[{module!r}] = None; sys.argv = {[tool] + args!r}; '
            f'runpy.run_path({str(REPO / "tools" / (tool + ".py"))!r}, run_name="__main__")')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith('error: ') and f'pip install {module}' in line
    assert not (tmp / 'x.onnx').exists()  # refused before any work (--verify: before the export)


# ------------------------------------------------------------------------------------------- slide mode
SLIDE = dict(mode='slide', crop_size=(32, 32), stride=(24, 24))  # 48x64 images: 2x3 windows, overlaps, last moved
SLIDE_OPTIONS = ['model.test_cfg.mode=slide', 'model.test_cfg.crop_size=[32,32]', 'model.test_cfg.stride=[24,24]']


@pytest.fixture(scope='module')
def crop_onnx(tiny):
    """A static export for the slide windows: the default --shape of a slide-mode config is its crop_size."""
    tmp, config, checkpoint = tiny
    path = tmp / 'crop.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(path), '--cfg-options', *SLIDE_OPTIONS]) == 0
    return path


def _slide_model(config, checkpoint):
    return init_segmentor(config, checkpoint, cfg_options={f'model.test_cfg.{k}': v for k, v in SLIDE.items()})


@pytest.mark.parametrize('export', ['crop_onnx', 'dynamic_onnx'])
def test_slide_mode_equals_pytorch_slide_inference(tiny, export, request):
    _, config, checkpoint = tiny
    path = request.getfixturevalue(export)
    if export == 'crop_onnx':
        assert [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim] == [1, 3, 32, 32]
    model, ort = _slide_model(config, checkpoint), ONNXRuntimeSegmentor(str(path), test_cfg=SLIDE)
    img = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(5))
    metas = [dict(ori_shape=(48, 64, 3), img_shape=(48, 64, 3), flip=False)] * 2
    with torch.no_grad():
        ref = model.slide_inference(img, metas, rescale=False)
        ref_labels = model.simple_test(img, metas)
    out = ort.seg_logits(img)
    assert out.shape == ref.shape == (2, 11, 48, 64)
    assert (out - ref).abs().max() <= TOLERANCE * ref.abs().max()
    assert (ref - model.encode_decode(img, metas)).abs().max() > 100 * TOLERANCE * ref.abs().max()  # not 'whole'
    labels = ort.simple_test(img, metas)
    assert all(np.array_equal(a, b) for a, b in zip(labels, ref_labels))


def test_slide_windows_smaller_than_a_static_crop_are_zero_padded(tiny, crop_onnx, dynamic_onnx):
    """An image lower than the crop: its windows are 24x32; the static file runs them padded to 32x32."""
    from mmseg_ddrnet.models.segmentors.test_modes import slide_logits
    _, config, checkpoint = tiny
    model = _slide_model(config, checkpoint)
    img = torch.randn(1, 3, 24, 64, generator=torch.Generator().manual_seed(6))

    def padded(crop):
        h, w = crop.shape[2:]
        return model.encode_decode(torch.nn.functional.pad(crop, (0, 32 - w, 0, 32 - h)), None)[:, :, :h, :w]
    with torch.no_grad():
        ref_padded = slide_logits(img, padded, SLIDE['crop_size'], SLIDE['stride'])
        ref = model.slide_inference(img, None, rescale=False)
    static, dynamic = (ONNXRuntimeSegmentor(str(p), test_cfg=SLIDE).seg_logits(img) for p in (crop_onnx, dynamic_onnx))
    assert static.shape == dynamic.shape == (1, 11, 24, 64)
    assert (static - ref_padded).abs().max() <= TOLERANCE * ref_padded.abs().max()
    assert (dynamic - ref).abs().max() <= TOLERANCE * ref.abs().max()  # a free shape runs the 24x32 windows as is


def test_deploy_test_slide_mode_matches_tools_test(tiny, crop_onnx):
    tmp, config, checkpoint = tiny
    test_tool.main([config, checkpoint, '--out', str(tmp / 'pt_slide.pkl'), '--cfg-options', *SLIDE_OPTIONS])
    deploy_test.main([config, str(crop_onnx), '--out', str(tmp / 'ort_slide.pkl'), '--cfg-options', *SLIDE_OPTIONS])
    pt = pickle.loads((tmp / 'pt_slide.pkl').read_bytes())
    ort = pickle.loads((tmp / 'ort_slide.pkl').read_bytes())
    assert len(pt) == len(ort) == 3 and all(p.shape == (48, 64) for p in pt)
    assert all(np.array_equal(p, o) for p, o in zip(pt, ort))  # the 32x32 file serves the 48x64 images by windows


def test_slide_mode_refuses_an_export_that_cannot_serve_the_crop(tiny, dynamic_onnx, argmax_onnx):
    tmp, config, checkpoint = tiny
    path = tmp / 'full.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(path), '--shape', '48', '64']) == 0
    with pytest.raises(ConfigError, match=r'exported for inputs 1x3x48x64, which cannot serve .*crop_size \(32, 32\)'
                                          r': export it with --shape 32 32 or --dynamic-export'):
        ONNXRuntimeSegmentor(str(path), test_cfg=SLIDE)
    with pytest.raises(ConfigError, match='with-argmax'):
        ONNXRuntimeSegmentor(str(argmax_onnx), test_cfg=SLIDE)
    ONNXRuntimeSegmentor(str(dynamic_onnx), test_cfg=SLIDE)  # a free shape serves any crop
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'deploy_test.py'), config, str(path), '--eval',
                           'mIoU', '--cfg-options', *SLIDE_OPTIONS], capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith('error: ') and '--shape 32 32' in line


def test_export_failing_mid_write_keeps_the_previous_file_and_leaves_no_temp(tiny, tmp_path, monkeypatch, capsys):
    import contextlib
    import errno
    from mmseg_ddrnet.export import onnx_export
    from mmseg_ddrnet.utils import run_cli
    _, config, checkpoint = tiny
    out = tmp_path / 'model.onnx'
    assert p2o.main([config, checkpoint, '--output-file', str(out), '--shape', '48', '64']) == 0
    before = out.read_bytes()
    real_atomic_write = onnx_export.atomic_write

    @contextlib.contextmanager
    def disk_full(path, mode='wb'):  # the real temporary file; half the model reaches it, then the disk is full
        with real_atomic_write(path, mode) as f:
            def write(data):
                f.write(data[:len(data) // 2])
                raise OSError(errno.ENOSPC, 'No space left on device')
            yield type('HalfWriter', (), {'write': staticmethod(write)})()
    monkeypatch.setattr(onnx_export, 'atomic_write', disk_full)
    monkeypatch.setattr(sys, 'argv', ['pytorch2onnx.py', config, checkpoint, '--output-file', str(out),
                                      '--shape', '48', '64', '--with-argmax'])
    with pytest.raises(SystemExit) as info:
        run_cli(p2o.main)
    assert info.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f'error: cannot write ONNX file {out}: [Errno 28] No space left on device (ENOSPC)'
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ['model.onnx']


@pytest.mark.parametrize('argv,message', [([], 'nothing to do'), (['--out', 'r.txt'], r'\.pkl or \.pickle'),
                                          (['--eval', 'mIoU', '--format-only'], 'cannot both'),
                                          (['--eval', 'mAP'], 'unknown metric'),
                                          (['--show-dir', 'v', '--opacity', '0'], 'opacity')])
def test_deploy_test_checks_its_options_as_tools_test(tiny, argv, message):
    with pytest.raises(ConfigError, match=message):
        deploy_test.main([tiny[1], 'never_read.onnx', *argv])
    with pytest.raises(ConfigError, match=message):
        test_tool.parse_args([tiny[1], 'never_read.pth', *argv])
