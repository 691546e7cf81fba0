"""The fused ops of ``mmcv_ext`` against their pure-PyTorch references: time and peak memory.

Each case is timed in one fresh subprocess that alternates reference and mmcv_ext calls (switched with
``ops.use_ext``), so that each pair of calls sees the same machine load; the speed-up reported is the
median of the per-pair ratios. Peak memory comes from one more subprocess per implementation, so that
the peak is its own and the memory probe does not slow the timed calls:
- CPU: the rise of the process's resident-set high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs``) above its resident size before one call, with glibc's malloc told to
  hand big blocks back to the system (``MALLOC_MMAP_THRESHOLD_``) so freed tensors do not hide in
  its free lists; this counts every byte the call touched, tensors and scratch buffers alike. That
  setting turns every large allocation into fresh page faults, so the timed process runs without it.
- CUDA: ``torch.cuda.max_memory_allocated`` above the memory allocated before the call.
Times are the median (and best) of ``--repeat`` calls of each implementation per round, after one
warm-up call of each; ``torch`` uses ``--threads`` threads; ``--rounds`` repeats the subprocesses.

usage: python benchmarks/ops.py [--cases resize_argmax ...] [--repeat 5] [--rounds 1] [--threads 2]
                                [--device cpu|cuda] [--json results.json]
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


# ---------------------------------------------------------------- the cases (worker side)
def case_resize_argmax(device):
    import torch
    from mmseg_ddrnet import ops
    logits = torch.randn(1, 19, 128, 256, device=device)
    return lambda: ops.resize_argmax(logits, (1024, 2048))


def _seg_ce(device, logits_shape, label_shape):
    import torch
    from mmseg_ddrnet import ops
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(*logits_shape, generator=gen).to(device).requires_grad_()
    label = torch.randint(0, logits_shape[1], label_shape, generator=gen)
    label[torch.rand(label_shape, generator=gen) < 0.1] = 255
    label = label.to(device)

    def run():
        loss = ops.seg_cross_entropy(logits, label, thres=0.9, min_kept=131072)
        loss.backward()
        logits.grad = None
        return loss
    return run


def case_seg_ce_ohem_512x1024(device):
    return _seg_ce(device, (2, 19, 64, 128), (2, 512, 1024))


def case_seg_ce_ohem_1024x1024(device):
    return _seg_ce(device, (6, 19, 128, 128), (6, 1024, 1024))


def case_confusion_matrix(device):
    import torch
    from mmseg_ddrnet import ops
    gen = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 19, (1024, 2048), generator=gen).to(device)
    label = torch.randint(0, 20, (1024, 2048), generator=gen)
    label[label == 19] = 255
    label = label.to(device)
    return lambda: ops.confusion_matrix(pred, label, 19)


def _ddrnet23slim_inference(device, memory_format):
    import torch
    from mmseg_ddrnet.config import Config
    from mmseg_ddrnet.models import build_segmentor
    cfg = Config.fromfile(os.path.join(os.path.dirname(HERE), 'configs/_base_/models/ddrnet_23_slim.py'))
    cfg.model.backbone.norm_cfg = cfg.model.decode_head.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.memory_format = memory_format
    model = build_segmentor(cfg.model).to(device).eval()
    img = torch.randn(1, 3, 1024, 2048, device=device)
    shape = (1024, 2048, 3)
    meta = [dict(filename='x.png', ori_filename='x.png', ori_shape=shape, img_shape=shape, pad_shape=shape,
                 scale_factor=1.0, flip=False, flip_direction=None, img_norm_cfg={})]

    def run():
        with torch.no_grad():
            return model.simple_test(img, meta)
    return run


def case_ddrnet23slim_inference(device):
    """The whole test-time pipeline of DDRNet-23-slim on one 1024×2048 image: forward + resize + argmax.

    In the model's default layout (channels_last on CPU, where PyTorch's own upsampling of NHWC
    logits is about 3x faster than of NCHW ones, so the reference gains too).
    """
    return _ddrnet23slim_inference(device, 'auto')


def case_ddrnet23slim_inference_nchw(device):
    """The same pipeline with NCHW activations (``memory_format='contiguous'``, mmseg's layout)."""
    return _ddrnet23slim_inference(device, 'contiguous')


CASES = {name[len('case_'):]: fn for name, fn in globals().items() if name.startswith('case_')}


def _status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _sync(device):
    import torch
    if device == 'cuda':
        torch.cuda.synchronize()


def _peak_mb(run, device):
    """Peak memory of one call of ``run`` above the memory in use before it, in MiB."""
    import torch
    gc.collect()
    if device == 'cuda':
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20
    before = _status_kb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current resident size
    run()
    return (_status_kb('VmHWM') - before) / 1024


def worker(case, impl, what, device, repeat, threads):
    """Print JSON: the peak memory of one implementation (``what='memory'``), or the times of both,
    alternating call by call (``what='time'``, ``impl='both'``)."""
    import torch
    from mmseg_ddrnet import ops
    torch.set_num_threads(threads)
    if impl != 'ref' and not ops.ext_available():
        print(json.dumps(dict(error=ops.ext_unavailable_reason())))
        return
    run = CASES[case](device)
    if what == 'memory':
        with ops.use_ext(impl == 'ext'):
            run()  # warm-up
            _sync(device)
            print(json.dumps(dict(peak_mb=_peak_mb(run, device))))
        return
    times = {'ref': [], 'ext': []}
    for i in range(repeat + 1):
        for name in (('ref', 'ext') if i % 2 else ('ext', 'ref')):
            with ops.use_ext(name == 'ext'):
                _sync(device)
                start = time.perf_counter()
                run()
                _sync(device)
                if i:  # the first pair warms up
                    times[name].append((time.perf_counter() - start) * 1000)
    print(json.dumps(times))


# ---------------------------------------------------------------- the driver
def _subprocess(case, impl, what, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if what == 'memory':
        env['MALLOC_MMAP_THRESHOLD_'] = '65536'
    env.pop('MMSEG_DDRNET_DISABLE_EXT', None)
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', case, impl, what, '--device', args.device,
           '--repeat', str(args.repeat), '--threads', str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return dict(error=out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'failed')
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(case, args):
    """``{'ref': figures, 'ext': figures, 'ratios': [...]}`` of one case over ``--rounds`` rounds."""
    times, peaks, ratios = {'ref': [], 'ext': []}, {'ref': [], 'ext': []}, []
    for _ in range(args.rounds):
        paired = _subprocess(case, 'both', 'time', args)
        if 'error' in paired:
            return {'ref': paired, 'ext': paired, 'ratios': []}
        for name in times:
            times[name] += paired[name]
        ratios += [r / e for r, e in zip(paired['ref'], paired['ext'])]
        for name in peaks:
            peak = _subprocess(case, name, 'memory', args)
            if 'error' in peak:
                return {'ref': peak, 'ext': peak, 'ratios': []}
            peaks[name].append(peak['peak_mb'])
    figures = {name: dict(median_ms=statistics.median(times[name]), best_ms=min(times[name]),
                          peak_mb=max(peaks[name])) for name in times}
    return dict(figures, ratios=ratios)


def report(results):
    head = f"{'case':28} {'impl':4} {'median ms':>10} {'best ms':>9} {'peak MiB':>9}"
    lines = [head, '-' * len(head)]
    for case, by_impl in results.items():
        for impl in ('ref', 'ext'):
            r = by_impl[impl]
            if 'error' in r:
                lines.append(f"{case:28} {impl:4} error: {r['error']}")
            else:
                lines.append(f"{case:28} {impl:4} {r['median_ms']:10.1f} {r['best_ms']:9.1f} {r['peak_mb']:9.1f}")
        ref, ext = by_impl['ref'], by_impl['ext']
        if 'error' not in ref and 'error' not in ext:
            mem = (f"{ref['peak_mb'] / ext['peak_mb']:.1f}x less peak memory" if ext['peak_mb'] >= 0.1
                   else 'ext peak memory below measurement resolution')
            lines.append(f"{case:28} ext is {statistics.median(by_impl['ratios']):.1f}x faster "
                         f"(median of {len(by_impl['ratios'])} paired calls; best/best "
                         f"{ref['best_ms'] / ext['best_ms']:.1f}x), {mem}")
    return '\n'.join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cases', nargs='+', choices=sorted(CASES), default=list(CASES),
                        help='ops to measure (default: all)')
    parser.add_argument('--repeat', type=int, default=5, help='timed calls per round (default 5)')
    parser.add_argument('--rounds', type=int, default=1, help='alternating reference/compiled rounds (default 1)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (default 2)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu', help='where the ops run (default cpu)')
    parser.add_argument('--json', help='also write the figures to this JSON file')
    parser.add_argument('--worker', nargs=3, metavar=('CASE', 'IMPL', 'WHAT'), help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.worker:
        worker(*args.worker, args.device, args.repeat, args.threads)
        return
    import torch
    import mmcv_ext
    print(f'torch {torch.__version__}, {args.threads} threads, device {args.device}; '
          f'mmcv_ext: {mmcv_ext.build_info()}')
    results = {}
    for case in args.cases:
        results[case] = measure(case, args)
        print(report({case: results[case]}).split('\n', 2)[2], flush=True)
    print('\n' + report(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
