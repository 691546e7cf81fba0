"""Segmentors (registered in ``MODELS``)."""
from .base import BaseSegmentor, parse_losses, run_train_step
from .encoder_decoder import EncoderDecoder

__all__ = ['BaseSegmentor', 'EncoderDecoder', 'parse_losses', 'run_train_step']
