# DDRNet-23-slim on Cityscapes, the reference recipe: plain cross-entropy, no auxiliary head, SyncBN,
# SGD lr 0.01 (momentum 0.9, weight decay 5e-4), poly (power 0.9, min_lr 1e-4), 160k iterations,
# 512x1024 crops, 2 images per GPU; whole-image test at 2048x1024.
_base_ = [
    '../_base_/models/ddrnet_23_slim.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
data = dict(samples_per_gpu=2, workers_per_gpu=2)
