# The quick-start demo (bash tools/quickstart.sh): DDRNet-23-slim from scratch on the synthetic Cityscapes-layout
# dataset of tools/misc/make_demo_data.py (40 + 8 images of 256x512 in data/demo_cityscapes), on the CPU in a
# few minutes. The real recipe at a small scale: the same model (SyncBN, which runs as BN in one process), the
# Cityscapes dataset class and evaluation, SGD with poly decay; 256x256 crops, 4 images per batch, 300
# iterations, validation and a checkpoint at the end. No photometric distortion: colour identifies the classes.
_base_ = [
    '../_base_/models/ddrnet_23_slim.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
data_root = 'data/demo_cityscapes/'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(512, 256), ratio_range=(0.75, 1.5)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(512, 256),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ]),
]
data = dict(
    samples_per_gpu=4,
    workers_per_gpu=1,
    train=dict(data_root=data_root, pipeline=train_pipeline),
    val=dict(data_root=data_root, pipeline=test_pipeline),
    test=dict(data_root=data_root, pipeline=test_pipeline))
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005)
lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False)
runner = dict(type='IterBasedRunner', max_iters=300)
log_config = dict(interval=10)
checkpoint_config = dict(by_epoch=False, interval=300)
evaluation = dict(interval=300, metric='mIoU', pre_eval=True)
cudnn_benchmark = False
seed = 0
