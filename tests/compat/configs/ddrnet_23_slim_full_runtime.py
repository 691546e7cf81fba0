# Every runtime key an mmseg-0.x config may set, spelled as 0.x writes them.
_base_ = ['./ddrnet_23_slim_fork_cityscapes.py']
model = dict(
    decode_head=dict(loss_decode=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
                                         loss_weight=0.4)))
log_config = dict(
    interval=1,
    hooks=[
        dict(type='TextLoggerHook', by_epoch=False),
        dict(type='TensorboardLoggerHook')
    ])
runner = dict(type='IterBasedRunner', max_iters=2)
checkpoint_config = dict(by_epoch=False, interval=1, max_keep_ckpts=1)
evaluation = dict(interval=2, metric='mIoU', pre_eval=True, save_best='mIoU')
fp16 = dict(loss_scale=512.)
workflow = [('train', 1)]
dist_params = dict(backend='nccl')
cudnn_benchmark = True
find_unused_parameters = True
gpu_ids = range(0, 1)
seed = 0
