"""Inference speed of the deploy model beside mmsegmentation 1.2.2's DDRNet, and the machine's matmul peak.

Protocol: batch 1, a random 1x3xHxW image (default 1024x2048), 19 classes, ``--threads`` threads per worker;
**full pipeline** = forward + bilinear resize of the logits to HxW + argmax (the label map); **net** = forward
to the low-resolution logits. Ours: ``prepare_for_inference(model, precision, fuse_conv_bn=True,
memory_format='channels_last')`` timed by ``mmseg_ddrnet.apis.benchmark.time_inference`` (the protocol of
tools/benchmark.py); mmseg 1.2.2 (when ``MMSEG_REFERENCE_PYTHON`` names its Python): ``extract_feat`` +
``decode_head.forward`` (net), then ``decode_head.predict_by_feat`` (its resize) and ``argmax(1)``, fp32 NCHW as
its ``predict`` runs. Every variant lives in its own persistent subprocess; the parent asks each in turn for one
timed image per round (the order rotates), so that the variants of a round see the same machine load. Speed-ups
are medians of the per-round ratios. A ``peak`` worker times fp32 and bf16 GEMMs (N x N x N, through torch.mm
and through oneDNN as a 1x1 convolution) in the same rounds: the network's share of the peak is its MACs
(tools/get_flops.py) / net time / the best GEMM MAC rate.

Ours keeps freed memory for reuse (``prepare_for_inference(retain_memory=True)``, a glibc malloc setting) so that
repeated images fault no new pages. The ablation rows (``--no-ablations`` skips them) show what that setting is
worth: ours with glibc's default malloc, and mmseg run with the same setting (``MALLOC_MMAP_MAX_=0``,
``MALLOC_TRIM_THRESHOLD_``), against which the column "(same malloc)" divides.

Targets (issue 11, DDRNet-23-slim, full pipeline, 2 threads): fp32 >= 2.5x mmseg's fp32 throughput; bf16 >= 4.5x
(no AMX) or >= 6x (AMX).

usage: python benchmarks/inference.py [--archs 23-slim 23] [--rounds 15 5] [--shape 1024 2048] [--threads 2]
                                      [--profile] [--no-ablations] [--json OUT]
       MMSEG_REFERENCE_PYTHON=/tmp/mmseg_ref/bin/python python benchmarks/inference.py --profile  # ~5 min, 2 cores
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
NUM_CLASSES = 19
ARCHS = {'23-slim': 32, '23': 64}  # backbone channels; the head has 2x as many
PRECISIONS = ('fp32', 'bf16')
GEMM_N = 2048
ANSWER = '@@answer '  # prefix of the workers' answers (the libraries may print other lines)


def model_cfg(arch: str) -> Dict[str, Any]:
    """The same DDRNet for both implementations (their config schemas agree on these keys)."""
    c = ARCHS[arch]
    return dict(type='EncoderDecoder',
                backbone=dict(type='DDRNet', in_channels=3, channels=c, ppm_channels=128,
                              norm_cfg=dict(type='BN', requires_grad=True), align_corners=False),
                decode_head=dict(type='DDRHead', in_channels=4 * c, channels=2 * c, dropout_ratio=0.,
                                 num_classes=NUM_CLASSES, align_corners=False, norm_cfg=dict(type='BN'),
                                 loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
                train_cfg=dict(), test_cfg=dict(mode='whole'))


# ------------------------------------------------------------------------------------------ workers
def build_ours(arch: str, precision: str, shape: List[int], malloc: str = ''):
    import torch
    from mmseg_ddrnet.apis.benchmark import layer_profile, random_samples, time_inference
    from mmseg_ddrnet.models import build_segmentor, prepare_for_inference
    from mmseg_ddrnet.models.complexity import count_flops
    model = build_segmentor(model_cfg(arch))
    gmacs = count_flops(model, shape)['gmacs']
    prepare_for_inference(model, precision=precision, fuse_conv_bn=True, memory_format='channels_last',
                          retain_memory=malloc != 'default-malloc')
    samples = random_samples(shape)

    def run() -> Dict[str, float]:
        times = time_inference(model, samples, num_images=1, warmup=0)
        return dict(net=times['net'][0], full=times['full'][0], page_faults=times['page_faults'][0])
    run.profile = lambda: layer_profile(model, next(samples)[0])
    del torch
    return run, dict(gmacs=gmacs)


def build_mmseg(arch: str, precision: str, shape: List[int], malloc: str = ''):
    import torch
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(model_cfg(arch)).eval()
    img = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(0))
    metas = [dict(img_shape=tuple(shape), ori_shape=tuple(shape), pad_shape=tuple(shape))]

    def run() -> Dict[str, float]:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        with torch.no_grad():
            start = time.perf_counter()
            logits = model.decode_head.forward(model.extract_feat(img))
            net = time.perf_counter()
            model.decode_head.predict_by_feat(logits, metas).argmax(dim=1)
            end = time.perf_counter()
        return dict(net=net - start, full=end - start,
                    page_faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
    return run, {}


def build_peak(arch: str, precision: str, shape: List[int], malloc: str = ''):
    """GEMMs of N x N x N through torch.mm and through oneDNN's convolution (1x1 over an NHWC map, the kernel
    the network's convs use): ``mmseg_ddrnet.apis.benchmark.matmul_peaks``."""
    import torch
    from mmseg_ddrnet.apis.benchmark import matmul_peaks

    def run() -> Dict[str, float]:
        out = {}
        for p, dt in (('fp32', torch.float32), ('bf16', torch.bfloat16)):
            rates = matmul_peaks(dt, GEMM_N)
            out.update({f'gmacs_per_s_{p}_{kind}': rate for kind, rate in rates.items()})
            out[f'gmacs_per_s_{p}'] = max(rates.values())
        return out
    return run, {}


