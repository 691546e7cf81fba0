"""Convert Cityscapes polygon annotations to ``*_gtFine_labelTrainIds.png`` and write split files.

usage: python tools/convert_datasets/cityscapes.py CITYSCAPES_PATH [--gt-dir gtFine] [--nproc N] [-o OUT]
"""
import argparse

from mmseg_ddrnet.datasets.cityscapes_conversion import convert_cityscapes
from mmseg_ddrnet.utils import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert Cityscapes annotations to TrainIds')
    parser.add_argument('cityscapes_path', help='cityscapes data path (with leftImg8bit/ and gtFine/)')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder, relative to cityscapes_path')
    parser.add_argument('-o', '--out-dir', help='output path for the split files (default: cityscapes_path)')
    parser.add_argument('--nproc', default=1, type=int, help='number of processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    written = convert_cityscapes(args.cityscapes_path, args.gt_dir, args.nproc, args.out_dir)
    print(f'wrote {len(written)} label maps and the split files')
    return 0


if __name__ == '__main__':
    run_cli(main)
