"""mmcv 1.7 / mmseg 0.30 hook types that are refused here, each with the reason (``HOOKS.refuse``)."""
from ...registry import HOOKS

_SERVICE = ('it logs to a hosted service that needs an account and network access; use TextLoggerHook, '
            'TensorboardLoggerHook, WandbLoggerHook (offline mode) or MlflowLoggerHook (local store) instead')

REFUSED_HOOKS = {
    'PaviLoggerHook': f'Pavi is OpenMMLab\'s internal experiment service (no public client); {_SERVICE}',
    'SegmindLoggerHook': f'Segmind\'s platform client (segmind package); {_SERVICE}',
    'NeptuneLoggerHook': f'neptune.ai; {_SERVICE}',
    'ClearMLLoggerHook': f'ClearML needs a configured ClearML server; {_SERVICE}',
    'DvcliveLoggerHook': 'mmcv 1.7 calls dvclive\'s Live.set_step/Live.log, which dvclive 2.x+ removed; use '
                         'TextLoggerHook (JSON lines), TensorboardLoggerHook, WandbLoggerHook or MlflowLoggerHook',
    'MMSegWandbHook': 'its extras (W&B Tables of validation predictions, checkpoints as W&B artifacts) are not '
                      "implemented; use dict(type='WandbLoggerHook', init_kwargs=...) for the metrics",
    'IPUFp16OptimizerHook': 'Graphcore IPUs are not supported (CPU and CUDA only)',
    'RFSearchHook': 'receptive-field search (mmcv.cnn.rfsearch) rewrites convolution dilations of mmcv '
                    'ConvModules at run time; it is a research tool outside the DDRNet training workflow',
}

for _name, _reason in REFUSED_HOOKS.items():
    HOOKS.refuse(_name, _reason)
