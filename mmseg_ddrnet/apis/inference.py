"""High-level inference: build a segmentor from a config and a checkpoint, segment images, paint the result.

As mmsegmentation 0.x's ``mmseg.apis.inference``::

    model = init_segmentor('configs/ddrnet/ddrnet_23_slim_512x1024_160k_cityscapes.py', 'latest.pth')
    label_map = inference_segmentor(model, 'demo.png')[0]
    show_result(model, 'demo.png', label_map, out_file='demo_seg.png')
"""
import os
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config import Config
from ..datasets import collate
from ..datasets.pipelines import Compose
from ..checkpoint import load_checkpoint
from ..models import build_segmentor
from ..registry import DATASETS
from ..utils import ConfigError, print_log
from ..utils.device import available_device, model_device, select_device, to_device
from ..visualization import as_bgr_image, paint_result

ImageLike = Union[str, os.PathLike, np.ndarray]
_PROGRESS_MIN_IMAGES = 8  # show a progress bar for longer lists
DEFAULT_BATCH_SIZE = 8


def _as_config(config: Union[str, os.PathLike, Config]) -> Config:
    if isinstance(config, (str, os.PathLike)):
        return Config.fromfile(os.fspath(config))
    if isinstance(config, Config):
        return config
    raise ConfigError(f'config must be a file path or a Config, got {type(config).__name__}')


def _test_dataset_class(config: Config) -> Optional[type]:
    test_data = config.get('data', {}).get('test')
    return DATASETS.get(test_data.get('type', '')) if isinstance(test_data, dict) else None


def build_segmentor_from_checkpoint(config: Config, checkpoint: Optional[Union[str, os.PathLike]],
                                    dataset: Any = None, verbose: bool = False, unsafe_load: bool = False) -> nn.Module:
    """The segmentor of ``config.model`` (with ``test_cfg``) holding ``checkpoint``'s weights, on the CPU.

    ``model.CLASSES``/``model.PALETTE`` come from the checkpoint's meta, else from ``dataset`` (a dataset or a
    dataset class); ``verbose`` logs that fallback. Shared by :func:`init_segmentor` and ``tools/test.py``.
    ``unsafe_load``: unpickle the checkpoint in full (``--unsafe-load``), not with ``weights_only=True``.
    """
    model = build_segmentor(config.model, test_cfg=config.get('test_cfg'))
    meta = {}
    if checkpoint is not None:
        meta = load_checkpoint(model, checkpoint, map_location='cpu', unsafe=unsafe_load).get('meta') or {}
    for key in ('CLASSES', 'PALETTE'):
        if key not in meta and verbose:
            print_log(f'"{key}" not found in the checkpoint meta, using dataset.{key} instead')
        setattr(model, key, meta[key] if key in meta else getattr(dataset, key, None))
    return model


def init_segmentor(config: Union[str, os.PathLike, Config], checkpoint: Optional[Union[str, os.PathLike]] = None,
                   device: Union[str, torch.device] = 'cpu', cfg_options: Optional[dict] = None,
                   unsafe_load: bool = False) -> nn.Module:
    """Build the segmentor of ``config``, load ``checkpoint`` and return it in eval mode on ``device``.

    The checkpoint is read with ``torch.load(weights_only=True)``; ``unsafe_load=True`` unpickles it in full
    (only for a trusted legacy file: it can run code).

    As mmseg 0.x: ``model.pretrained`` and ``model.train_cfg`` are cleared (no backbone weights are
    loaded besides the checkpoint), ``model.CLASSES``/``model.PALETTE`` come from the checkpoint's meta
    (else from the test dataset's class) and ``model.cfg`` is the config used.
    """
    config = _as_config(config)
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise ConfigError(f'config {config.filename or ""} has no "model"')
    config.model.pretrained = None
    config.model.train_cfg = None
    device = select_device(device)
    model = build_segmentor_from_checkpoint(config, checkpoint, _test_dataset_class(config), unsafe_load=unsafe_load)
    model.cfg = config
    return model.to(device).eval()


class LoadImage:
    """The first step of an inference pipeline: ``results['img']`` is an image path or a BGR array.

    Sets the same keys as ``LoadImageFromFile`` (``filename``, ``ori_filename``, ``img``, ``img_shape``,
    ``ori_shape``, ``pad_shape``, ``scale_factor``, ``img_norm_cfg``); arrays get ``filename=None``.
    """

    def __call__(self, results: dict) -> dict:
        filename = os.fspath(results['img']) if isinstance(results['img'], (str, os.PathLike)) else None
        img = as_bgr_image(results['img'])
        results.update(
            filename=filename, ori_filename=filename, img=img, img_shape=img.shape, ori_shape=img.shape,
            pad_shape=img.shape, scale_factor=1.0,
            img_norm_cfg=dict(mean=np.zeros(3, np.float32), std=np.ones(3, np.float32), to_rgb=False))
        return results


