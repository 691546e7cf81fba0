"""Inference speed: the timing protocol shared by ``tools/benchmark.py`` and ``benchmarks/inference.py``.

What is timed, per image (batch 1), after ``warmup`` untimed images:

- **net**: ``EncoderDecoder.decode_logits(img)``: the cast of the image to the model's dtype and
  memory format, the backbone and the decode head, up to the 1/8-resolution logits;
- **full**: net, then ``EncoderDecoder.label_map``: the int64 label map at the original size, as
  ``tools/test.py`` makes it (mmseg 0.x's order of resizes). When the image keeps its original size
  (Cityscapes at 1024×2048, ``--shape``) that is one ``ops.resize_argmax`` of the logits (bilinear
  resize fused with the argmax over classes); when the test pipeline rescaled or padded it, the
  logits are first resized to the input size and cropped, as 0.x does.

Not timed: reading and decoding the image, the test pipeline (resize, normalise, to tensor), copying
the label map to the host. On CUDA the device is synchronised before every clock reading.
"""
import os
import platform
import statistics
import time
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..datasets import build_dataset, collate
from ..models import PRECISIONS, prepare_for_inference
from ..utils import ConfigError, DataError
from ..utils.cpu_memory import minor_page_faults, retains_freed_memory
from ..utils.device import model_device, select_device
from .inference import init_segmentor

TIMED = ('net = decode_logits (image cast to the model dtype/layout, backbone, decode head, to the 1/8 logits); '
         'full = net + the int64 label map at the original size as tools/test.py makes it (ops.resize_argmax: '
         'bilinear resize fused with the argmax; a resize to the input size first where the pipeline rescaled); '
         'batch 1; not timed: '
         'image reading, test pipeline, copying the label map to the host; CUDA synchronised before each clock read')

Sample = Tuple[torch.Tensor, dict]  # (1x3xHxW image, its img_meta: ori_shape, img_shape, flip)


def environment(device: Union[str, torch.device]) -> Dict[str, object]:
    """What a speed figure depends on: device, CPU model and ISA, threads, library versions."""
    device = select_device(device)
    info: Dict[str, object] = dict(device=str(device), threads=torch.get_num_threads(), torch=torch.__version__,
                                   cpu=cpu_model(), cpu_capability=torch.backends.cpu.get_cpu_capability(),
                                   amx=cpu_has('amx_bf16'), avx512_bf16=cpu_has('avx512_bf16'))
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cuda'] = torch.version.cuda
    return info


def _cpuinfo() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            return f.read()
    except OSError:
        return ''


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    for line in _cpuinfo().splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def cpu_has(flag: str) -> bool:
    """Whether ``/proc/cpuinfo`` lists ``flag`` (e.g. ``amx_bf16``, ``avx512_bf16``)."""
    for line in _cpuinfo().splitlines():
        if line.startswith('flags'):
            return flag in line.split(':', 1)[1].split()
    return False


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing to do on CPU."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def random_samples(shape: Sequence[int], count: int = 4, seed: int = 0) -> Iterator[Sample]:
    """``count`` random normalised 1×3×H×W images, cycled forever; the label map has the input size."""
    gen = torch.Generator().manual_seed(seed)
    imgs = [torch.randn(1, 3, *shape, generator=gen) for _ in range(count)]
    size = (int(shape[0]), int(shape[1]), 3)
    while True:
        for img in imgs:
            yield img, dict(ori_shape=size, img_shape=size, pad_shape=size, flip=False)


def dataset_samples(config: Config, num_images: int) -> Iterator[Sample]:
    """The first ``num_images`` images of ``config.data.test`` after its test pipeline (first augmentation).

    The label map has the image's original size (``ori_shape``), as ``tools/test.py`` produces it.
    """
    try:
        dataset = build_dataset(config.data.test)
    except (AttributeError, KeyError) as err:
        raise ConfigError('the config has no data.test to benchmark on; use --shape H W for random inputs') from err
    if len(dataset) == 0:
        raise DataError('the test dataset is empty; use --shape H W for random inputs')
    for i in range(min(num_images, len(dataset))):
        data = collate([dataset[i]])
        yield data['img'][0], data['img_metas'][0][0]


