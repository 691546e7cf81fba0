"""Seconds per training iteration and peak memory of DDRNet-23-slim, ours beside mmsegmentation 1.2.2.

One training iteration = forward with OHEM cross-entropy on the decode and aux heads (weights 1.0 / 0.4, the
paper's Cityscapes class weights), backward, SGD step; batch 2, crop 512x1024, 19 classes, BN, random data.
Each implementation runs in its own subprocess (the same number of threads), after a few warm-up iterations;
peak memory is the subprocess's max RSS (and the peak CUDA memory on a GPU). The reference runs when
``MMSEG_REFERENCE_PYTHON`` names a Python with mmsegmentation 1.2.2; the ratios ours / reference are printed
(target: <= 1.0 for both).

usage: python benchmarks/train_step.py [--iters 5] [--warmup 2] [--batch 2] [--crop 512 1024]
                                       [--device cpu|cuda] [--threads 2] [--repeats 1] [--json OUT]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

NUM_CLASSES = 19
CLASS_WEIGHT = [0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023, 0.9539, 0.9843,
                1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]
OHEM = dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072, class_weight=CLASS_WEIGHT)
BACKBONE = dict(type='DDRNet', in_channels=3, channels=32, ppm_channels=128,
                norm_cfg=dict(type='BN', requires_grad=True), align_corners=False)
HEAD = dict(type='DDRHead', in_channels=32 * 4, channels=64, dropout_ratio=0., num_classes=NUM_CLASSES,
            align_corners=False, norm_cfg=dict(type='BN', requires_grad=True),
            loss_decode=[dict(OHEM, loss_weight=1.0), dict(OHEM, loss_weight=0.4)])
SGD = dict(lr=0.01, momentum=0.9, weight_decay=0.0005)


def model_cfg() -> Dict[str, Any]:
    """The same DDRNet-23-slim for both implementations (their config schemas agree on these keys)."""
    return dict(type='EncoderDecoder', backbone=dict(BACKBONE), decode_head=dict(HEAD),
                train_cfg=dict(), test_cfg=dict(mode='whole'))


def random_batch(batch: int, crop: List[int], device: Any):
    import torch
    gen = torch.Generator().manual_seed(0)
    img = torch.randn(batch, 3, *crop, generator=gen).to(device)
    label = torch.randint(0, NUM_CLASSES, (batch, 1, *crop), generator=gen)
    label[:, :, :16] = 255  # a band of ignored pixels, as padding leaves
    return img, label.to(device)


def build_ours(batch: int, crop: List[int], device: Any) -> Callable[[], Any]:
    """A closure running one training iteration of mmseg_ddrnet's model."""
    import torch
    from mmseg_ddrnet.models import build_segmentor, parse_losses
    model = build_segmentor(model_cfg()).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), **SGD)
    img, label = random_batch(batch, crop, device)
    h, w = crop
    metas = [dict(filename=f'{i}.png', ori_filename=f'{i}.png', ori_shape=(h, w, 3), img_shape=(h, w, 3),
                  pad_shape=(h, w, 3), scale_factor=1.0, flip=False, flip_direction=None,
                  img_norm_cfg=dict(mean=[0.0] * 3, std=[1.0] * 3, to_rgb=False)) for i in range(batch)]

    def step():
        loss, _ = parse_losses(model(img, metas, return_loss=True, gt_semantic_seg=label))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss
    return step


