# A fork-style mmseg-0.x recipe: DDRNet-23-slim on Cityscapes, OHEM cross-entropy with the OCNet class
# weights on the final head, an auxiliary DDRHead on the 1/8 spatial branch, 1024x1024 crops, 120k iters.
_base_ = [
    '_base_/models/ddrnet_23_slim_fork.py', '_base_/datasets/cityscapes_1024x1024.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_120k.py'
]
class_weight = [
    0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023, 0.9539, 0.9843, 1.1116,
    0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507
]
model = dict(
    decode_head=dict(
        loss_decode=dict(_delete_=True, type='OhemCrossEntropy', thres=0.9, min_kept=131072,
                         class_weight=class_weight, loss_weight=1.0)),
    auxiliary_head=dict(
        type='DDRHead',
        in_channels=64,
        in_index=0,
        channels=64,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072, class_weight=class_weight,
                         loss_weight=0.4)))
data = dict(samples_per_gpu=6, workers_per_gpu=4)
optimizer = dict(lr=0.01, weight_decay=0.0005)
evaluation = dict(interval=4000, metric='mIoU', pre_eval=True, save_best='mIoU')
