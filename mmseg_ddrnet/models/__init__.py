"""DDRNet models: backbone, heads, losses, segmentors; importing this registers them in ``MODELS``."""
from . import refused  # noqa: F401  (mmseg 0.30 types refused with a reason)
from .backbones import DAPPM, DDRNet, DualResNet
from .builder import build_backbone, build_head, build_loss, build_segmentor
from .deploy import PRECISIONS, prepare_for_inference
from .heads import BaseDecodeHead, DDRHead, FCNHead
from .losses import CrossEntropyLoss, OhemCrossEntropy, accuracy
from .samplers import BasePixelSampler, OHEMPixelSampler, build_pixel_sampler
from .segmentors import BaseSegmentor, EncoderDecoder, parse_losses, run_train_step
from .utils import BaseModule, SyncBatchNorm, build_norm_layer, initialize

__all__ = ['DDRNet', 'DualResNet', 'DAPPM', 'DDRHead', 'FCNHead', 'BaseDecodeHead', 'CrossEntropyLoss', 'OhemCrossEntropy',
           'accuracy', 'BasePixelSampler', 'OHEMPixelSampler', 'build_pixel_sampler', 'BaseSegmentor', 'EncoderDecoder', 'parse_losses',
           'run_train_step', 'build_backbone', 'build_head',
           'build_loss', 'build_segmentor', 'SyncBatchNorm', 'build_norm_layer', 'prepare_for_inference', 'PRECISIONS',
           'BaseModule', 'initialize']
