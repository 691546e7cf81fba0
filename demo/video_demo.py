"""Segment a video file or a camera stream and write the painted video with the running FPS on each frame::

    python demo/video_demo.py video.mp4 CONFIG CHECKPOINT --device cpu --output-file out.mp4
    python demo/video_demo.py 0 CONFIG CHECKPOINT --show        # camera 0

The FPS drawn on a frame is the number of frames segmented so far divided by the time spent on them
(pre-processing, the network, resizing to the frame, argmax and painting; reading and writing excluded).
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from mmseg_ddrnet.apis.inference import available_device  # noqa: E402
from mmseg_ddrnet.apis import init_segmentor, prepare_for_inference  # noqa: E402
from mmseg_ddrnet.apis.video import open_capture, open_writer, output_size, segment_video  # noqa: E402
from mmseg_ddrnet.metrics import get_palette  # noqa: E402
from mmseg_ddrnet.models import PRECISIONS  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.visualization import resolve_show  # noqa: E402

PALETTES = ('cityscapes', 'camvid')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='demo/video_demo.py', description=__doc__.split('::')[0].strip(),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('video', help='video file, or the index of a camera (e.g. 0)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--device', default='cuda:0',
                        help='device used for inference (default: cuda:0, the CPU without a GPU)')
    parser.add_argument('--palette', default=None, choices=PALETTES,
                        help="colours of the classes (default: the checkpoint's, else the dataset's)")
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted labels, in (0, 1] (default: 0.5)')
    parser.add_argument('--show', action='store_true', help='show the painted frames in a window')
    parser.add_argument('--show-wait-time', '--show_wait_time', dest='show_wait_time', type=int, default=1,
                        help='ms each shown frame waits for a key (default: 1)')
    parser.add_argument('--output-file', '--output_file', dest='output_file', help='painted video to write')
    parser.add_argument('--output-fourcc', '--output_fourcc', dest='output_fourcc', default='mp4v',
                        help='four-character codec of the output video (mp4v for .mp4, MJPG for .avi)')
    parser.add_argument('--output-fps', '--output_fps', dest='output_fps', type=float, default=-1,
                        help="frame rate of the output video (default: the input's)")
    parser.add_argument('--output-height', '--output_height', dest='output_height', type=int, default=-1,
                        help="frame height of the output video (default: the input's)")
    parser.add_argument('--output-width', '--output_width', dest='output_width', type=int, default=-1,
                        help="frame width of the output video (default: the input's)")
    parser.add_argument('--batch-size', '--batch_size', dest='batch_size', type=int, default=1,
                        help='frames segmented per forward pass (default: 1)')
    parser.add_argument('--max-frames', '--max_frames', dest='max_frames', type=int, default=None,
                        help='stop after this many frames (e.g. for a camera)')
    parser.add_argument('--fuse-conv-bn', '--fuse_conv_bn', dest='fuse_conv_bn', action='store_true',
                        help='fold each BatchNorm into its convolution and drop the auxiliary head')
    parser.add_argument('--precision', default='fp32', choices=sorted(PRECISIONS),
                        help='compute precision (default fp32): bf16 (CPU or GPU), fp16 (GPU)')
    args = parser.parse_args(argv)
    args.show = resolve_show(args.show, '--output-file FILE', bool(args.output_file))
    if not (args.output_file or args.show):
        raise ConfigError('nothing to do: give --output-file and/or --show')
    if args.batch_size < 1:
        raise ConfigError(f'--batch-size must be positive, got {args.batch_size}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    capture = open_capture(args.video)
    model = init_segmentor(args.config, args.checkpoint, device=available_device(args.device))
    model = prepare_for_inference(model, precision=args.precision, fuse_conv_bn=args.fuse_conv_bn)
    size = output_size(capture, args.output_height, args.output_width)
    writer = open_writer(args.output_file, capture, size, args.output_fps, args.output_fourcc) \
        if args.output_file else None
    try:
        meter = segment_video(model, capture, writer, palette=get_palette(args.palette) if args.palette else None,
                              opacity=args.opacity, size=size, show=args.show, wait_time=args.show_wait_time,
                              batch_size=args.batch_size, max_frames=args.max_frames)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    print_log(f'{meter.frames} frames segmented at {meter.fps:.2f} FPS'
              + (f'; painted video written to {args.output_file}' if args.output_file else ''))


if __name__ == '__main__':
    run_cli(main)
