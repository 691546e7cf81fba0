"""The test-time modes shared by every segmentor (``EncoderDecoder``, the exported ``ONNXRuntimeSegmentor``).

``test_cfg`` validation, mmseg 0.x's sliding-window inference and the undoing of test-time flips, written once
and driven by a callable that maps an image (or crop) to its logits.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from ...utils import ConfigError, DataError
from ...utils.checks import as_int_pair, check_str, describe

CropLogits = Callable[[torch.Tensor], torch.Tensor]


def check_test_cfg(test_cfg: Optional[dict]) -> dict:
    """``test_cfg`` with ``mode`` set (default ``'whole'``); for ``'slide'``, ``crop_size``/``stride`` as (h, w)."""
    cfg = dict(mode='whole') if test_cfg is None else dict(test_cfg)
    mode = check_str('test_cfg', 'mode', cfg.setdefault('mode', 'whole'), ('whole', 'slide'))
    if mode == 'slide':
        for key in ('crop_size', 'stride'):
            value = cfg.get(key)
            pair = as_int_pair(value)
            if pair is None:
                raise ConfigError(f"test_cfg: mode='slide' needs {key} as two positive ints (h, w), "
                                  f'got {describe(value)}')
            cfg[key] = pair
    return cfg


def sliding_windows(h_img: int, w_img: int, h_crop: int, w_crop: int, h_stride: int, w_stride: int
                    ) -> List[Tuple[int, int, int, int]]:
    """``(y1, y2, x1, x2)`` of the sliding windows covering the image (mmseg 0.x grid).

    The last window of a row or column is moved back to end at the border, so every window has the crop's
    size, except along a side where the image itself is smaller than the crop (the window is the whole side).
    """
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2, x2 = min(h_idx * h_stride + h_crop, h_img), min(w_idx * w_stride + w_crop, w_img)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


def slide_logits(img: torch.Tensor, crop_logits: CropLogits, crop_size: Sequence[int], stride: Sequence[int]
                 ) -> torch.Tensor:
    """Logits ``N×C×H×W`` of ``img`` (in its dtype), averaged over the overlapping windows of
    :func:`sliding_windows`. ``crop_logits`` maps an ``N×3×h×w`` crop to its logits ``N×C×h×w``.
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    n, _, h_img, w_img = img.shape
    preds = None
    count = img.new_zeros((n, 1, h_img, w_img))
    for y1, y2, x1, x2 in sliding_windows(h_img, w_img, h_crop, w_crop, h_stride, w_stride):
        logits = crop_logits(img[:, :, y1:y2, x1:x2])
        if preds is None:
            preds = img.new_zeros((n, logits.shape[1], h_img, w_img))
        preds[:, :, y1:y2, x1:x2] += logits
        count[:, :, y1:y2, x1:x2] += 1
    return preds / count


def unflip(x: torch.Tensor, meta: dict) -> torch.Tensor:
    """Undo the test-time flip of an N×C×H×W tensor."""
    if not meta.get('flip', False):
        return x
    direction = meta.get('flip_direction', 'horizontal')
    if direction not in ('horizontal', 'vertical'):
        raise DataError(f"img_meta flip_direction must be 'horizontal' or 'vertical', got {direction!r}")
    return x.flip(dims=(3,) if direction == 'horizontal' else (2,))
