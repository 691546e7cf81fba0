"""Pixel samplers of decode heads (``decode_head.sampler``, registered in ``PIXEL_SAMPLERS``), as mmseg 0.x's."""
from .base_pixel_sampler import BasePixelSampler, build_pixel_sampler
from .ohem_pixel_sampler import OHEMPixelSampler

__all__ = ['BasePixelSampler', 'OHEMPixelSampler', 'build_pixel_sampler']
