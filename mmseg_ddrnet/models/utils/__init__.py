"""Building blocks shared by the models: conv modules, norm layers, weight init."""
from .conv_module import ConvModule, build_activation_layer
from .norm import SyncBatchNorm, build_norm_layer, is_norm, revert_sync_batchnorm, uses_local_batch_stats
from .weight_init import kaiming_init_

__all__ = ['ConvModule', 'build_activation_layer', 'SyncBatchNorm', 'build_norm_layer', 'is_norm', 'revert_sync_batchnorm',
           'uses_local_batch_stats', 'kaiming_init_']