def build_inference_pipeline(config: Config) -> Compose:
    """The config's test pipeline with its ``LoadImageFromFile`` replaced by :class:`LoadImage`."""
    try:
        steps = list(config.data.test.pipeline)
    except (AttributeError, KeyError, TypeError) as err:
        raise ConfigError('the config has no data.test.pipeline to prepare images for inference') from err
    if not steps or steps[0].get('type') != 'LoadImageFromFile':
        first = steps[0].get('type') if steps else 'nothing'
        raise ConfigError(f'data.test.pipeline must start with LoadImageFromFile for inference, starts with {first}')
    return Compose([LoadImage()] + steps[1:])


def inference_segmentor(model: nn.Module, imgs: Union[ImageLike, Sequence[ImageLike]],
                        batch_size: int = DEFAULT_BATCH_SIZE) -> List[np.ndarray]:
    """Segment an image (a path or an HxWx3 BGR uint8 array) or a list of them.

    Each image goes through the test pipeline of ``model.cfg`` (set by :func:`init_segmentor`); a list runs
    as batches of up to ``batch_size`` consecutive images of the same size (video frames: whole batches).
    Returns one int64 label map per image, at the image's original size, in the order given.
    """
    config = getattr(model, 'cfg', None)
    if not isinstance(config, Config):
        raise ConfigError('the model has no .cfg; build it with init_segmentor(config, checkpoint)')
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f'batch_size must be a positive int, got {batch_size!r}')
    pipeline = build_inference_pipeline(config)
    images = list(imgs) if isinstance(imgs, (list, tuple)) else [imgs]
    device = model_device(model)
    results: List[np.ndarray] = []
    batch: List[dict] = []
    for img in tqdm(images, desc='inference', unit='img', disable=len(images) < _PROGRESS_MIN_IMAGES):
        sample = pipeline({'img': img})
        if batch and (len(batch) == batch_size or _batch_key(sample) != _batch_key(batch[0])):
            results.extend(_run_batch(model, batch, device))
            batch = []
        batch.append(sample)
    if batch:
        results.extend(_run_batch(model, batch, device))
    return results


def _batch_key(sample: dict) -> tuple:
    """What images of one batch must share: the tensor shapes and original size of every augmentation."""
    imgs = sample['img'] if isinstance(sample['img'], list) else [sample['img']]
    metas = sample['img_metas'] if isinstance(sample['img_metas'], list) else [sample['img_metas']]
    return tuple((tuple(t.shape), tuple(m['ori_shape']), tuple(m['img_shape'])) for t, m in zip(imgs, metas))


def _run_batch(model: nn.Module, batch: List[dict], device: torch.device) -> List[np.ndarray]:
    data = to_device(collate(batch), device)
    with torch.no_grad():
        return list(model(return_loss=False, rescale=True, **data))


def show_result(model: nn.Module, img: ImageLike, result: Union[np.ndarray, Sequence[np.ndarray]],
                palette: Optional[Sequence[Sequence[int]]] = None, opacity: float = 0.5,
                out_file: Optional[Union[str, os.PathLike]] = None) -> np.ndarray:
    """``img`` with the label map ``result`` painted over it; written to ``out_file`` if given.

    ``palette`` (RGB per class) defaults to ``model.PALETTE``, else a fixed random one; ``opacity`` is the
    weight of the colours. Returns the painted BGR ``uint8`` image.
    """
    return paint_result(model, img, result, palette=palette, opacity=opacity, out_file=out_file)


def show_result_pyplot(model: nn.Module, img: ImageLike, result: Union[np.ndarray, Sequence[np.ndarray]],
                       palette: Optional[Sequence[Sequence[int]]] = None, fig_size: Tuple[int, int] = (15, 10),
                       opacity: float = 0.5, title: str = '', block: bool = True,
                       out_file: Optional[Union[str, os.PathLike]] = None) -> np.ndarray:
    """:func:`show_result`, then display the painting with matplotlib (mmseg 0.x's signature)."""
    painted = show_result(model, img, result, palette=palette, opacity=opacity, out_file=out_file)
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ConfigError('show_result_pyplot needs matplotlib (pip install matplotlib); '
                          'show_result(..., out_file=...) writes the image without it') from err
    plt.figure(figsize=fig_size)
    plt.imshow(painted[..., ::-1])
    plt.title(title)
    plt.axis('off')
    plt.tight_layout()
    plt.show(block=block)
    return painted


__all__: List[Any] = ['available_device', 'init_segmentor', 'build_segmentor_from_checkpoint', 'inference_segmentor',
                      'show_result', 'show_result_pyplot', 'LoadImage',
                      'build_inference_pipeline']