def time_inference(model: nn.Module, samples: Iterable[Sample], num_images: int, warmup: int = 5,
                   log_interval: int = 0, log: Callable[[str], None] = print) -> Dict[str, List[float]]:
    """Seconds per image of ``net`` and ``full`` (see the module docstring) over ``num_images`` timed images.

    ``model`` is an ``EncoderDecoder`` (e.g. made by :func:`prepare_for_inference`); ``samples`` gives
    ``(image, img_meta)`` pairs; the first ``warmup`` ones are run untimed.
    """
    device = model_device(model)
    times: Dict[str, List[float]] = {'net': [], 'full': [], 'page_faults': []}
    it = iter(samples)
    with torch.no_grad():
        for i in range(warmup + num_images):
            try:
                img, meta = next(it)
            except StopIteration:
                break
            img = img.to(device)
            synchronize(device)
            faults = minor_page_faults()
            start = time.perf_counter()
            logits = model.decode_logits(img)
            synchronize(device)
            net = time.perf_counter()
            model.label_map(logits, img.shape[2:], meta)
            synchronize(device)
            end = time.perf_counter()
            if i >= warmup:
                times['net'].append(net - start)
                times['full'].append(end - start)
                if faults is not None:
                    times['page_faults'].append(minor_page_faults() - faults)
                done = i + 1 - warmup
                if log_interval and done % log_interval == 0:
                    log(f'done image [{done:<3}/ {num_images}], fps net {done / sum(times["net"]):.2f} '
                        f'img/s, full {done / sum(times["full"]):.2f} img/s')
    if not times['full']:
        raise DataError('no image was timed: the data ran out during the warm-up')
    return times


def layer_profile(model: nn.Module, img: torch.Tensor) -> Dict[str, object]:
    """Where one forward (``decode_logits``) of ``model`` spends its time: every convolution, timed by hooks.

    Returns ``net_s`` (the forward timed without hooks), ``conv_s`` (the convolutions' share, hooked run),
    ``other_s`` (the rest: additions, activations, BatchNorm left unfolded, pooling, upsampling, casts) and
    ``convs``: one row per kind of conv (kernel, stride, channels, output size) with ``count``, ``seconds``,
    ``gmacs`` and ``gmacs_per_s``, slowest first. Compare ``gmacs_per_s`` with :func:`matmul_peak`.
    """
    device = model_device(model)
    rows: Dict[str, Dict[str, float]] = {}
    starts: Dict[int, float] = {}

    def before(conv: nn.Module, inputs) -> None:
        synchronize(device)
        starts[id(conv)] = time.perf_counter()

    def after(conv: nn.Module, inputs, out: torch.Tensor) -> None:
        synchronize(device)
        seconds = time.perf_counter() - starts.pop(id(conv))
        kh, kw = conv.kernel_size
        h, w = out.shape[-2:]
        key = f'{kh}x{kw}/{conv.stride[0]} {conv.in_channels}->{conv.out_channels} @{h}x{w}'
        macs = out.numel() * conv.in_channels // conv.groups * kh * kw
        row = rows.setdefault(key, dict(count=0, seconds=0.0, gmacs=0.0))
        row['count'] += 1
        row['seconds'] += seconds
        row['gmacs'] += macs / 1e9

    with torch.no_grad():
        img = img.to(device)
        model.decode_logits(img)  # warm-up: weight reorders, allocator
        synchronize(device)
        start = time.perf_counter()
        model.decode_logits(img)
        synchronize(device)
        net = time.perf_counter() - start
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        hooks = [h for m in convs for h in (m.register_forward_pre_hook(before), m.register_forward_hook(after))]
        try:
            model.decode_logits(img)
        finally:
            for hook in hooks:
                hook.remove()
    for row in rows.values():
        row['gmacs_per_s'] = row['gmacs'] / row['seconds']
    conv = sum(r['seconds'] for r in rows.values())
    return dict(net_s=net, conv_s=conv, other_s=max(net - conv, 0.0),
                convs=dict(sorted(rows.items(), key=lambda kv: -kv[1]['seconds'])))


def matmul_peaks(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 3) -> Dict[str, float]:
    """The machine's GEMM rates in GMAC/s for ``dtype`` on CPU, the best of ``repeats`` n×n×n products each:
    ``mm`` through ``torch.mm`` and ``conv1x1`` through oneDNN as a 1×1 convolution over a channels-last map
    (the kernel the network's convs use)."""
    a, b = (torch.randn(n, n).to(dtype) for _ in range(2))
    img = torch.randn(1, n, n // 64, 64).to(dtype).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(n, n, 1, 1).to(dtype).contiguous(memory_format=torch.channels_last)
    rates = {}
    with torch.no_grad():
        for kind, fn in (('mm', lambda: torch.mm(a, b)), ('conv1x1', lambda: F.conv2d(img, weight))):
            fn()
            best = float('inf')
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - start)
            rates[kind] = n ** 3 / best / 1e9
    return rates


def matmul_peak(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 3) -> float:
    """The best of :func:`matmul_peaks`: the GEMM rate (GMAC/s) a network's convs can be compared with."""
    return max(matmul_peaks(dtype, n, repeats).values())


