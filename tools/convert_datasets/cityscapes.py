"""Convert Cityscapes polygon annotations to ``*_gtFine_labelTrainIds.png`` and write split files.

usage: python tools/convert_datasets/cityscapes.py CITYSCAPES_PATH [--gt-dir gtFine] [--nproc N] [-o OUT]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmseg_ddrnet.datasets.cityscapes_conversion import convert_cityscapes  # noqa: E402
from mmseg_ddrnet.utils import run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/convert_datasets/cityscapes.py',
                            description='Convert Cityscapes polygon annotations (gtFine/*_gtFine_polygons.json) to '
                                        '*_gtFine_labelTrainIds.png next to them, and write train/val/test.txt')
    parser.add_argument('cityscapes_path', help='cityscapes data path (with leftImg8bit/ and gtFine/)')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder, relative to cityscapes_path (default: gtFine)')
    parser.add_argument('-o', '--out-dir', help='output path for the split files (default: cityscapes_path)')
    parser.add_argument('--nproc', default=1, type=int, help='number of processes (default: 1)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    written = convert_cityscapes(args.cityscapes_path, args.gt_dir, args.nproc, args.out_dir)
    print(f'wrote {len(written)} label maps and the split files')
    return 0


if __name__ == '__main__':
    run_cli(main)
