"""The bf16 deploy model segments real CamVid images as the fp32 model does.

DDRNet-23-slim is trained briefly from scratch on CamVid train crops (benchmarks/bf16_accuracy.py's
recipe, shrunk: 40 iterations on 120x160 crops, lr 0.02, seed 0, one thread), then 21 val images (every 5th)
are segmented at their native 360x480 by the fp32 model and by the bf16 fused deploy model. The whole
val split at the config's test size (720x960) is benchmarks/bf16_accuracy.py's default run.

Measured on an AMD EPYC (AVX512-BF16, no AMX) and with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
(bf16 emulated): see the margins beside the assertions. A model trained this little is unsure of many
pixels (lr 0.01 gives 99.0 %): the better trained, the higher the agreement.
"""
import importlib.util
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _recipe():
    spec = importlib.util.spec_from_file_location('bf16_accuracy', REPO / 'benchmarks' / 'bf16_accuracy.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bf16_label_maps_agree_with_fp32_on_camvid(camvid_root):
    recipe = _recipe()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = recipe.train_briefly(camvid_root, iters=40, num_images=8, batch=4, crop=(120, 160), lr=0.02)
        names = sorted(os.listdir(camvid_root / 'val'))[::5]
        result = recipe.compare_precisions(model, recipe.read_pairs(camvid_root, 'val', names), scale=1.0)
    finally:
        torch.set_num_threads(threads)
    assert result["num_images"] == 21
    assert result['miou_fp32'] > 5, result  # it learned something (measured 7.5 / 7.2 avx2; 5 iterations: 1.4)
    assert result['agree_percent'] >= 99.0, result  # measured 99.69 (AVX512-BF16), 99.87 (avx2)
    assert result['miou_diff'] <= 0.3, result  # measured 0.013, 0.001
