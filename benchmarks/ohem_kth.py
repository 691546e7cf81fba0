"""OHEM's threshold: the k-th smallest target probability of a batch, by ``torch.kthvalue`` and by ``torch.topk``.

``mmseg_ddrnet.ops.compiled.kth_smallest`` uses ``kthvalue`` on the CPU and ``topk`` on CUDA, where ``kthvalue``
runs one thread block per slice (here one slice of N·H·W values). This script times both (and a full sort, for
scale) on the device given, alternating the calls so that each pair sees the same load, checks that they return
the same value, and prints the medians and the median per-pair ratio kthvalue / topk.

usage: python benchmarks/ohem_kth.py [--device cpu|cuda] [--repeat 20] [--threads 2]
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

#: (label batch shape, min_kept): DDRNet's Cityscapes recipe keeps at least 131072 pixels per batch.
CASES = [((2, 512, 1024), 131072), ((2, 1024, 1024), 131072), ((6, 1024, 1024), 131072)]


def _timed(fn, device: str) -> float:
    import torch
    if device == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run_case(shape, min_kept: int, device: str, repeat: int) -> dict:
    import torch

    from mmseg_ddrnet.ops.compiled import kth_smallest
    gen = torch.Generator().manual_seed(0)
    prob = torch.rand(shape, generator=gen)
    prob[torch.rand(shape, generator=gen) < 0.1] = float('inf')  # ignored pixels
    flat = prob.view(-1).to(device)
    ways = {'kthvalue': lambda: kth_smallest(flat, min_kept + 1, use_topk=False),
            'topk': lambda: kth_smallest(flat, min_kept + 1, use_topk=True),
            'sort': lambda: flat.sort().values[min_kept]}
    values = {name: fn() for name, fn in ways.items()}  # warm-up, and the results to compare
    assert len({float(v) for v in values.values()}) == 1, values
    times = {name: [] for name in ways}
    for _ in range(repeat):
        for name, fn in ways.items():
            times[name].append(_timed(fn, device))
    ratio = statistics.median(a / b for a, b in zip(times['kthvalue'], times['topk']))
    return {'shape': shape, **{name: statistics.median(t) for name, t in times.items()}, 'kthvalue/topk': ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if _cuda() else 'cpu', help='cpu or cuda (default: cuda if present)')
    parser.add_argument('--repeat', type=int, default=20, help='timed calls per variant (default 20)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (default 2)')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    print(f'device {args.device}' + (f' ({torch.cuda.get_device_name()})' if args.device == 'cuda' else
                                     f', {args.threads} threads'))
    for shape, min_kept in CASES:
        r = run_case(shape, min_kept, args.device, args.repeat)
        times = ', '.join(f'{name} {r[name] * 1e3:8.2f} ms' for name in ('kthvalue', 'topk', 'sort'))
        print(f'{"x".join(map(str, shape)):>12} k={min_kept + 1}: {times}; kthvalue/topk {r["kthvalue/topk"]:.2f}x')


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


if __name__ == '__main__':
    main()
