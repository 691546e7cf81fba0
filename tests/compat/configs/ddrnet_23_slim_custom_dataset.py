# A user's own data in the 0.x CustomDataset layout (docs/tutorials/customize_datasets.md):
# img_dir/{train,val}/*.jpg, ann_dir/{train,val}/*.png, a split file, classes and palette in the config,
# label 0 = "unlabelled" dropped by reduce_zero_label.
_base_ = ['_base_/models/ddrnet_23_slim_fork.py', '_base_/default_runtime.py', '_base_/schedules/schedule_120k.py']
dataset_type = 'CustomDataset'
data_root = 'data/my_dataset'
classes = ('road', 'building', 'sky')
palette = [[128, 64, 128], [70, 70, 70], [70, 130, 180]]
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', img_scale=(1024, 512), ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(1024, 512),
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
    workers_per_gpu=4,
    train=dict(type=dataset_type, data_root=data_root, img_dir='img_dir/train', ann_dir='ann_dir/train',
               img_suffix='.jpg', seg_map_suffix='.png', split='splits/train.txt', classes=classes,
               palette=palette, reduce_zero_label=True, pipeline=train_pipeline),
    val=dict(type=dataset_type, data_root=data_root, img_dir='img_dir/val', ann_dir='ann_dir/val',
             img_suffix='.jpg', seg_map_suffix='.png', classes=classes, palette=palette,
             reduce_zero_label=True, pipeline=test_pipeline),
    test=dict(type=dataset_type, data_root=data_root, img_dir='img_dir/val', ann_dir='ann_dir/val',
              img_suffix='.jpg', seg_map_suffix='.png', classes=classes, palette=palette,
              reduce_zero_label=True, pipeline=test_pipeline))
model = dict(decode_head=dict(num_classes=3))
