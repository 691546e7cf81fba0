"""Painting label maps over images (a leaf: models, the test loops and the apis use it)."""
from .overlay import (as_bgr_image, denormalize, model_palette, overlay_segmentation, paint_batch, paint_result,
                      show_image)
from .screen import can_show_images, display_problem, opencv_window_problem, resolve_show

__all__ = ['as_bgr_image', 'denormalize', 'model_palette', 'overlay_segmentation', 'paint_batch', 'paint_result',
           'show_image', 'can_show_images', 'display_problem', 'opencv_window_problem',
           'resolve_show']
