# DDRNet-23-slim on CamVid, written as the mmseg 0.x forks that register the official DDRNet code
# (ydhongHIT/DDRNet, segmentation/DDRNet_23_slim.py) as a backbone write it: type='DualResNet' with the official
# constructor arguments, heads ignoring CamVid's void label 11, a CustomDataset with the 11 class names, the
# legacy total_iters next to the runner, and a top-level deterministic. It runs here unchanged.
#
# Official ImageNet weights: set pretrained='pretrained/DDRNet23s_imagenet.pth' (the file as released; it is
# converted on load). Point data_root at CamVid in the SegNet layout (train/, trainannot/, val/, valannot/).
_base_ = ['./_base_/default_runtime.py', './_base_/datasets/camvid.py']  # its test pipeline and splits

norm_cfg = dict(type='BN', requires_grad=True)
num_classes = 11
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='DualResNet',
        block='BasicBlock',
        layers=[2, 2, 2, 2],
        num_classes=num_classes,
        planes=32,
        spp_planes=128,
        head_planes=64,
        augment=True,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='DDRHead',  # the official segmenthead: BN-ReLU-conv3x3-BN-ReLU-conv1x1
        in_channels=128,  # 4 x planes: final_layer's input
        in_index=-1,
        channels=64,  # head_planes
        dropout_ratio=0.0,
        num_classes=num_classes,
        ignore_index=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='DDRHead',  # augment=True: seghead_extra on the high-resolution branch after stage 3
        in_channels=64,  # 2 x planes
        in_index=0,
        channels=64,
        dropout_ratio=0.0,
        num_classes=num_classes,
        ignore_index=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

dataset_type = 'CustomDataset'  # a 0.x fork's CamVid: the class names, raw labels (void = 11)
data_root = 'data/camvid/'
classes = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian',
           'Bicyclist')
palette = [[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128], [60, 40, 222], [128, 128, 0],
           [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0], [0, 128, 192]]
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
crop_size = (720, 960)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', img_scale=(960, 720), ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=11),  # padded labels: the ignored void label
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_semantic_seg']),
]
camvid = dict(type=dataset_type, data_root=data_root, img_suffix='.png', seg_map_suffix='.png', classes=classes,
              palette=palette)
data = dict(samples_per_gpu=8, workers_per_gpu=4, train=dict(**camvid, pipeline=train_pipeline), val=camvid,
            test=camvid)

optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optimizer_config = dict()
lr_config = dict(policy='poly', power=0.9, min_lr=0.0, by_epoch=False)
total_iters = 20000
runner = dict(type='IterBasedRunner', max_iters=total_iters)
checkpoint_config = dict(by_epoch=False, interval=2000)
evaluation = dict(interval=2000, metric='mIoU', pre_eval=True)
deterministic = True
