"""On real CamVid, the exported model evaluated by tools/deploy_test.py scores PyTorch's mIoU (tools/test.py).

A DDRNet-23-slim trained briefly (40 iterations, 8 images at 160x120) is exported with dynamic shapes and both
tools evaluate it on 12 val images: the mIoU must agree within 0.1 point. Measured: 17.887 (PyTorch) vs 17.884
(onnxruntime) on an AMD EPYC (AVX-512); the logits differ by float rounding plus onnxruntime's two resizes
(to the input, then to the original size) against PyTorch's one. The model must have learned something
(mIoU > 8, measured 17.9; chance about 3) for the comparison to mean anything. In slide mode (96x96 crops, stride
64, a static 96x96 export) both score 18.209 (same CPU).
"""
import importlib.util
import json

import pytest
import torch

pytest.importorskip('onnxruntime')

from camvid_model import camvid_config, train_camvid_model  # noqa: E402
from tiny_seg import REPO  # noqa: E402


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f'mmseg_ddrnet_tools_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _miou(work_dir):
    (json_file,) = work_dir.glob('eval_*.json')
    return 100 * json.loads(json_file.read_text())['metric']['mIoU']


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_onnxruntime_miou_equals_pytorch_on_camvid_val(camvid_root, tmp_path, one_thread):
    cfg = camvid_config(camvid_root, tmp_path / 'work', scale=(160, 120), train_images=8, iters=40, val_images=12)
    checkpoint = str(train_camvid_model(cfg))
    config = str(tmp_path / 'work' / 'config.py')
    onnx_file = str(tmp_path / 'model.onnx')
    assert _load('pytorch2onnx').main([config, checkpoint, '--output-file', onnx_file, '--dynamic-export']) == 0
    _load('test').main([config, checkpoint, '--eval', 'mIoU', '--work-dir', str(tmp_path / 'pt')])
    _load('deploy_test').main([config, onnx_file, '--eval', 'mIoU', '--work-dir', str(tmp_path / 'ort')])
    pytorch, ort = _miou(tmp_path / 'pt'), _miou(tmp_path / 'ort')
    assert pytorch > 8, f'the model learned too little for a meaningful comparison: mIoU {pytorch:.2f}'
    assert abs(pytorch - ort) <= 0.1, (pytorch, ort)
    # slide mode: a static export of the 96x96 crop runs on the 2x2 overlapping windows of each 120x160 image
    slide = ['--cfg-options', 'model.test_cfg.mode=slide', 'model.test_cfg.crop_size=[96,96]',
             'model.test_cfg.stride=[64,64]']
    crop_file = str(tmp_path / 'crop.onnx')
    assert _load('pytorch2onnx').main([config, checkpoint, '--output-file', crop_file, *slide]) == 0
    _load('test').main([config, checkpoint, '--eval', 'mIoU', '--work-dir', str(tmp_path / 'pt_slide'), *slide])
    _load('deploy_test').main([config, crop_file, '--eval', 'mIoU', '--work-dir', str(tmp_path / 'ort_slide'), *slide])
    pytorch_slide, ort_slide = _miou(tmp_path / 'pt_slide'), _miou(tmp_path / 'ort_slide')
    print(f'mIoU whole: PyTorch {pytorch:.3f}, onnxruntime {ort:.3f}; slide: PyTorch {pytorch_slide:.3f}, '
          f'onnxruntime {ort_slide:.3f}')
    assert pytorch_slide != pytorch  # slide mode really ran
    assert abs(pytorch_slide - ort_slide) <= 0.1, (pytorch_slide, ort_slide)
