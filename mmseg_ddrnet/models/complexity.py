"""Parameters and FLOPs of a segmentor (``tools/get_flops.py``), counted by ``torch.utils.flop_counter``.

What is counted: ``FlopCounterMode`` counts the matrix products of a forward pass, here the
convolutions of the backbone and the decode head (the auxiliary head does not run at inference),
at **2 FLOPs per multiply-accumulate** (MAC); biases, BatchNorm, ReLU, additions, pooling,
upsampling, resize and argmax are not counted. Papers (and mmcv's ``get_model_complexity_info``,
used by mmseg 0.x's ``get_flops.py``) report multiply-accumulates under the name "FLOPs": compare
their figure with ``gmacs`` here. DDRNet-23-slim at 1024x2048 has 36.3 "GFLOPs" in the paper,
i.e. ~36 GMACs = ~72 GFLOPs.
"""
import copy
from collections import defaultdict
from typing import Dict, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

#: The paper's "GFLOPs" (multiply-accumulates) and parameters (M) at 1024x2048 (Hong et al., 2021, Cityscapes table).
PAPER_1024x2048 = {'DDRNet-23-slim': (36.3, 5.7), 'DDRNet-23': (143.1, 20.1), 'DDRNet-39': (281.2, 32.3)}


def count_parameters(module: nn.Module) -> int:
    """The number of parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters())


def count_flops(model: nn.Module, shape: Sequence[int], in_channels: int = 3) -> Dict[str, object]:
    """FLOPs of one ``1×C×H×W`` inference of ``model`` (an ``EncoderDecoder`` in eval mode).

    Returns ``flops`` (``FlopCounterMode``'s total: 2 per MAC, see the module docstring), ``gmacs``,
    ``gflops``, ``by_module`` (the conv FLOPs of each top-level part of the backbone and of the
    decode head; they add up to ``flops``) and the parameters: ``params`` (all, auxiliary head
    included) and ``params_inference`` (backbone, neck and decode head: the deploy model).
    """
    params, params_inference = count_parameters(model), _inference_params(model)
    model = copy.deepcopy(model).to('meta').eval()  # shapes only: no memory, no compute
    img = torch.zeros(1, in_channels, *shape, device='meta')
    by_module: Dict[str, int] = defaultdict(int)
    hooks = [conv.register_forward_hook(_conv_flops_hook(by_module, _group(name)))
             for name, conv in model.named_modules() if isinstance(conv, nn.Conv2d)]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model.decode_logits(img)
    finally:
        for hook in hooks:
            hook.remove()
    flops = counter.get_total_flops()
    return dict(shape=list(shape), flops=flops, gflops=flops / 1e9, gmacs=flops / 2e9, by_module=dict(by_module),
                params=params, params_inference=params_inference)


def _inference_params(model: nn.Module) -> int:
    parts = (model.backbone, getattr(model, 'neck', None), model.decode_head)
    return sum(count_parameters(m) for m in parts if m is not None)


def _group(name: str) -> str:
    """``backbone.stem.2.0.conv1.conv`` -> ``backbone.stem``; ``decode_head.head.0.conv`` -> ``decode_head``."""
    parts = name.split('.')
    return '.'.join(parts[:2]) if parts[0] == 'backbone' else parts[0]


def _conv_flops_hook(by_module: Dict[str, int], group: str):
    def hook(conv: nn.Conv2d, inputs, output: torch.Tensor) -> None:
        macs = output.numel() * conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        by_module[group] += 2 * macs
    return hook
