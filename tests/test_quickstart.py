"""The quick start (``bash tools/quickstart.sh``) end to end through the real command lines, shortened.

Generates a small demo dataset, converts it, trains DDRNet-23-slim for 80 iterations on 128x128 crops, then
tests the checkpoint: the training loss must fall and the test mIoU must beat the best constant prediction
(the chance level of this data) by a clear margin.

The run is seeded (config ``seed = 0``) and single-threaded, so it is reproducible on one machine; other CPUs run
other float kernels and land elsewhere. The bars come from the outcomes over training seeds 0-3 (``--seed``), each
with this CPU's kernels and with ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` (AMD EPYC family 25 model 17,
AVX-512): 8 runs, mIoU - chance in [0.336, 0.446] (bar 0.20), last/first loss in [0.18, 0.29] (bar 0.45).
At 40 iterations mIoU - chance spread over [0.118, 0.324]: too early to hold a bar on every CPU.
"""
import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ITERS = 80
SHORT = [  # fewer, smaller images and crops; no loader workers
    '--num-train', '8', '--num-val', '4', '--size', '128', '256',
    '--cfg-options', f'runner.max_iters={ITERS}', f'checkpoint_config.interval={ITERS}',
    f'evaluation.interval={ITERS}', 'log_config.interval=5', 'data.workers_per_gpu=0',
    'data.train.pipeline.2.img_scale=(256,128)', 'data.train.pipeline.3.crop_size=(128,128)',
    'data.train.pipeline.6.size=(128,128)', 'data.val.pipeline.1.img_scale=(256,128)',
    'data.test.pipeline.1.img_scale=(256,128)',
]


def _chance_miou(data_dir: Path) -> float:
    """mIoU of predicting the most frequent class everywhere: its frequency over the number of present classes."""
    counts = np.zeros(256, np.int64)
    for png in (data_dir / 'gtFine' / 'val').rglob('*_labelTrainIds.png'):
        counts += np.bincount(cv2.imread(str(png), cv2.IMREAD_UNCHANGED).ravel(), minlength=256)
    valid = counts[:19]
    return valid.max() / valid.sum() / np.count_nonzero(valid)


@pytest.fixture(scope='module')
def quickstart(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('quickstart')
    env = dict(os.environ, OMP_NUM_THREADS='1')  # reproducible reductions, stable speed on a shared 2-core machine
    proc = subprocess.run(['bash', str(REPO / 'tools' / 'quickstart.sh'), '--skip-setup', '--data-dir',
                           str(tmp / 'data'), '--work-dir', str(tmp / 'work'), *SHORT],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp, proc.stdout


@pytest.mark.slow
def test_quickstart_loss_falls(quickstart):
    tmp, _ = quickstart
    (log,) = (tmp / 'work').glob('*.log.json')
    losses = [line['loss'] for line in map(json.loads, log.read_text().splitlines()) if line.get('mode') == 'train']
    assert len(losses) == ITERS // 5
    # measured 0.18-0.29 over 4 seeds x 2 kernel sets (see the module docstring)
    assert np.mean(losses[-2:]) < 0.45 * np.mean(losses[:2]), losses


@pytest.mark.slow
def test_quickstart_miou_beats_chance(quickstart):
    tmp, stdout = quickstart
    (eval_json,) = (tmp / 'work').glob('eval_*.json')
    miou = json.loads(eval_json.read_text())['metric']['mIoU']
    chance = _chance_miou(tmp / 'data')
    # chance ~0.031; measured mIoU - chance 0.336-0.446 over 4 seeds x 2 kernel sets (see the module docstring)
    assert miou > chance + 0.20, (miou, chance)
    assert 'mIoU' in stdout and '[quickstart] done' in stdout


@pytest.mark.slow
def test_quickstart_paints_every_test_image(quickstart):
    tmp, _ = quickstart
    images = sorted((tmp / 'data' / 'leftImg8bit' / 'val').rglob('*.png'))
    painted = sorted((tmp / 'work' / 'vis').rglob('*.png'))
    assert len(images) == 4 and [p.name for p in painted] == [p.name for p in images]
    assert cv2.imread(str(painted[0])).shape == (128, 256, 3)
