"""The pixel-sampler interface and its builder (mmseg 0.x ``BasePixelSampler``, ``build_pixel_sampler``)."""
from abc import ABCMeta, abstractmethod
from typing import Any

import torch

from ...registry import PIXEL_SAMPLERS


class BasePixelSampler(metaclass=ABCMeta):
    """Weights the pixels of a training batch for a decode head's losses.

    A sampler is built with ``context=<the head>`` (its ``ignore_index`` and ``loss_decode``) plus the
    keys of its config. Register your own with ``@PIXEL_SAMPLERS.register_module()``.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Accepts (and ignores) keyword arguments, as mmseg 0.x's base class."""

    @abstractmethod
    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """N×H×W pixel weights from N×C×H×W logits (at the label size) and N×1×H×W labels."""


def build_pixel_sampler(cfg: dict, **default_args: Any) -> BasePixelSampler:
    """A pixel sampler from its config (``default_args``: ``context=head``)."""
    return PIXEL_SAMPLERS.build(cfg, default_args=default_args)
