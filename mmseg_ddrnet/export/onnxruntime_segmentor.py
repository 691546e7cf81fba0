"""``ONNXRuntimeSegmentor``: an exported model behind the segmentor test API, for the test loops (deploy_test)."""
import json
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..models.segmentors.base import BaseSegmentor, meta_shape
from ..models.segmentors.test_modes import check_test_cfg, slide_logits, unflip
from ..utils import ConfigError, DataError
from .onnx_export import META_KEYS, create_session


class ONNXRuntimeSegmentor(BaseSegmentor):
    """Runs an ONNX file of :func:`export_onnx` (logits at the input size, or labels with argmax) in onnxruntime.

    ``simple_test``/``aug_test`` return what ``EncoderDecoder``'s do (int64 label maps at ``ori_shape``, padding
    cropped, flips undone), so ``single_gpu_test`` and ``dataset.evaluate`` work unchanged. Logits are resized
    bilinearly (``align_corners``) and argmaxed here; label outputs are resized with nearest neighbours.
    ``CLASSES``/``PALETTE`` come from the file's metadata when it has them.

    ``test_cfg`` is the model's (``dict(mode='whole')`` by default). In ``'slide'`` mode the file runs once per
    window, with ``EncoderDecoder``'s sliding-window code: a file exported with a fixed shape must have been
    exported for ``crop_size``; a window smaller than the crop (only where the image itself is smaller) is
    zero-padded to the crop's size at the bottom and right, and its logits cropped back.
    """

    def __init__(self, onnx_file: str, align_corners: bool = False, device: str = 'cpu',
                 num_threads: Optional[int] = None, test_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.session = create_session(onnx_file, device, num_threads)
        self.onnx_file = onnx_file
        self.align_corners = align_corners
        (inp,) = self.session.get_inputs()
        (out,) = self.session.get_outputs()
        self.input_name, self.output_name = inp.name, out.name
        self.input_shape = list(inp.shape)  # ints where static, names where dynamic
        self.outputs_labels = 'int' in out.type
        self.test_cfg = check_test_cfg(test_cfg)
        if self.test_cfg['mode'] == 'slide':
            self._check_slide()
        meta = self.session.get_modelmeta().custom_metadata_map
        for key in META_KEYS:
            if key in meta:
                setattr(self, key, json.loads(meta[key]))

    def _check_slide(self) -> None:
        """A slide-mode test_cfg needs logits, and a fixed input size equal to ``crop_size``."""
        crop = tuple(self.test_cfg['crop_size'])
        if self.outputs_labels:
            raise ConfigError(f"{self.onnx_file} outputs label maps (--with-argmax): test_cfg mode='slide' "
                              'averages logits; export without --with-argmax')
        static = tuple(d if isinstance(d, int) else None for d in self.input_shape[2:])
        if static != (None, None) and static != crop:
            want = 'x'.join(str(d) for d in self.input_shape)
            raise ConfigError(f"{self.onnx_file} was exported for inputs {want}, which cannot serve test_cfg "
                              f"mode='slide' with crop_size {crop}: export it with --shape {crop[0]} {crop[1]} "
                              'or --dynamic-export (or set model.test_cfg.mode=whole)')

    def forward_train(self, img, img_metas, gt_semantic_seg, **kwargs):
        raise ConfigError(f'{self.onnx_file} is an exported model: it cannot be trained')

    # ------------------------------------------------------------------------------- running
    def run(self, img: torch.Tensor) -> torch.Tensor:
        """The raw output for a ``N×3×H×W`` batch (one run per image when the file's batch size is fixed)."""
        self._check_input(img)
        if self.input_shape[0] == 1 and img.shape[0] > 1:
            return torch.cat([self.run(img[i:i + 1]) for i in range(img.shape[0])])
        array = np.ascontiguousarray(img.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run([self.output_name], {self.input_name: array})[0])

    def _check_input(self, img: torch.Tensor) -> None:
        static = [(i, d) for i, d in enumerate(self.input_shape) if isinstance(d, int) and i > 0]
        wrong = [(i, d) for i, d in static if img.shape[i] != d]
        if wrong:
            want = 'x'.join(str(d) for d in self.input_shape)
            raise DataError(f'{self.onnx_file} was exported for inputs {want}, got {tuple(img.shape)}: export it '
                            'with --dynamic-export, or with --shape matching the test pipeline\'s image size')

    def _crop_logits(self, crop: torch.Tensor) -> torch.Tensor:
        """Logits of one window; padded to a fixed input size when the file has one, the padding cropped."""
        h, w = crop.shape[2:]
        size = [d if isinstance(d, int) else s for d, s in zip(self.input_shape[2:], (h, w))]
        if [h, w] != size:
            crop = F.pad(crop, (0, size[1] - w, 0, size[0] - h))
        return self.run(crop)[:, :, :h, :w]

    def seg_logits(self, img: torch.Tensor) -> torch.Tensor:
        """The output at the input's size in the ``test_cfg`` mode: ``'whole'``, one run (logits, or labels
        with argmax); ``'slide'``, logits averaged over the windows as ``EncoderDecoder.slide_inference``."""
        if self.test_cfg['mode'] == 'slide':
            return slide_logits(img, self._crop_logits, self.test_cfg['crop_size'], self.test_cfg['stride'])
        return self.run(img)

    def _outputs_at(self, img: torch.Tensor, metas: List[dict], rescale: bool) -> torch.Tensor:
        """Logits ``N×C×h×w`` (or labels ``N×1×h×w``) cropped to ``img_shape``; with rescale at ``ori_shape``."""
        out = self.seg_logits(img)
        out = out[:, None] if self.outputs_labels else out
        img_h, img_w = meta_shape(metas[0], 'img_shape')
        out = out[:, :, :img_h, :img_w]
        if rescale:
            size = meta_shape(metas[0], 'ori_shape')
            if tuple(out.shape[2:]) != size:
                out = F.interpolate(out.float(), size=size, mode='nearest') if self.outputs_labels else \
                    F.interpolate(out, size=size, mode='bilinear', align_corners=self.align_corners)
        return unflip(out, metas[0])

    # ------------------------------------------------------------------------------- testing
    def simple_test(self, img: torch.Tensor, img_meta: List[dict], rescale: bool = True) -> List[np.ndarray]:
        """One int64 label map per image."""
        _check_same_meta(img_meta)
        out = self._outputs_at(img, img_meta, rescale)
        labels = out[:, 0].long() if self.outputs_labels else out.argmax(dim=1)
        return list(labels.numpy())

    def aug_test(self, imgs: List[torch.Tensor], img_metas: List[List[dict]], rescale: bool = True
                 ) -> List[np.ndarray]:
        """Label maps from the softmax probabilities averaged over the augmentations (their sum divided by their
        number, as mmseg 0.x; needs logits)."""
        if self.outputs_labels:
            raise ConfigError(f'{self.onnx_file} outputs label maps (--with-argmax): test-time augmentation '
                              'needs an export with logits')
        if not rescale:
            raise ConfigError('aug_test needs rescale=True: the augmentations have different sizes')
        probs = None
        for img, metas in zip(imgs, img_metas):
            _check_same_meta(metas)
            p = F.softmax(self._outputs_at(img, metas, True), dim=1)
            probs = p if probs is None else probs + p
        return list((probs / len(imgs)).argmax(dim=1).numpy())


def _check_same_meta(metas: List[dict]) -> None:
    shapes = {(meta_shape(m, 'ori_shape'), meta_shape(m, 'img_shape'), bool(m.get('flip'))) for m in metas}
    if len(shapes) > 1:
        raise DataError(f'the images of a test batch must share ori_shape, img_shape and flip, got {sorted(shapes)}')
