"""Inference speed of a model: ``python tools/benchmark.py CONFIG [CHECKPOINT] [options]`` (mmseg 0.x tool).

Examples::

    python tools/benchmark.py configs/ddrnet/ddrnet_23_slim_720x960_20k_camvid.py latest.pth   # test-set images
    python tools/benchmark.py CONFIG --shape 1024 2048 --precision bf16 --fuse-conv-bn --json out.json
"""
import argparse
import json
import os
import sys
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from mmseg_ddrnet.apis.benchmark import TIMED, benchmark, format_profile  # noqa: E402
from mmseg_ddrnet.config import DictAction  # noqa: E402
from mmseg_ddrnet.models import PRECISIONS  # noqa: E402
from mmseg_ddrnet.utils import run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.utils.io import atomic_write  # noqa: E402

DESCRIPTION = f"""Images per second of a segmentor, batch 1. Timed per image: {TIMED}.
fps = timed images / their total time (as mmseg 0.x); medians are also reported."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/benchmark.py', description=DESCRIPTION)
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file (default: random weights)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='time random 1x3xHxW inputs instead of the images of data.test')
    parser.add_argument('--num-images', '--num_images', dest='num_images', type=int, default=200,
                        help='timed images per run (default 200, as mmseg 0.x)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed images before each run (default 5)')
    parser.add_argument('--repeat-times', '--repeat_times', dest='repeat_times', type=int, default=1,
                        help='runs over the images (default 1; the figures of each run and of all together are '
                             'reported)')
    parser.add_argument('--log-interval', '--log_interval', dest='log_interval', type=int, default=50,
                        help='print the running fps every N timed images (default 50; 0: never)')
    parser.add_argument('--precision', choices=sorted(PRECISIONS), default='fp32',
                        help='weights and activations in this dtype (default fp32; bf16: CPU or CUDA; fp16: CUDA)')
    parser.add_argument('--fuse-conv-bn', '--fuse_conv_bn', dest='fuse_conv_bn', action='store_true',
                        help='fold BatchNorm into the convs and drop the auxiliary head (model.fuse())')
    parser.add_argument('--memory-format', '--memory_format', dest='memory_format', default='channels_last',
                        choices=['channels_last', 'contiguous'],
                        help='layout of weights and images (default channels_last)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and head (compilation happens in the warm-up)')
    parser.add_argument('--no-retain-memory', dest='retain_memory', action='store_false',
                        help='leave glibc malloc as it is (by default freed memory is kept for reuse, so images '
                             'after the first fault no new pages; see mmseg_ddrnet.utils.cpu_memory)')
    parser.add_argument('--profile', action='store_true',
                        help='also time every convolution of one forward (by hooks) against the matmul peak '
                             'of the precision measured here: where the time goes')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument('--threads', type=int, help='CPU threads (torch.set_num_threads; default: torch\'s)')
    parser.add_argument('--json', metavar='OUT', help='write the figures as JSON to this file')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        metavar='KEY=VALUE', help='override config values')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = benchmark(args.config, args.checkpoint, shape=args.shape, num_images=args.num_images,
                       warmup=args.warmup, repeat_times=args.repeat_times, log_interval=args.log_interval,
                       precision=args.precision, fuse_conv_bn=args.fuse_conv_bn, memory_format=args.memory_format,
                       compile=args.compile, device=args.device, cfg_options=args.cfg_options,
                       retain_memory=args.retain_memory, profile=args.profile)
    print(f'{result["cpu"] if result["device"] == "cpu" else result.get("gpu")}, {result["threads"]} threads, '
          f'torch {result["torch"]}, {args.precision}, input {result["shape"]}')
    print(f'Overall fps: net {result["fps_net"]:.2f} img/s (median {result["net_median_s"] * 1e3:.1f} ms), '
          f'full {result["fps_full"]:.2f} img/s (median {result["full_median_s"] * 1e3:.1f} ms)')
    if 'page_faults_median' in result:
        print(f'page faults per image (median): {result["page_faults_median"]:.0f}'
              f'{"" if result["retains_freed_memory"] else " (freed memory is not kept for reuse)"}')
    if args.repeat_times > 1:
        print(f'full fps over {args.repeat_times} runs: {result["fps_full"]:.2f} +- {result["fps_full_std"]:.2f}')
    if args.profile:
        print('\n'.join(format_profile(result['profile'], result.get('matmul_peak_gmacs_per_s'))))
    if args.json:
        with atomic_write(args.json, 'w') as f:
            f.write(json.dumps(result, indent=2) + '\n')
        print(f'figures written to {args.json}')
    return 0


if __name__ == '__main__':
    run_cli(main)