def worker(args: argparse.Namespace) -> None:
    """Build the variant, warm up, then time one image per line read from stdin; one JSON line each."""
    import torch
    torch.set_num_threads(args.threads)
    kind, arch, precision, malloc = (args.worker.split(':') + [''])[:4]
    build = dict(ours=build_ours, mmseg=build_mmseg, peak=build_peak)[kind]
    run, info = build(arch, precision, args.shape, malloc)
    for _ in range(2):
        run()
    _answer(dict(info, ready=True, threads=torch.get_num_threads(), torch=torch.__version__))
    for line in sys.stdin:
        _answer(run.profile() if line.strip() == 'profile' else run())


def _answer(obj: Dict[str, Any]) -> None:
    print(ANSWER + json.dumps(obj), flush=True)


# ------------------------------------------------------------------------------------------- parent
class Worker:
    """A persistent worker subprocess answering one JSON line per request."""

    def __init__(self, python: str, name: str, args: argparse.Namespace):
        cmd = [python, os.path.abspath(__file__), '--worker', name, '--threads', str(args.threads),
               '--shape', *map(str, args.shape)]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=os.path.dirname(HERE))
        if name.endswith(':retain-malloc'):  # glibc reads these at start-up: what retain_freed_memory() sets
            env.update(MALLOC_MMAP_MAX_='0', MALLOC_TRIM_THRESHOLD_=str(2 ** 31 - 1))
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._read()

    def _read(self) -> Dict[str, Any]:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f'worker {self.name} died (see its stderr above)')
            if line.startswith(ANSWER):
                return json.loads(line[len(ANSWER):])
            sys.stderr.write(f'[{self.name}] {line}')

    def ask(self, request: str = 'run') -> Dict[str, Any]:
        self.proc.stdin.write(request + '\n')
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def measure(arch: str, rounds: int, peak: Worker, reference: Optional[str], args: argparse.Namespace
            ) -> Dict[str, Any]:
    """Alternating rounds over the variants of ``arch``; per-variant medians and per-round ratios."""
    names = [f'ours:{arch}:{p}' for p in PRECISIONS] + ([f'mmseg:{arch}:fp32'] if reference else [])
    if args.ablations:
        names += [f'ours:{arch}:fp32:default-malloc'] + ([f'mmseg:{arch}:fp32:retain-malloc'] if reference else [])
    workers = [Worker(reference if n.startswith('mmseg') else sys.executable, n, args) for n in names]
    workers.append(peak)
    samples: Dict[str, List[Dict[str, float]]] = {w.name: [] for w in workers}
    for r in range(rounds):
        for w in workers[r % len(workers):] + workers[:r % len(workers)]:
            samples[w.name].append(w.ask())
        print(f'{arch} round {r + 1}/{rounds}: ' + ', '.join(
            f'{name.split(":", 2)[0]} {name.split(":", 2)[2]} {s[-1]["full"]:.3f} s' for name, s in samples.items()
            if 'full' in s[-1]), file=sys.stderr, flush=True)
    result: Dict[str, Any] = {'variants': {}}
    for w in workers[:-1]:
        times = samples[w.name]
        entry = {key: statistics.median(t[key] for t in times) for key in ('net', 'full')}
        entry.update(all_full=[t['full'] for t in times], gmacs=w.info.get('gmacs'))
        result['variants'][w.name] = entry
        entry.update(page_faults=statistics.median(t.get('page_faults', 0) for t in times))
        if reference:
            ref = samples[f'mmseg:{arch}:fp32']
            entry['speedup_full'] = statistics.median(b['full'] / a['full'] for a, b in zip(times, ref))
            entry['speedup_net'] = statistics.median(b['net'] / a['net'] for a, b in zip(times, ref))
            same = samples.get(f'mmseg:{arch}:fp32:retain-malloc')
            if same and w.name.startswith('ours') and 'default-malloc' not in w.name:
                entry['speedup_full_same_malloc'] = statistics.median(b['full'] / a['full'] for a, b in zip(times, same))
    if args.profile:
        result['profile'] = {w.name: w.ask('profile') for w in workers[:-1] if w.name.startswith('ours')}
    result['peak'] = samples[peak.name]
    for w in workers[:-1]:
        w.close()
    return result


