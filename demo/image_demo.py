"""Segment one image and write the coloured overlay (mmseg 0.x ``demo/image_demo.py``)::

    python demo/image_demo.py demo.png CONFIG CHECKPOINT --device cpu --out-file demo_seg.png
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from mmseg_ddrnet.apis.inference import available_device  # noqa: E402
from mmseg_ddrnet.apis import inference_segmentor, init_segmentor, show_result, show_result_pyplot  # noqa: E402
from mmseg_ddrnet.metrics import get_palette  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.visualization import display_problem  # noqa: E402

PALETTES = ('cityscapes', 'camvid')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='demo/image_demo.py', description='segment an image and paint the result')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-file', '--out_file', dest='out_file', default=None,
                        help='where to write the painted image (default: show it in a matplotlib window)')
    parser.add_argument('--device', default='cuda:0',
                        help='device used for inference (default: cuda:0, the CPU without a GPU)')
    parser.add_argument('--palette', default=None, choices=PALETTES,
                        help="colours of the classes (default: the checkpoint's, else the dataset's)")
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted labels, in (0, 1] (default: 0.5)')
    args = parser.parse_args(argv)
    if args.out_file is None:
        problem = display_problem()
        if problem is not None:
            raise ConfigError(f'{problem} to show the result on: give --out-file FILE to write the painted image')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    model = init_segmentor(args.config, args.checkpoint, device=available_device(args.device))
    result = inference_segmentor(model, args.img)
    palette = get_palette(args.palette) if args.palette else None
    if args.out_file:
        show_result(model, args.img, result, palette=palette, opacity=args.opacity, out_file=args.out_file)
        print_log(f'painted segmentation written to {args.out_file}')
    else:
        show_result_pyplot(model, args.img, result, palette=palette, opacity=args.opacity)


if __name__ == '__main__':
    run_cli(main)
