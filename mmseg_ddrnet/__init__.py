"""mmseg_ddrnet: DDRNet real-time semantic segmentation with the mmsegmentation 0.x workflow.

Importing the package is cheap; sub-packages register their modules when imported
(``mmseg_ddrnet.models``, ``mmseg_ddrnet.datasets``, ``mmseg_ddrnet.engine.hooks``).
"""
from .version import __version__

__all__ = ['__version__']
