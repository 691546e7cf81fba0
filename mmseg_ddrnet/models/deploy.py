"""Preparing a segmentor for deployment: fusion, precision, memory format, compilation."""
import warnings
from typing import Optional, Union

import torch
import torch.nn as nn

from ..utils import ConfigError
from ..utils.cpu_memory import retain_freed_memory
from ..utils.device import model_device, select_device

#: ``--precision`` names and their dtypes.
PRECISIONS = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}
MEMORY_FORMATS = ('channels_last', 'contiguous')


def prepare_for_inference(model: nn.Module, precision: str = 'fp32', fuse_conv_bn: bool = False,
                          memory_format: str = 'channels_last', compile: bool = False,
                          device: Optional[Union[str, torch.device]] = None,
                          retain_memory: bool = True) -> nn.Module:
    """``model`` (an ``EncoderDecoder``) made ready for inference, in place; returns it.

    Args:
        precision: ``'fp32'``; ``'bf16'`` (CPU, uses AVX512-BF16/AMX where the CPU has them; also
            CUDA) or ``'fp16'`` (CUDA only). The weights and buffers are cast to that dtype (after
            folding, so the folded weights are computed in float64); the images are cast on the way
            in, so every layer (convs, pooling, upsampling, the head) runs in that precision. The
            label map is computed from the low-precision logits by ``ops.resize_argmax``, which
            interpolates them in float32; logits returned by ``encode_decode`` are float32.
        fuse_conv_bn: fold every BatchNorm into the conv it follows and drop the auxiliary head
            (``model.fuse()``).
        memory_format: ``'channels_last'`` (NHWC weights and images; what oneDNN and cuDNN's
            tensor cores prefer) or ``'contiguous'`` (NCHW).
        compile: ``torch.compile`` the backbone and the decode head in place (the first call
            compiles; state-dict keys are unchanged). Inductor's ``freezing`` is turned on (weights
            are constants: prepacked, conv+bias+ReLU fused).
        device: move the model there first (default: where it is).
        retain_memory: on CPU, make the process keep freed memory for reuse
            (:func:`mmseg_ddrnet.utils.cpu_memory.retain_freed_memory`, glibc only): without it every
            image's activations are fresh pages that the kernel faults and zeroes (~20 % of a 2-core fp32
            forward at 1024×2048). Process-wide; the process keeps its peak heap.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f'precision must be one of {sorted(PRECISIONS)}, got {precision!r}')
    if memory_format not in MEMORY_FORMATS:
        raise ConfigError(f'memory_format must be one of {MEMORY_FORMATS}, got {memory_format!r}')
    if device is not None:
        model.to(select_device(device))
    placed = model_device(model)
    if precision == 'fp16' and placed.type != 'cuda':
        raise ConfigError('precision fp16 is for CUDA; on CPU use bf16 (or fp32)')
    if retain_memory and placed.type == 'cpu':
        retain_freed_memory()
    model.eval()
    if fuse_conv_bn:
        model.fuse()
    model.to(PRECISIONS[precision])
    model.to(memory_format=getattr(torch, memory_format) if memory_format == 'channels_last'
             else torch.contiguous_format)
    if hasattr(model, 'memory_format'):
        model.memory_format = memory_format
    if compile:
        _compile(model)
    return model


def _compile(model: nn.Module) -> None:
    if not hasattr(torch, 'compile'):
        raise ConfigError(f'compile needs torch.compile (torch >= 2.0), this is torch {torch.__version__}')
    import torch._inductor.config as inductor_config
    inductor_config.freezing = True
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for name in ('backbone', 'neck', 'decode_head'):
            part = getattr(model, name, None)
            if part is not None:
                part.compile(dynamic=False)
