# mmcv 1.7 hooks and momentum_config as 0.x configs write them (docs/mmseg0x_compat.md).
_base_ = ['./ddrnet_23_slim_fork_cityscapes.py']
runner = dict(type='IterBasedRunner', max_iters=3)
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
momentum_config = dict(policy='cyclic', target_ratio=(0.85 / 0.95, 1), cyclic_times=1, step_ratio_up=0.4)
checkpoint_config = dict(by_epoch=False, interval=3, filename_tmpl='ckpt_{}.pth', create_symlink=False,
                         sync_buffer=True)
evaluation = dict(interval=3, metric='mIoU', pre_eval=True, save_best='mIoU', greater_keys=['mIoU'])
custom_hooks = [
    dict(type='EMAHook', momentum=0.01, warm_up=2, priority=49),
    dict(type='SyncBuffersHook'),
    dict(type='DistSamplerSeedHook'),
    dict(type='ProfilerHook', by_epoch=False, profile_iters=1, activities=['cpu'], json_trace_path='trace.json'),
]
opencv_num_threads = 1
mp_start_method = 'fork'
