# logging: the text log (+ JSON lines) every 50 iterations; add dict(type='TensorboardLoggerHook') for TensorBoard
log_config = dict(
    interval=50,
    hooks=[
        dict(type='TextLoggerHook', by_epoch=False),
        # dict(type='TensorboardLoggerHook')
    ])
# nccl on GPUs; on a machine without CUDA tools/train.py falls back to gloo (or pass --dist-backend)
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]
cudnn_benchmark = True
