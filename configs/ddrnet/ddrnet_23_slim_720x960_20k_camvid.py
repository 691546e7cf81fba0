# DDRNet-23-slim on CamVid (SegNet layout, 11 classes) at 960x720: 720x960 crops, 1 GPU x 8 images, 20k
# iterations, SGD lr 0.01 with poly decay, an auxiliary head on the 1/8 spatial branch (loss weight 0.4),
# from an ImageNet-pretrained backbone (set model.pretrained; see ddrnet_23_slim_1024x1024_120k_cityscapes.py).
# Point data_root at the dataset:  --cfg-options data.train.data_root=... (or edit data_root below).
_base_ = [
    '../_base_/models/ddrnet_23_slim.py', '../_base_/datasets/camvid.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(num_classes=11),
    auxiliary_head=dict(
        type='DDRHead',
        in_channels=64,  # 2 x planes: the 1/8 spatial branch after stage 3
        in_index=0,
        channels=64,
        dropout_ratio=0.0,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
checkpoint_config = dict(interval=2000)
evaluation = dict(interval=2000, metric='mIoU', pre_eval=True)
