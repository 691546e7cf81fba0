"""Backbones (registered in ``MODELS``)."""
from .ddrnet import DAPPM, BasicBlock, Bottleneck, DDRNet
from .dual_resnet import DualResNet

__all__ = ['DDRNet', 'DualResNet', 'DAPPM', 'BasicBlock', 'Bottleneck']
