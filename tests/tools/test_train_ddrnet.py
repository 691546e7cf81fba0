"""tools/train.py with the real DDRNet-23-slim CamVid recipe on the real CamVid images (tiny crops, few iterations)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE = osp.join(REPO, 'configs', 'ddrnet', 'ddrnet_23_slim_720x960_20k_camvid.py')


def _tiny_recipe(path: str, data_root: str, kill_at: int = 0) -> str:
    """The recipe with 64x64 crops, 2 images per batch, 4 iterations, evaluation at 120x90 after the last."""
    text = f"""_base_ = {RECIPE!r}
data_root = {str(data_root)!r}
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(120, 90), ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75), dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'), dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=(64, 64), pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'), dict(type='Collect', keys=['img', 'gt_semantic_seg'])]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(120, 90), flip=False, transforms=[
        dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'), dict(type='Normalize', **img_norm_cfg),
        dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]
data = dict(samples_per_gpu=2, workers_per_gpu=0,
            train=dict(data_root=data_root, pipeline=train_pipeline),
            val=dict(data_root=data_root, pipeline=test_pipeline))
runner = dict(type='IterBasedRunner', max_iters=4)
checkpoint_config = dict(by_epoch=False, interval=2)
evaluation = dict(interval=4, metric='mIoU', pre_eval=True, save_best='mIoU')
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook', by_epoch=False)])
"""
    if kill_at:
        text += f"custom_imports = dict(imports=['toy'])\ncustom_hooks = [dict(type='SigkillHook', at_iter={kill_at})]\n"
    with open(path, 'w') as f:
        f.write(text)
    return path


def _run(*args):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=osp.join(REPO, 'tests', 'engine'))
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ddrnet_camvid_kill_and_resume_bit_identical(tmp_path, camvid_root):
    config = _tiny_recipe(str(tmp_path / 'tiny_camvid.py'), camvid_root)
    killed = _tiny_recipe(str(tmp_path / 'tiny_camvid_killed.py'), camvid_root, kill_at=3)
    flags = ['--seed', '0', '--deterministic']
    straight = _run(config, '--work-dir', str(tmp_path / 'a'), *flags)
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert _run(killed, '--work-dir', str(tmp_path / 'b'), *flags).returncode == -9
    resumed = _run(config, '--work-dir', str(tmp_path / 'b'), *flags, '--auto-resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = torch.load(tmp_path / 'a' / 'iter_4.pth', weights_only=True)
    b = torch.load(tmp_path / 'b' / 'iter_4.pth', weights_only=True)
    assert any(k.startswith('auxiliary_head') for k in a['state_dict'])
    for key, value in a['state_dict'].items():  # BN running statistics included
        assert torch.equal(value, b['state_dict'][key]), key
    assert a['meta']['CLASSES'][0] == 'Sky' and len(a['meta']['CLASSES']) == 11
    [log_json] = [f for f in os.listdir(tmp_path / 'a') if f.endswith('.log.json')]
    lines = [json.loads(line) for line in open(tmp_path / 'a' / log_json)]
    train_lines = [line for line in lines if line.get('mode') == 'train']
    assert {'decode.loss_ce', 'aux.loss_ce', 'decode.acc_seg'} <= set(train_lines[0])
    [val] = [line for line in lines if line.get('mode') == 'val']
    assert 0 <= val['mIoU'] <= 1 and 'IoU.Sky' in val
    assert os.path.exists(tmp_path / 'a' / 'best_mIoU_iter_4.pth')
