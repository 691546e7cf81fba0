"""Generate the quick-start demo dataset: a small synthetic Cityscapes-layout dataset (see tools/quickstart.sh).

usage: python tools/misc/make_demo_data.py [OUT_DIR] [--num-train 40] [--num-val 8] [--size 256 512] [--seed 0]

Then ``python tools/convert_datasets/cityscapes.py OUT_DIR`` writes the ``*_labelTrainIds.png`` maps.
Running it again replaces OUT_DIR as a whole (an interrupted run leaves OUT_DIR as it was); a non-empty OUT_DIR that it
did not write is refused.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmseg_ddrnet.datasets.synthetic import make_synthetic_cityscapes  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/misc/make_demo_data.py',
                            description='Generate a synthetic Cityscapes-layout demo dataset')
    parser.add_argument('out_dir', nargs='?', default='data/demo_cityscapes',
                        help='dataset root to write, replaced as a whole when it holds an earlier demo dataset '
                             '(default: data/demo_cityscapes)')
    parser.add_argument('--num-train', type=int, default=40, help='training images (default: 40)')
    parser.add_argument('--num-val', type=int, default=8, help='validation images (default: 8)')
    parser.add_argument('--size', type=int, nargs=2, default=[256, 512], metavar=('H', 'W'),
                        help='image size (default: 256 512)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed (default: 0; the data is deterministic for a seed)')
    args = parser.parse_args(argv)
    if args.num_train < 1 or args.num_val < 1:
        raise ConfigError('--num-train and --num-val must be at least 1')
    if min(args.size) < 32:
        raise ConfigError(f'--size must be at least 32x32, got {args.size[0]}x{args.size[1]}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    make_synthetic_cityscapes(args.out_dir, num_train=args.num_train, num_val=args.num_val,
                              size=tuple(args.size), seed=args.seed)
    print(f'wrote {args.num_train} training and {args.num_val} validation images '
          f'({args.size[0]}x{args.size[1]}) to {args.out_dir}')
    return 0


if __name__ == '__main__':
    run_cli(main)
