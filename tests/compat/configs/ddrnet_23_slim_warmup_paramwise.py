# 0.x optimiser and schedule spellings: AdamW with paramwise_cfg (custom_keys, norm_decay_mult),
# gradient clipping through optimizer_config, poly with linear warmup, the legacy top-level
# train_cfg/test_cfg (mmseg < 0.13) and the old total_iters.
_base_ = [
    '_base_/models/ddrnet_23_slim_fork.py', '_base_/datasets/cityscapes_1024x1024.py',
    '_base_/default_runtime.py'
]
model = dict(train_cfg=None, test_cfg=None)
train_cfg = dict()
test_cfg = dict(mode='whole')
optimizer = dict(
    type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01,
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)}, norm_decay_mult=0.))
optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))
lr_config = dict(policy='poly', warmup='linear', warmup_iters=1500, warmup_ratio=1e-6, power=1.0, min_lr=0.0,
                 by_epoch=False)
total_iters = 160000
checkpoint_config = dict(by_epoch=False, interval=16000)
evaluation = dict(interval=16000, metric='mIoU')
