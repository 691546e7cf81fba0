"""Painting label maps over images: palettes, overlays, writing and showing the result.

Used by :meth:`mmseg_ddrnet.models.BaseSegmentor.show_result`, the test loops (``--show``/``--show-dir``) and
:func:`mmseg_ddrnet.apis.show_result`.
"""
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from torch import nn

from ..utils import ConfigError, DataError, warn_once
from ..utils.dist import unwrap_model
from ..utils.image_io import imread, imwrite
from .screen import can_show_images

ImageLike = Union[str, os.PathLike, np.ndarray]


def model_palette(model: nn.Module, dataset: Any) -> np.ndarray:
    """The RGB palette (``uint8[C, 3]``) of the model (from its checkpoint) or else of the dataset.

    Without either, a fixed pseudo-random palette for 256 labels (the same on every run).
    """
    palette = getattr(unwrap_model(model), 'PALETTE', None)
    if palette is None:
        palette = getattr(dataset, 'PALETTE', None)
    if palette is None:
        palette = np.random.RandomState(42).randint(0, 255, size=(256, 3))
    return np.asarray(palette, dtype=np.uint8).reshape(-1, 3)


def overlay_segmentation(img_bgr: np.ndarray, seg: np.ndarray, palette: np.ndarray,
                         opacity: float = 0.5) -> np.ndarray:
    """``img_bgr`` (``uint8[H, W, 3]``) with each labelled pixel blended with its palette colour (RGB).

    Pixels whose label has no colour (e.g. 255, ignore) keep the image.
    """
    if img_bgr.shape[:2] != seg.shape[:2]:
        raise ValueError(f'image {img_bgr.shape[:2]} and segmentation {seg.shape[:2]} differ in size')
    out = img_bgr.astype(np.float32)
    valid = (seg >= 0) & (seg < len(palette))
    colours = palette[seg[valid]][:, ::-1].astype(np.float32)  # RGB palette -> BGR image
    out[valid] = out[valid] * (1 - opacity) + colours * opacity
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def denormalize(img: torch.Tensor, norm_cfg: Dict[str, Any]) -> np.ndarray:
    """A normalised ``[3, H, W]`` image tensor back to ``uint8`` BGR."""
    arr = img.detach().float().cpu().permute(1, 2, 0).numpy()
    arr = arr * np.asarray(norm_cfg['std'], np.float32) + np.asarray(norm_cfg['mean'], np.float32)
    if norm_cfg.get('to_rgb', True):
        arr = arr[..., ::-1]
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def paint_batch(data: Dict[str, Any], result: List[np.ndarray], palette: np.ndarray, out_dir: Optional[str],
           show: bool, opacity: float) -> None:
    """Show and/or write each image of the batch with its prediction painted over it."""
    imgs, metas = data['img'], data['img_metas']
    img_tensor, img_metas = (imgs[0], metas[0]) if isinstance(imgs, (list, tuple)) else (imgs, metas)
    for img, meta, seg in zip(img_tensor, img_metas, result):
        h, w = meta['img_shape'][:2]
        ori_h, ori_w = meta['ori_shape'][:2]
        image = denormalize(img, meta['img_norm_cfg'])[:h, :w]
        image = cv2.resize(np.ascontiguousarray(image), (ori_w, ori_h), interpolation=cv2.INTER_LINEAR)
        painted = overlay_segmentation(image, np.asarray(seg), palette, opacity)
        if out_dir:
            out_file = osp.join(out_dir, meta['ori_filename'])
            imwrite(out_file, painted)
        if show:
            show_image(meta['ori_filename'], painted)


def show_image(title: str, image: np.ndarray, wait_time: int = 0) -> None:
    """Display ``image`` in a window named ``title`` for ``wait_time`` ms (0: until a key is pressed).

    Where no window can be opened (no screen, headless OpenCV) one warning per process says so and nothing is shown.
    """
    if not can_show_images():
        return
    try:
        cv2.imshow(title, image)
        cv2.waitKey(wait_time)
    except cv2.error:
        warn_once('--show: OpenCV cannot open a window here; use --show-dir to write the images')


def as_bgr_image(img: ImageLike) -> np.ndarray:
    """``img`` as an HxWx3 BGR ``uint8`` array: read from a file path, or checked when already an array."""
    if isinstance(img, (str, os.PathLike)):
        return imread(os.fspath(img))
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise DataError(f'an image array must be HxWx3 uint8 (BGR), got shape {img.shape} {img.dtype}')
        return img
    raise DataError(f'an image must be a file path or an HxWx3 BGR uint8 array, got {type(img).__name__}')


def _label_map(result: Union[np.ndarray, Sequence[np.ndarray]]) -> np.ndarray:
    """One label map from ``result`` (a map, or the list ``inference_segmentor`` returns)."""
    if isinstance(result, (list, tuple)):
        if len(result) != 1:
            raise DataError(f'show_result paints one image: got {len(result)} results')
        result = result[0]
    seg = np.asarray(result)
    if seg.ndim != 2:
        raise DataError(f'a segmentation result must be an HxW label map, got shape {seg.shape}')
    return seg


def paint_result(model: nn.Module, img: ImageLike, result: Union[np.ndarray, Sequence[np.ndarray]],
                 palette: Optional[Sequence[Sequence[int]]] = None, opacity: float = 0.5,
                 out_file: Optional[Union[str, os.PathLike]] = None) -> np.ndarray:
    """``img`` with the label map ``result`` painted over it; written to ``out_file`` if given.

    ``palette`` (RGB per class) defaults to ``model.PALETTE``, else a fixed random one; ``opacity`` is the
    weight of the colours. Returns the painted BGR ``uint8`` image.
    """
    if not 0 < opacity <= 1:
        raise ConfigError(f'opacity must be in (0, 1], got {opacity}')
    image = as_bgr_image(img)
    seg = _label_map(result)
    colours = model_palette(model, None) if palette is None else np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if image.shape[:2] != seg.shape:
        raise DataError(f'the image ({image.shape[0]}x{image.shape[1]}) and the result '
                        f'({seg.shape[0]}x{seg.shape[1]}) differ in size')
    painted = overlay_segmentation(image, seg, colours, opacity)
    if out_file is not None:
        out_file = os.fspath(out_file)
        imwrite(out_file, painted)
    return painted
