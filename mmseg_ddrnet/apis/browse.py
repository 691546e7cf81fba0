"""Look at a dataset as the model sees it: samples after the training pipeline, labels painted (browse_dataset)."""
import os
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..utils import DataError
from ..visualization import denormalize, overlay_segmentation, show_image

DEFAULT_NORM = dict(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], to_rgb=False)


def sample_image_and_label(sample: Dict[str, Any]) -> Tuple[np.ndarray, Optional[np.ndarray], str]:
    """``(BGR uint8 image, label map or None, file name)`` of one pipeline output, normalisation undone.

    Accepts the formatted output (``img`` a CHW tensor, ``img_metas``) or raw results dicts (HWC arrays).
    """
    meta = sample.get('img_metas', sample)
    meta = getattr(meta, 'data', meta)
    norm_cfg = meta.get('img_norm_cfg') or DEFAULT_NORM
    img = sample['img']
    if isinstance(img, torch.Tensor):
        image = denormalize(img, norm_cfg)
    else:
        arr = np.asarray(img, dtype=np.float32) * np.asarray(norm_cfg['std'], np.float32) + \
            np.asarray(norm_cfg['mean'], np.float32)
        image = np.clip(np.rint(arr[..., ::-1] if norm_cfg.get('to_rgb', True) else arr), 0, 255).astype(np.uint8)
    seg = sample.get('gt_semantic_seg')
    if isinstance(seg, torch.Tensor):
        seg = seg.cpu().numpy()
    if seg is not None:
        seg = np.asarray(seg).reshape(np.asarray(seg).shape[-2:]).astype(np.int64)
    name = meta.get('ori_filename') or meta.get('filename') or 'sample.png'
    return np.ascontiguousarray(image), seg, name


def unwrap_repeat(dataset: Any) -> Any:
    """The dataset inside a ``RepeatDataset`` (its samples are shown once), else ``dataset``."""
    return dataset.dataset if type(dataset).__name__ == 'RepeatDataset' else dataset


def browse_dataset(dataset: Any, output_dir: Optional[str], palette: Sequence[Sequence[int]], opacity: float = 0.5,
                   show: bool = False, show_interval: int = 999, limit: Optional[int] = None) -> int:
    """Paint each sample's label over its image after the pipeline; write under ``output_dir`` and/or show.

    Files are named ``<index>_<image file name>`` (pipelines may draw a sample more than once). Pixels labelled
    255 (ignored, padding) keep the image. Returns the number of samples painted.
    """
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    dataset = unwrap_repeat(dataset)
    total = len(dataset) if limit is None else min(limit, len(dataset))
    count = 0
    for idx in tqdm(range(total), desc='browse', unit='img'):
        sample = dataset[idx]
        if sample is None:
            raise DataError(f'the training pipeline returned nothing for sample {idx}')
        image, seg, name = sample_image_and_label(sample)
        painted = image if seg is None else overlay_segmentation(image, seg, colours, opacity)
        if output_dir is not None:
            out_file = osp.join(output_dir, f'{idx:06d}_{osp.basename(name)}')
            os.makedirs(output_dir, exist_ok=True)
            if not cv2.imwrite(out_file, painted):
                raise DataError(f'cannot write {out_file}')
        if show:
            show_image(osp.basename(name), painted, show_interval)
        count += 1
    return count
