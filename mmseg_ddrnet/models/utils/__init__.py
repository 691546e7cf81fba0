"""Building blocks shared by the models: conv modules, norm layers, weight init, ``BaseModule``."""
from .base_module import BaseModule, ModuleList, check_init_cfg, initialize
from .conv_module import ConvModule, build_activation_layer
from .norm import SyncBatchNorm, build_norm_layer, is_norm, revert_sync_batchnorm, uses_local_batch_stats
from .weight_init import (bias_init_with_prob, caffe2_xavier_init, constant_init, kaiming_init, kaiming_init_,
                          normal_init, trunc_normal_init, uniform_init, xavier_init)

__all__ = ['BaseModule', 'ModuleList', 'check_init_cfg', 'initialize', 'ConvModule', 'build_activation_layer',
           'SyncBatchNorm', 'build_norm_layer', 'is_norm', 'revert_sync_batchnorm', 'uses_local_batch_stats',
           'bias_init_with_prob', 'caffe2_xavier_init', 'constant_init', 'kaiming_init', 'kaiming_init_',
           'normal_init', 'trunc_normal_init', 'uniform_init', 'xavier_init']
