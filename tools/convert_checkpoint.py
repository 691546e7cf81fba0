"""Convert a DDRNet checkpoint from elsewhere into this package's format.

Examples::

    # official ydhongHIT/DDRNet segmentation weights (DDRNet-23-slim, -23, -39)
    python tools/convert_checkpoint.py --src-format official DDRNet23s.pth ddrnet_23_slim_cityscapes.pth
    # official ImageNet-pretrained backbone, for a config's pretrained=
    python tools/convert_checkpoint.py --src-format official-imagenet DDRNet23s_imagenet.pth \\
        pretrained/ddrnet23s_imagenet_converted.pth
    # mmsegmentation 1.x DDRNet checkpoints
    python tools/convert_checkpoint.py --src-format mmseg ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes.pth out.pth
"""
import argparse
from typing import Optional, Sequence

from mmseg_ddrnet.models.convert import SRC_FORMATS, convert_checkpoint
from mmseg_ddrnet.utils import ConfigError, run_cli


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmseg_ddrnet: convert a DDRNet checkpoint to this package')
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--src-format', '--src_format', dest='src_format', required=True, choices=SRC_FORMATS,
                        help='official: ydhongHIT/DDRNet segmentation; official-imagenet: its ImageNet '
                             'backbones (for pretrained=); mmseg: mmsegmentation 1.x')
    parser.add_argument('--num-classes', '--num_classes', dest='num_classes', type=int, default=None,
                        help='drop the classifier unless it predicts this many classes (to fine-tune on '
                             'another dataset)')
    parser.add_argument('--unsafe-load', '--unsafe_load', dest='unsafe_load', action='store_true',
                        help='unpickle the source in full, not with torch.load(weights_only=True): only for your '
                             'own legacy files (it can run code)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.num_classes is not None and args.num_classes <= 0:
        raise ConfigError(f'--num-classes must be positive, got {args.num_classes}')
    checkpoint = convert_checkpoint(args.src, args.dst, args.src_format, num_classes=args.num_classes,
                                    unsafe=args.unsafe_load)
    meta = checkpoint['meta']
    classifier = 'dropped (another --num-classes)' if meta.get('dropped_classifier') else 'kept'
    print(f'converted {args.src} ({args.src_format}): {len(checkpoint["state_dict"])} tensors, '
          f'classifier {classifier} -> {args.dst}')
    return 0


if __name__ == '__main__':
    run_cli(main)
