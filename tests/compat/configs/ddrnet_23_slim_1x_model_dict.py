# A 0.x-schema config whose model section is pasted from mmsegmentation 1.x's DDRNet-23-slim config
# (mmseg 0.x has no DDRNet of its own): flat backbone arguments, one DDRHead with [main, aux] OHEM losses,
# a data_preprocessor (1.x) that the 0.x pipeline makes redundant.
_base_ = ['_base_/datasets/cityscapes_1024x1024.py', '_base_/default_runtime.py', '_base_/schedules/schedule_120k.py']
class_weight = [
    0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023, 0.9539, 0.9843, 1.1116,
    0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507
]
crop_size = (1024, 1024)
data_preprocessor = dict(
    type='SegDataPreProcessor', size=crop_size, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True, pad_val=0, seg_pad_val=255)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='DDRNet', in_channels=3, channels=32, ppm_channels=128, norm_cfg=norm_cfg,
                  align_corners=False),
    decode_head=dict(
        type='DDRHead',
        in_channels=32 * 4,
        channels=64,
        dropout_ratio=0.,
        num_classes=19,
        align_corners=False,
        norm_cfg=norm_cfg,
        loss_decode=[
            dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072, class_weight=class_weight, loss_weight=1.0),
            dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072, class_weight=class_weight, loss_weight=0.4),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
data = dict(samples_per_gpu=6, workers_per_gpu=4)
