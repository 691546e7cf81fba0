"""``PhotoMetricDistortion`` with mmseg 0.x's random order, computed through 256-entry tables."""
from typing import Tuple

import cv2
import numpy as np

from ...registry import PIPELINES

_LEVELS = np.arange(256, dtype=np.float32)


def _affine_table(alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """uint8 table of ``clip(v * alpha + beta, 0, 255)`` truncated, as mmseg's ``convert``."""
    return np.clip(_LEVELS * np.float32(alpha) + np.float32(beta), 0, 255).astype(np.uint8)


def _apply_affine(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    if img.dtype == np.uint8:
        return cv2.LUT(img, _affine_table(alpha, beta))
    out = img.astype(np.float32) * np.float32(alpha) + np.float32(beta)
    return np.clip(out, 0, 255).astype(np.uint8)


@PIPELINES.register_module()
class PhotoMetricDistortion:
    """Random brightness, contrast, saturation and hue changes, each applied with probability 1/2.

    Order (as mmseg 0.x): brightness; contrast first or last (coin flip); saturation; hue.
    Works on BGR images; the output is uint8.

    Args:
        brightness_delta: the largest brightness shift.
        contrast_range: range of the contrast factor.
        saturation_range: range of the saturation factor.
        hue_delta: the largest hue shift (OpenCV hue units, 0–179).
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Tuple[float, float] = (0.5, 1.5),
                 saturation_range: Tuple[float, float] = (0.5, 1.5), hue_delta: int = 18):
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def brightness(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _apply_affine(img, beta=np.random.uniform(-self.brightness_delta, self.brightness_delta))
        return img

    def contrast(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            return _apply_affine(img, alpha=np.random.uniform(self.contrast_lower, self.contrast_upper))
        return img

    def saturation(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            alpha = np.random.uniform(self.saturation_lower, self.saturation_upper)
            hsv = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.uint8), cv2.COLOR_BGR2HSV)
            hsv[..., 1] = cv2.LUT(hsv[..., 1], _affine_table(alpha))
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def hue(self, img: np.ndarray) -> np.ndarray:
        if np.random.randint(2):
            delta = np.random.randint(-self.hue_delta, self.hue_delta)
            hsv = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.uint8), cv2.COLOR_BGR2HSV)
            table = ((np.arange(256) + delta) % 180).astype(np.uint8)
            hsv[..., 0] = cv2.LUT(hsv[..., 0], table)
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        return img

    def __call__(self, results: dict) -> dict:
        img = self.brightness(results['img'])
        mode = np.random.randint(2)
        if mode == 1:
            img = self.contrast(img)
        img = self.saturation(img)
        img = self.hue(img)
        if mode == 0:
            img = self.contrast(img)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range=({self.contrast_lower}, {self.contrast_upper}), '
                f'saturation_range=({self.saturation_lower}, {self.saturation_upper}), '
                f'hue_delta={self.hue_delta})')
