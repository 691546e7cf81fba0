"""A DDRNet config in the style of an mmseg 0.x fork (``type='DualResNet'`` with the official arguments, heads
ignoring CamVid's void label 11, a CustomDataset, legacy ``total_iters``, top-level ``deterministic``) trains a
few iterations on real CamVid and validates through ``tools/train.py``, unchanged but for size and length.
The raw labels keep the void value 11, which the CustomDataset accepts only because it takes the decode head's
``ignore_index`` (the config does not set the dataset's)."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs' / 'ddrnet_23_slim_dualresnet_camvid.py'
ITERS, SCALE, CROP = 4, (240, 180), (176, 240)  # a quarter of the recipe's 960x720

# only sizes, data location and length differ from the fork config; everything else is inherited
DERIVED = '''
_base_ = [{config!r}]
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale={scale}, ratio_range=(0.75, 1.25)),
    dict(type='RandomCrop', crop_size={crop}), dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg), dict(type='Pad', size={crop}, pad_val=0, seg_pad_val=11),
    dict(type='DefaultFormatBundle'), dict(type='Collect', keys=['img', 'gt_semantic_seg'])]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale={scale}, flip=False, transforms=[
        dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'), dict(type='Normalize', **img_norm_cfg),
        dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]
data = dict(
    samples_per_gpu=2, workers_per_gpu=0,
    train=dict(data_root={root!r}, split={train_split!r}, pipeline=train_pipeline),
    val=dict(data_root={root!r}, split={val_split!r}, pipeline=test_pipeline))
runner = dict(max_iters={iters})
checkpoint_config = dict(interval={iters})
evaluation = dict(interval={iters})
log_config = dict(interval=1)
seed = 0
'''


def _split(root: Path, folder: str, path: Path, count: int) -> str:
    names = sorted(p.stem for p in (root / folder).glob('*.png'))
    path.write_text('\n'.join(names[::len(names) // count][:count]) + '\n')
    return str(path)


@pytest.mark.slow
def test_fork_style_dualresnet_config_trains_and_validates_on_camvid(camvid_root, tmp_path):
    config = tmp_path / 'fork_small.py'
    config.write_text(DERIVED.format(
        config=str(CONFIG), root=str(camvid_root), scale=SCALE, crop=CROP, iters=ITERS,
        train_split=_split(camvid_root, 'train', tmp_path / 'train.txt', 4),
        val_split=_split(camvid_root, 'val', tmp_path / 'val.txt', 2)))
    spec = importlib.util.spec_from_file_location('train_tool', REPO / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    work_dir = tmp_path / 'work'
    assert tool.main([str(config), '--work-dir', str(work_dir)]) == 0

    (log_json,) = work_dir.glob('*.log.json')
    lines = [json.loads(line) for line in log_json.read_text().splitlines()]
    train = [line for line in lines if line.get('mode') == 'train']
    assert [line['iter'] for line in train] == list(range(1, ITERS + 1))
    assert all(math.isfinite(line['decode.loss_ce']) and math.isfinite(line['aux.loss_ce']) for line in train)
    (val,) = [line for line in lines if line.get('mode') == 'val']
    assert 0 <= val['mIoU'] <= 1 and 0 <= val['aAcc'] <= 1
    (text_log,) = work_dir.glob('*[0-9].log')
    text = text_log.read_text()
    assert 'deterministic: True' in text  # the config's top-level key
    assert 'total_iters=20000 is ignored' in text  # the fork's legacy key, as mmseg 0.x: the runner wins
    assert 'DualResNet: ' not in text  # the official head arguments agree with the heads: no warning
    assert (work_dir / f'iter_{ITERS}.pth').is_file()
