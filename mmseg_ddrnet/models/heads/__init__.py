"""Decode heads (registered in ``MODELS``)."""
from .ddr_head import DDRHead
from .decode_head import BaseDecodeHead

__all__ = ['BaseDecodeHead', 'DDRHead']
