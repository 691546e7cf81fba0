"""Backbones (registered in ``MODELS``)."""
from .ddrnet import DAPPM, BasicBlock, Bottleneck, DDRNet

__all__ = ['DDRNet', 'DAPPM', 'BasicBlock', 'Bottleneck']
