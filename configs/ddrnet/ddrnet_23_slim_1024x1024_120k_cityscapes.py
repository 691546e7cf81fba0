# DDRNet-23-slim on Cityscapes as in the paper (and mmsegmentation 1.x's ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024):
# OHEM cross-entropy (thres 0.9, min_kept 131072) with the Cityscapes class weights of DDRNet/HRNet, an auxiliary
# head on the 1/8 spatial branch after stage 3 (loss weight 0.4), 1024x1024 crops, 120k iterations,
# 2 GPUs x 6 images, SGD lr 0.01 with poly decay to 0, from an ImageNet-pretrained backbone.
#
# The pretrained backbone: download DDRNet23s_imagenet.pth from https://github.com/ydhongHIT/DDRNet and run
#   python tools/convert_checkpoint.py --src-format official-imagenet DDRNet23s_imagenet.pth pretrained/ddrnet23s_imagenet_converted.pth
_base_ = [
    '../_base_/models/ddrnet_23_slim.py', '../_base_/datasets/cityscapes_1024x1024.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_120k.py'
]
class_weight = [
    0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023, 0.9539, 0.9843, 1.1116,
    0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507
]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained='pretrained/ddrnet23s_imagenet_converted.pth',
    decode_head=dict(
        loss_decode=dict(
            _delete_=True, type='OhemCrossEntropy', thres=0.9, min_kept=131072, class_weight=class_weight,
            loss_weight=1.0)),
    auxiliary_head=dict(
        type='DDRHead',
        in_channels=64,  # 2 x planes: the 1/8 spatial branch after stage 3
        in_index=0,
        channels=64,
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='OhemCrossEntropy', thres=0.9, min_kept=131072, class_weight=class_weight, loss_weight=0.4)))
data = dict(samples_per_gpu=6, workers_per_gpu=4)
lr_config = dict(min_lr=0.0)
