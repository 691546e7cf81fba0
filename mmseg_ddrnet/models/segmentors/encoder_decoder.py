"""``EncoderDecoder``: backbone → decode head (+ auxiliary heads in training), mmseg 0.x API."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...ops import resize_argmax
from ...registry import MODELS
from ...utils import ConfigError, DataError, warn_once
from ...utils.checks import check_dict, check_str, check_type_cfg, describe
from ..utils import ModuleList
from ..utils.fuse import fuse_conv_bn, to_deploy_convs
from .base import BaseSegmentor, meta_shape
from .test_modes import check_test_cfg, slide_logits, unflip

_TEST_KEYS = frozenset({'mode', 'crop_size', 'stride'})
_MEMORY_FORMATS = ('auto', 'channels_last', 'contiguous')


@MODELS.register_module()
class EncoderDecoder(BaseSegmentor):
    """The encoder-decoder segmentor.

    Args:
        backbone, decode_head: configs of the backbone and of the main head. A backbone with a
            ``check_heads(decode_head, auxiliary_heads)`` method is shown the built heads (``DualResNet``
            compares its official head arguments with them).
        neck: config of a neck between them (none is registered in this package).
        auxiliary_head: config (or list of configs) of heads used for training losses only.
        train_cfg: handed to each head's ``forward_train`` as in mmseg 0.x; the built-in heads read no key
            of it, so keys that no head lists in its ``train_cfg_keys`` are named in a warning and ignored.
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide', crop_size=(h, w), stride=(h, w))``; other
            keys that no head lists in its ``test_cfg_keys`` are named in a warning and ignored (as 0.x).
        pretrained: backbone weights, as mmseg 0.x (sets the backbone's ``pretrained``).
        init_cfg: mmcv initializer config(s) of the whole segmentor, applied by ``init_weights()`` before
            the backbone's and the heads' own (see :class:`~mmseg_ddrnet.models.utils.BaseModule`).
        memory_format: layout of the images fed to the backbone: ``'channels_last'`` (NHWC, whose
            convolutions oneDNN runs 1.3-1.7x faster on CPU), ``'contiguous'`` (NCHW) or ``'auto'``:
            channels_last for inference on CPU, NCHW otherwise (PyTorch's channels-last CPU
            BatchNorm backward accumulates less precisely, so training keeps NCHW unless asked).
            Results agree to float rounding.

    Test results are int64 label maps at each image's ``ori_shape`` (padding removed, flips undone).
    Images are cast to the dtype of the backbone's weights, so a model cast to bf16 or fp16 (see
    :func:`mmseg_ddrnet.models.prepare_for_inference`) runs in that precision; logits are returned
    in float32 (float64 models: float64) except on the label-map path, which reads them in their own dtype.
    """

    def __init__(self, backbone: dict, decode_head: dict, neck: Optional[dict] = None,
                 auxiliary_head: Optional[Union[dict, List[dict]]] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, pretrained: Optional[str] = None, init_cfg: Optional[dict] = None,
                 memory_format: str = 'auto'):
        super().__init__(init_cfg)
        owner = type(self).__name__
        self.memory_format = check_str(owner, 'memory_format', memory_format, _MEMORY_FORMATS)
        backbone = check_type_cfg(owner, 'backbone', backbone)
        decode_head = check_type_cfg(owner, 'decode_head', decode_head)
        check_type_cfg(owner, 'neck', neck, optional=True)
        if check_str(owner, 'pretrained', pretrained, optional=True) is not None:
            if backbone.get('pretrained') is not None:
                raise ConfigError(f'{owner}: pretrained is set both in the segmentor and in its backbone; keep one')
            backbone = dict(backbone, pretrained=pretrained)
        self.train_cfg = check_dict(owner, 'train_cfg', train_cfg, optional=True)
        test_cfg = check_dict(owner, 'test_cfg', test_cfg, optional=True)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.auxiliary_head = _build_auxiliary(auxiliary_head)
        self.test_cfg = check_test_cfg(test_cfg)
        heads = [self.decode_head] + (list(self.auxiliary_head) if isinstance(self.auxiliary_head, nn.ModuleList)
                                      else [self.auxiliary_head] if self.auxiliary_head is not None else [])
        check_heads = getattr(self.backbone, 'check_heads', None)  # e.g. DualResNet's official head arguments
        if check_heads is not None:
            check_heads(self.decode_head, heads[1:])
        _warn_unread(owner, 'train_cfg', self.train_cfg, frozenset(), heads)
        _warn_unread(owner, 'test_cfg', self.test_cfg, _TEST_KEYS, heads)
        self.fused = False

    def fuse(self) -> 'EncoderDecoder':
        """The deploy model, in place: eval mode, every BatchNorm folded into the conv it follows
        (backbone, neck, decode head), the auxiliary head dropped, every conv a
        :class:`~mmseg_ddrnet.models.utils.fuse.DeployConv2d` (on CPU: one oneDNN call with a following ReLU
        as a post-op and the weight reordered once per input shape). Returns ``self``.

        The logits equal the unfused eval-mode model's up to float rounding. A fused model is for
        inference only: ``train()`` refuses it.
        """
        self.eval()
        for part in (self.backbone, self.neck, self.decode_head):
            if part is not None:
                fuse_conv_bn(part)
                to_deploy_convs(part)
        self.auxiliary_head = None
        self.fused = True
        return self

    def train(self, mode: bool = True) -> 'EncoderDecoder':
        """Set train/eval mode; a fused model (:meth:`fuse`) cannot train."""
        if mode and getattr(self, 'fused', False):
            raise ConfigError('this model was fused for deployment (BatchNorm folded, auxiliary head dropped) '
                              'and cannot be trained; build it again from the config to train')
        return super().train(mode)

    # ------------------------------------------------------------------------------ training
    def extract_feat(self, img: torch.Tensor) -> Sequence[torch.Tensor]:
        """The backbone's (and neck's) features."""
        dtype = _weight_dtype(self.backbone)
        if not img.is_floating_point() or dtype is None:
            dtype = img.dtype
        img = img.to(dtype)  # the cast first: a converting copy that also changes the layout is 2x slower
        if self._channels_last(img):
            img = img.contiguous(memory_format=torch.channels_last)
        x = self.backbone(img)
        return self.neck(x) if self.with_neck else x

    def _channels_last(self, img: torch.Tensor) -> bool:
        if self.memory_format == 'auto':
            return img.device.type == 'cpu' and not self.training
        return self.memory_format == 'channels_last'

    def forward_train(self, img: torch.Tensor, img_metas: List[dict], gt_semantic_seg: torch.Tensor,
                      **kwargs) -> Dict[str, torch.Tensor]:
        """``{'decode.loss_ce': ..., 'decode.acc_seg': ..., 'aux.loss_ce': ..., ...}``."""
        if kwargs:
            raise DataError(f'forward_train: unexpected batch keys {sorted(kwargs)}')
        x = self.extract_feat(img)
        losses = _prefixed(self.decode_head.forward_train(x, img_metas, gt_semantic_seg, self.train_cfg), 'decode')
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                losses.update(_prefixed(head.forward_train(x, img_metas, gt_semantic_seg, self.train_cfg), f'aux_{i}'))
        elif self.auxiliary_head is not None:
            losses.update(_prefixed(self.auxiliary_head.forward_train(x, img_metas, gt_semantic_seg,
                                                                      self.train_cfg), 'aux'))
        return losses

    # ------------------------------------------------------------------------------- logits
    def decode_logits(self, img: torch.Tensor, img_metas: Optional[List[dict]] = None) -> torch.Tensor:
        """The decode head's low-resolution logits (1/8 of the input for DDRNet), in the model's dtype."""
        return self.decode_head.forward_test(self.extract_feat(img), img_metas, self.test_cfg)

    def predict_labels(self, img: torch.Tensor) -> torch.Tensor:
        """int64 N×H×W label maps at the input size, from the whole image (the deploy path).

        :meth:`decode_logits`, then ``ops.resize_argmax`` (bilinear to the input size and argmax in
        one pass, never materialising the full-size logits). No metas: no padding, flip or rescale.
        """
        return resize_argmax(self.decode_logits(img), tuple(img.shape[2:]), self.align_corners)

    def encode_decode(self, img: torch.Tensor, img_metas: Optional[List[dict]]) -> torch.Tensor:
        """Logits resized to the input's size, float32 when the model runs in bf16/fp16."""
        return self._resize(_at_least_float32(self.decode_logits(img, img_metas)), img.shape[2:])

    def forward_dummy(self, img: torch.Tensor) -> torch.Tensor:
        """Logits at the input size (FLOP counting, export, parity checks)."""
        return self.encode_decode(img, None)

    def whole_inference(self, img: torch.Tensor, img_meta: List[dict], rescale: bool) -> torch.Tensor:
        """Logits of the whole image; with ``rescale`` at ``ori_shape`` without the padding."""
        seg_logit = self.encode_decode(img, img_meta)
        return self._unpad_and_rescale(seg_logit, img_meta[0]) if rescale else seg_logit

    def slide_inference(self, img: torch.Tensor, img_meta: List[dict], rescale: bool) -> torch.Tensor:
        """Logits averaged over overlapping ``crop_size`` windows moved by ``stride``."""
        preds = slide_logits(img, lambda crop: self.encode_decode(crop, img_meta), self.test_cfg['crop_size'],
                             self.test_cfg['stride'])
        return self._unpad_and_rescale(preds, img_meta[0]) if rescale else preds

    def inference(self, img: torch.Tensor, img_meta: List[dict], rescale: bool = True) -> torch.Tensor:
        """Class probabilities (softmax), flips undone; at ``ori_shape`` with ``rescale``.

        The images of the batch must share their shapes (``img_meta[0]`` is used for all).
        """
        _check_batch_shapes(img_meta)
        if self.test_cfg['mode'] == 'slide':
            seg_logit = self.slide_inference(img, img_meta, rescale)
        else:
            seg_logit = self.whole_inference(img, img_meta, rescale)
        return unflip(F.softmax(seg_logit, dim=1), img_meta[0])

    # ----------------------------------------------------------------------------- testing
    def simple_test(self, img: torch.Tensor, img_meta: List[dict], rescale: bool = True) -> List[np.ndarray]:
        """One int64 label map per image (at ``ori_shape`` with ``rescale``, else at the input size), flips undone.

        The labels are those of mmseg 0.x's ``simple_test`` (see :meth:`label_map` for the order of resizes),
        without materialising the full-size logits or probabilities where 0.x's order does not need them.
        """
        if self.test_cfg['mode'] == 'slide':
            logits = self.slide_inference(img, img_meta, rescale=False)  # at the input size, as 0.x
        else:
            logits = self.decode_logits(img, img_meta)
        return [self.label_map(logits[i:i + 1], img.shape[2:], meta, rescale)[0].cpu().numpy()
                for i, meta in enumerate(img_meta)]

    def aug_test(self, imgs: List[torch.Tensor], img_metas: List[List[dict]], rescale: bool = True
                 ) -> List[np.ndarray]:
        """Label maps from the probabilities averaged over the augmentations (scales, flips), as mmseg 0.x:
        the sum of the :meth:`inference` outputs divided by the number of augmentations, then argmax."""
        if not rescale:
            raise ConfigError('aug_test needs rescale=True: the augmentations have different sizes')
        probs = self.inference(imgs[0], img_metas[0], rescale=True)
        for img, metas in zip(imgs[1:], img_metas[1:]):
            probs += self.inference(img, metas, rescale=True)
        probs /= len(imgs)
        return list(probs.argmax(dim=1).cpu().numpy())

    def label_map(self, logits: torch.Tensor, input_size: Sequence[int], meta: dict, rescale: bool = True
                  ) -> torch.Tensor:
        """One image's int64 1×H×W label map (flip undone) from its 1×C×h×w logits (the head's, or already at
        the input size ``input_size``), in 0.x's order.

        mmseg 0.x resizes the logits to the input size, crops the padding (``img_shape``) and resizes the rest to
        ``ori_shape``. Here the last resize is fused with the argmax (``ops.resize_argmax``); when there is
        nothing to crop or rescale (``rescale=False``, or input size = ``img_shape`` = ``ori_shape``) the only
        resize, to the input size, is the fused one, so no full-size logits are stored.
        """
        input_size = tuple(input_size)
        target = meta_shape(meta, 'ori_shape') if rescale else input_size
        crop = meta_shape(meta, 'img_shape') if rescale else input_size
        if crop != input_size or target != input_size:  # two resizes, as 0.x: the first one is materialised
            logits = self._resize(_at_least_float32(logits), input_size)[:, :, :crop[0], :crop[1]]
        label = resize_argmax(logits, target, self.align_corners)
        return unflip(label[:, None], meta)[:, 0]

    def _unpad_and_rescale(self, seg_logit: torch.Tensor, meta: dict) -> torch.Tensor:
        img_h, img_w = meta_shape(meta, 'img_shape')
        return self._resize(seg_logit[:, :, :img_h, :img_w], meta_shape(meta, 'ori_shape'))

    def _resize(self, x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        if tuple(x.shape[2:]) == tuple(size):
            return x
        return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=self.align_corners)


