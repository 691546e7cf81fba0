"""Decode heads (registered in ``MODELS``)."""
from .ddr_head import DDRHead
from .decode_head import BaseDecodeHead
from .fcn_head import FCNHead

__all__ = ['BaseDecodeHead', 'DDRHead', 'FCNHead']