def build_reference(batch: int, crop: List[int], device: Any) -> Callable[[], Any]:
    """A closure running one training iteration of mmsegmentation 1.2.2's model (no data preprocessor)."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(model_cfg()).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), **SGD)
    img, label = random_batch(batch, crop, device)
    samples = []
    for i in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=tuple(crop), pad_shape=tuple(crop), ori_shape=tuple(crop)))
        sample.gt_sem_seg = PixelData(data=label[i])
        samples.append(sample)

    def step():
        loss, _ = model.parse_losses(model.loss(img, samples))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss
    return step


def worker(args: argparse.Namespace) -> None:
    """Time ``args.iters`` iterations after ``args.warmup``; print one JSON line."""
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    build = build_ours if args.worker == 'ours' else build_reference
    step = build(args.batch, args.crop, device)
    for _ in range(args.warmup):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        loss = step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    cuda_peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == 'cuda' else None
    print(json.dumps(dict(sec_per_iter=sorted(times)[len(times) // 2], min_sec_per_iter=min(times),
                          mean_sec_per_iter=sum(times) / len(times), cuda_peak_mib=cuda_peak,
                          last_loss=float(loss.detach()))))


def run_worker(python: str, name: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Run this script as ``--worker name`` under ``python``; its result plus its max RSS (MiB)."""
    cmd = [python, os.path.abspath(__file__), '--worker', name, '--iters', str(args.iters),
           '--warmup', str(args.warmup), '--batch', str(args.batch), '--crop', *map(str, args.crop),
           '--device', args.device, '--threads', str(args.threads)]
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1', OMP_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors='replace'))
            raise SystemExit(f'{name} worker failed (exit {proc.returncode}): {" ".join(cmd)}')
    result = json.loads(out.decode().strip().splitlines()[-1])
    result['max_rss_mib'] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


def best_run(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The fastest of repeated runs (the least disturbed by other load), with the highest peak memory."""
    best = dict(min(runs, key=lambda r: r['sec_per_iter']))
    best['max_rss_mib'] = max(r['max_rss_mib'] for r in runs)
    best['all_sec_per_iter'] = [r['sec_per_iter'] for r in runs]
    return best


def ratio(ours: Optional[float], ref: Optional[float]) -> Optional[float]:
    return None if ours is None or not ref else ours / ref


def print_table(results: Dict[str, Dict[str, Any]]) -> None:
    print(f'{"":12s} {"s/iter":>8s} {"min s/iter":>10s} {"max RSS MiB":>12s} {"CUDA peak MiB":>14s}')
    for name, r in results.items():
        cuda = '-' if r['cuda_peak_mib'] is None else f'{r["cuda_peak_mib"]:.0f}'
        print(f'{name:12s} {r["sec_per_iter"]:8.3f} {r["min_sec_per_iter"]:10.3f} {r["max_rss_mib"]:12.0f} '
              f'{cuda:>14s}')
    if 'mmseg-1.2.2' in results:
        ours, ref = results['ours'], results['mmseg-1.2.2']
        for key in ('sec_per_iter', 'min_sec_per_iter', 'max_rss_mib', 'cuda_peak_mib'):
            value = ratio(ours[key], ref[key])
            if value is not None:
                print(f'ratio ours / mmseg-1.2.2 {key}: {value:.3f}')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=5, help='measured iterations (the median is reported)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first (default 2)')
    parser.add_argument('--batch', type=int, default=2, help='images per step (default 2)')
    parser.add_argument('--crop', type=int, nargs=2, default=[512, 1024], metavar=('H', 'W'),
                        help='training crop (default 512 1024)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--threads', type=int, default=2, help='torch threads of each worker')
    parser.add_argument('--repeats', type=int, default=1,
                        help='run each implementation this many times, alternating; the fastest run is reported')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--worker', choices=['ours', 'mmseg'], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return
    workers = {'ours': (sys.executable, 'ours')}
    reference = os.environ.get('MMSEG_REFERENCE_PYTHON')
    if reference:
        workers['mmseg-1.2.2'] = (reference, 'mmseg')
    else:
        print('MMSEG_REFERENCE_PYTHON not set: mmsegmentation 1.2.2 not measured')
    runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in workers}
    for _ in range(args.repeats):  # alternate, so that both see the same load on a shared machine
        for name, (python, worker_name) in workers.items():
            runs[name].append(run_worker(python, worker_name, args))
    results = {name: best_run(r) for name, r in runs.items()}
    print(f'DDRNet-23-slim train step, batch {args.batch}, crop {args.crop[0]}x{args.crop[1]}, OHEM + aux, '
          f'SGD, {args.device}, {args.threads} thread(s), median of {args.iters} after {args.warmup} warm-up, '
          f'best of {args.repeats} run(s)')
    print_table(results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=vars(args), results=results), f, indent=2)


if __name__ == '__main__':
    main()