def report(results: Dict[str, Any], args: argparse.Namespace, env: Dict[str, Any]) -> None:
    peaks = [p for arch in results.values() for p in arch['peak']]
    peak = {p: max(x[f'gmacs_per_s_{p}'] for x in peaks) for p in PRECISIONS}
    env['peak_gmacs_per_s'] = peak
    print(f'{env["cpu"]} ({env["cpu_capability"]}, avx512_bf16={env["avx512_bf16"]}, amx={env["amx"]}), '
          f'{args.threads} threads, torch {env["torch"]}; batch 1, 1x3x{args.shape[0]}x{args.shape[1]}, '
          f'{NUM_CLASSES} classes')
    kinds = {p: {k: max(x[f'gmacs_per_s_{p}_{k}'] for x in peaks) for k in ('mm', 'conv1x1')} for p in PRECISIONS}
    env['peak_gmacs_per_s_by_kernel'] = kinds
    print(f'matmul peak ({GEMM_N}^3 GEMM, best of the run, torch.mm / oneDNN 1x1 conv): fp32 {peak["fp32"]:.1f} '
          f'GMAC/s ({kinds["fp32"]["mm"]:.1f} / {kinds["fp32"]["conv1x1"]:.1f}), bf16 {peak["bf16"]:.1f} GMAC/s '
          f'({kinds["bf16"]["mm"]:.1f} / {kinds["bf16"]["conv1x1"]:.1f}), bf16/fp32 x{peak["bf16"] / peak["fp32"]:.2f}')
    print(f'{"variant":36s} {"full s":>7s} {"net s":>7s} {"x mmseg full":>12s} {"x mmseg net":>11s} '
          f'{"(same malloc)":>13s} {"% of peak":>9s} {"faults":>7s}')
    for arch in results.values():
        for name, v in arch['variants'].items():
            share = ''
            if v.get('gmacs'):
                share = f'{100 * v["gmacs"] / v["net"] / peak[name.split(":")[2]]:.0f} %'
            speed = [f'{v[k]:.2f}' if k in v else '-' for k in ('speedup_full', 'speedup_net', 'speedup_full_same_malloc')]
            print(f'{name:36s} {v["full"]:7.3f} {v["net"]:7.3f} {speed[0]:>12s} {speed[1]:>11s} {speed[2]:>13s} '
                  f'{share:>9s} {v["page_faults"]:7.0f}')
    print('speed-ups: medians of per-round ratios (mmseg time / ours); (same malloc): against mmseg run with the '
          'malloc setting ours applies (retain-malloc); % of peak: network MACs / net time / the matmul peak of its '
          'precision; faults: minor page faults per image. Targets (23-slim, full): fp32 >= 2.5x; bf16 >= 4.5x '
          'without AMX, 6x with.')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--archs', nargs='+', default=list(ARCHS), choices=list(ARCHS),
                        help='DDRNet sizes to measure (default: both)')
    parser.add_argument('--rounds', type=int, nargs='+', default=[15, 5],
                        help='timed rounds per arch (one image per variant per round)')
    parser.add_argument('--shape', type=int, nargs=2, default=[1024, 2048], metavar=('H', 'W'),
                        help='input size (default 1024 2048)')
    parser.add_argument('--threads', type=int, default=2, help='threads per worker process (default 2)')
    parser.add_argument('--profile', action='store_true',
                        help='also time every conv of one forward of each of our variants against the peak')
    parser.add_argument('--no-ablations', dest='ablations', action='store_false',
                        help='skip the ablation rows (ours with glibc\'s default malloc; mmseg with ours)')
    parser.add_argument('--json', help='write every figure to this file')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return
    import torch
    from mmseg_ddrnet.apis.benchmark import environment, format_profile
    torch.set_num_threads(args.threads)
    env = environment('cpu')
    reference = os.environ.get('MMSEG_REFERENCE_PYTHON')
    if not reference:
        print('MMSEG_REFERENCE_PYTHON not set: mmsegmentation 1.2.2 not measured')
    peak = Worker(sys.executable, 'peak:-:-', args)
    rounds = dict(zip(args.archs, args.rounds + args.rounds[-1:] * len(args.archs)))
    results = {arch: measure(arch, rounds[arch], peak, reference, args) for arch in args.archs}
    peak.close()
    report(results, args, env)
    for arch in results.values():
        for name, prof in arch.get('profile', {}).items():
            print(f'\nprofile of {name} (mmseg_ddrnet.apis.benchmark.layer_profile):')
            print('\n'.join(format_profile(prof, env['peak_gmacs_per_s'][name.split(':')[2]])))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), environment=env, results=results), f, indent=2)


if __name__ == '__main__':
    main()
