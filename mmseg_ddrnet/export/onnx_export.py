"""Export a segmentor's deploy model to ONNX (``tools/pytorch2onnx.py``) and check it against PyTorch.

The exporter is ``torch.onnx.export(..., dynamo=False)``, PyTorch's TorchScript-tracing exporter: torch 2.13
defaults to the ``torch.export``-based one, which needs the extra package onnxscript; the tracing exporter needs
only onnx, covers every op of DDRNet (convolutions, BatchNorm, pooling, bilinear resizing, argmax) since opset 11,
and gives dynamic batch/height/width through ``dynamic_axes``.
"""
import io
import json
import os
import time
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.utils.norm import revert_sync_batchnorm
from ..utils import ConfigError
from ..utils.io import atomic_write, describe_os_error
from ..utils.optional import import_optional

DEFAULT_OPSET = 17
MIN_OPSET = 11  # Resize with half_pixel coordinates (align_corners=False)
INPUT_NAME, OUTPUT_NAME = 'input', 'output'
META_KEYS = ('CLASSES', 'PALETTE')


class DeployModel(nn.Module):
    """The inference graph: image ``N×3×H×W`` → logits ``N×C×H×W`` (bilinear) or, with argmax, labels
    ``N×H×W``.

    Only the backbone and the main decode head run (no auxiliary head), one pass over the whole input; in
    slide mode ``ONNXRuntimeSegmentor`` runs it on each window.
    """

    def __init__(self, segmentor: nn.Module, with_argmax: bool = False) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.with_argmax = with_argmax
        self.align_corners = bool(getattr(segmentor, 'align_corners', False))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        logits = self.segmentor.decode_logits(img)
        logits = F.interpolate(logits, size=img.shape[2:], mode='bilinear', align_corners=self.align_corners)
        return logits.argmax(dim=1) if self.with_argmax else logits


def export_onnx(segmentor: nn.Module, output_file: str, shape: Tuple[int, int], dynamic: bool = False,
                with_argmax: bool = False, opset: int = DEFAULT_OPSET, batch_size: int = 1) -> DeployModel:
    """Write the :class:`DeployModel` of ``segmentor`` (on the CPU, SyncBN as BN) to ``output_file``.

    ``shape`` (H, W) is the traced input size; ``dynamic`` makes batch, height and width free. ``CLASSES``
    and ``PALETTE`` of the segmentor go to the model's metadata. The file is written atomically (a temporary
    file beside it, then ``os.replace``): a failure leaves a previous ``output_file`` as it was, and no
    temporary file. Returns the exported module.
    """
    import_optional('onnx', 'ONNX export')
    if opset < MIN_OPSET:
        raise ConfigError(f'--opset {opset}: DDRNet needs opset >= {MIN_OPSET} (bilinear Resize)')
    segmentor = revert_sync_batchnorm(segmentor.cpu().eval())
    deploy = DeployModel(segmentor, with_argmax).eval()
    dummy = torch.randn(batch_size, 3, *shape)
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    dynamic_axes = {INPUT_NAME: axes, OUTPUT_NAME: axes if not with_argmax else {0: 'batch', 1: 'height', 2: 'width'}}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.simplefilter('ignore', DeprecationWarning)  # raised by the exporter's own internals
        try:
            torch.onnx.export(deploy, (dummy,), buffer, dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
                              dynamic_axes=dynamic_axes if dynamic else None)
        except (ValueError, RuntimeError) as err:
            if 'opset' in str(err).lower():
                raise ConfigError(f'--opset {opset}: {str(err).splitlines()[0]}') from err
            raise
    deploy.eval()  # the exporter restores the module's previous mode
    _save(_with_metadata(buffer.getvalue(), segmentor), output_file)
    return deploy


def _with_metadata(serialized: bytes, segmentor: nn.Module):
    """The checked ONNX model with ``CLASSES``/``PALETTE`` as JSON metadata properties."""
    onnx = import_optional('onnx', 'ONNX export')
    model = onnx.load_model_from_string(serialized)
    onnx.checker.check_model(model)
    for key in META_KEYS:
        value = getattr(segmentor, key, None)
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, json.dumps([list(v) if isinstance(v, (list, tuple)) else v for v in value])
    return model


def _save(model, output_file: str) -> None:
    """Write the ONNX ``model`` to ``output_file`` atomically; a failed write is one :class:`ConfigError`."""
    try:
        with atomic_write(output_file, 'wb') as f:
            f.write(model.SerializeToString())
    except OSError as err:
        raise ConfigError(f'cannot write ONNX file {output_file}: {describe_os_error(err)}') from err


def create_session(onnx_file: str, device: str = 'cpu', num_threads: Optional[int] = None):
    """An onnxruntime session on the CPU (``num_threads`` intra-op threads) or on CUDA (``device='cuda'``)."""
    ort = import_optional('onnxruntime', 'running ONNX models')
    if not os.path.isfile(onnx_file):
        raise ConfigError(f'ONNX file not found: {onnx_file}')
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
    providers = ['CPUExecutionProvider']
    if device.startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise ConfigError('device cuda: this onnxruntime has no CUDAExecutionProvider (pip install '
                              'onnxruntime-gpu), use --device cpu')
        providers.insert(0, 'CUDAExecutionProvider')
    try:
        return ort.InferenceSession(onnx_file, sess_options=options, providers=providers)
    except Exception as err:  # noqa: BLE001  onnxruntime raises its own exception types
        raise ConfigError(f'onnxruntime cannot load {onnx_file}: {str(err).splitlines()[0]}') from err


def _time_per_run(fn, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) / runs


def verify_onnx(deploy: DeployModel, onnx_file: str, shapes: Sequence[Tuple[int, int, int]],
                runs: int = 10, seed: int = 0) -> Dict[str, Dict[str, float]]:
    """Run onnxruntime and PyTorch on random ``(N, H, W)`` inputs: differences and CPU FPS.

    Returns, per ``'NxHxW'``: ``max_abs_diff`` and ``max_abs_logit`` (None with argmax),
    ``label_agreement`` (fraction of pixels with the same argmax), ``fps_onnxruntime`` and ``fps_pytorch``
    (images per second over ``runs`` timed runs after a warm-up, both with ``torch.get_num_threads()`` threads).
    """
    session = create_session(onnx_file, num_threads=torch.get_num_threads())
    generator = torch.Generator().manual_seed(seed)
    report = {}
    for n, h, w in shapes:
        img = torch.randn(n, 3, h, w, generator=generator)
        with torch.inference_mode():
            ref = deploy(img).numpy()
        out = session.run([OUTPUT_NAME], {INPUT_NAME: img.numpy()})[0]
        if out.shape != ref.shape:
            raise ConfigError(f'onnxruntime output {out.shape} differs from PyTorch {ref.shape} for input '
                              f'{(n, 3, h, w)}')
        labels, ref_labels = (out, ref) if deploy.with_argmax else (out.argmax(1), ref.argmax(1))
        with torch.inference_mode():
            t_torch = _time_per_run(lambda: deploy(img), runs)
        t_ort = _time_per_run(lambda: session.run([OUTPUT_NAME], {INPUT_NAME: img.numpy()}), runs)
        report[f'{n}x{h}x{w}'] = dict(
            max_abs_diff=None if deploy.with_argmax else float(np.abs(out - ref).max()),
            max_abs_logit=None if deploy.with_argmax else float(np.abs(ref).max()),
            label_agreement=float((labels == ref_labels).mean()),
            fps_onnxruntime=n / t_ort, fps_pytorch=n / t_torch)
    return report