def format_profile(profile: Dict[str, object], peak: Optional[float] = None, rows: int = 12) -> List[str]:
    """Printable lines of :func:`layer_profile`'s result; ``peak``: the matmul peak (GMAC/s) to compare with."""
    net, conv = profile['net_s'], profile['conv_s']
    lines = [f'forward {net * 1e3:.1f} ms: convolutions {conv * 1e3:.1f} ms ({100 * conv / net:.0f} %), '
             f'the rest {profile["other_s"] * 1e3:.1f} ms' + (f'; matmul peak {peak:.1f} GMAC/s' if peak else '')]
    lines.append(f'  {"conv kxk/stride in->out @output":34s} {"count":>5s} {"ms":>8s} {"GMAC":>7s} {"GMAC/s":>7s}'
                 + (f' {"% peak":>6s}' if peak else ''))
    for key, r in list(profile['convs'].items())[:rows]:
        lines.append(f'  {key:34s} {r["count"]:5d} {r["seconds"] * 1e3:8.2f} {r["gmacs"]:7.3f} '
                     f'{r["gmacs_per_s"]:7.1f}' + (f' {100 * r["gmacs_per_s"] / peak:5.0f}%' if peak else ''))
    return lines


def summarize(times: Dict[str, List[float]]) -> Dict[str, float]:
    """``fps_*`` (images / total time, as mmseg 0.x), ``*_median_s`` and ``*_mean_s`` of net and full, and
    ``page_faults_median``: the process's minor page faults per timed image (pages first touched)."""
    out: Dict[str, float] = {'num_images': len(times['full'])}
    if times.get('page_faults'):
        out['page_faults_median'] = statistics.median(times['page_faults'])
    for key in ('net', 'full'):
        values = times[key]
        out[f'fps_{key}'] = len(values) / sum(values)
        out[f'{key}_median_s'] = statistics.median(values)
        out[f'{key}_mean_s'] = statistics.fmean(values)
    return out


def benchmark(config: Union[str, os.PathLike, Config], checkpoint: Optional[str] = None,
              shape: Optional[Sequence[int]] = None, num_images: int = 200, warmup: int = 5,
              repeat_times: int = 1, log_interval: int = 50, precision: str = 'fp32', fuse_conv_bn: bool = False,
              memory_format: str = 'channels_last', compile: bool = False, device: str = 'cpu',
              cfg_options: Optional[dict] = None, retain_memory: bool = True, profile: bool = False,
              log: Callable[[str], None] = print) -> Dict[str, object]:
    """Benchmark the model of ``config`` (random weights without ``checkpoint``): a JSON-able dict.

    Over ``num_images`` images of the test set, or over random inputs of ``shape = (H, W)``; the
    pass is repeated ``repeat_times`` times and the figures of each pass are kept (``runs``) beside
    those of all passes together. See the module docstring for what is timed. ``retain_memory``: see
    :func:`~mmseg_ddrnet.models.prepare_for_inference`. ``profile``: also time every convolution of one
    forward (``profile``, see :func:`layer_profile`) and, on CPU, the matmul peak of the precision
    (``matmul_peak_gmacs_per_s``).
    """
    if repeat_times < 1 or num_images < 1 or warmup < 0:
        raise ConfigError('repeat_times and num_images must be >= 1 and warmup >= 0')
    model = init_segmentor(config, checkpoint, device=device, cfg_options=cfg_options)
    cfg = model.cfg
    prepare_for_inference(model, precision=precision, fuse_conv_bn=fuse_conv_bn, memory_format=memory_format,
                          compile=compile, retain_memory=retain_memory)
    if model_device(model).type == 'cuda':
        torch.backends.cudnn.benchmark = True
    runs, every = [], {'net': [], 'full': [], 'page_faults': []}
    for r in range(repeat_times):
        samples = random_samples(shape) if shape else dataset_samples(cfg, num_images + warmup)
        times = time_inference(model, samples, num_images, warmup, log_interval, log)
        runs.append(summarize(times))
        for key in every:
            every[key].extend(times[key])
        if repeat_times > 1:
            log(f'run {r + 1}/{repeat_times}: fps net {runs[-1]["fps_net"]:.2f}, full {runs[-1]["fps_full"]:.2f}')
    result: Dict[str, object] = dict(summarize(every), config=getattr(cfg, 'filename', None), checkpoint=checkpoint,
                                     shape=list(shape) if shape else 'dataset', precision=precision,
                                     fuse_conv_bn=fuse_conv_bn, memory_format=memory_format, compile=compile,
                                     batch_size=1, warmup=warmup, repeat_times=repeat_times, timed=TIMED,
                                     retains_freed_memory=retains_freed_memory())
    if profile:
        samples = random_samples(shape) if shape else dataset_samples(cfg, 1)
        result['profile'] = layer_profile(model, next(iter(samples))[0])
        if model_device(model).type == 'cpu':
            result['matmul_peak_gmacs_per_s'] = matmul_peak(PRECISIONS[precision])
    if repeat_times > 1:
        fps = [run['fps_full'] for run in runs]
        result.update(runs=runs, fps_full_std=statistics.stdev(fps))
    result.update(environment(device))
    return result