def _weight_dtype(module: nn.Module) -> Optional[torch.dtype]:
    """The dtype of ``module``'s first floating-point parameter (None without one)."""
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return None


def _build_auxiliary(cfg: Optional[Union[dict, List[dict]]]) -> Optional[nn.Module]:
    if cfg is None:
        return None
    if isinstance(cfg, dict) and 'type' in cfg:
        return MODELS.build(cfg)
    if isinstance(cfg, (list, tuple)) and all(isinstance(c, dict) and 'type' in c for c in cfg):
        return ModuleList(MODELS.build(c) for c in cfg)
    raise ConfigError(f'EncoderDecoder: auxiliary_head must be a head config (a dict with a "type" key), a list '
                      f'of them or None, got {describe(cfg)}')


def _warn_unread(owner: str, key: str, cfg: Optional[dict], own_keys: frozenset, heads: List[nn.Module]) -> None:
    """Name (once) the keys of ``cfg`` that neither the segmentor nor any head reads; they are ignored."""
    read = set(own_keys).union(*(getattr(head, f'{key}_keys', ()) for head in heads))
    unread = sorted(set(cfg or {}) - read)
    if unread:
        names = ', '.join(type(head).__name__ for head in heads)
        warn_once(f'{owner}: {key} key(s) {unread} are read by neither the segmentor nor its heads ({names}) '
                  'and are ignored, as in mmseg 0.x')





def _check_batch_shapes(img_meta: List[dict]) -> None:
    shapes = {(meta_shape(m, 'ori_shape'), meta_shape(m, 'img_shape')) for m in img_meta}
    if len(shapes) > 1:
        raise DataError(f'the images of a test batch must share ori_shape and img_shape, got {sorted(shapes)}')


def _prefixed(losses: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {f'{prefix}.{name}': value for name, value in losses.items()}


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 logits as float32 (resizing and averaging want the precision); float32/float64 as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
