# Epoch-based training as 0.x writes it: EpochBasedRunner, per-epoch poly decay, checkpoints and
# evaluation every epoch with two metrics, the best checkpoint by mDice (rule='greater').
_base_ = ['./ddrnet_23_slim_fork_cityscapes.py']
runner = dict(_delete_=True, type='EpochBasedRunner', max_epochs=100)
lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=True)
checkpoint_config = dict(by_epoch=True, interval=1, max_keep_ckpts=1)
evaluation = dict(interval=1, metric=['mIoU', 'mDice'], pre_eval=True, save_best='mDice', rule='greater')
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
