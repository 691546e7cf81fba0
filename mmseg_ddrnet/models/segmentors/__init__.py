"""Segmentors (registered in ``MODELS``)."""
from .base import BaseSegmentor, parse_losses
from .encoder_decoder import EncoderDecoder

__all__ = ['BaseSegmentor', 'EncoderDecoder', 'parse_losses']
