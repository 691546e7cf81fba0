"""Export a segmentor to ONNX, optionally checking it against PyTorch (mmseg 0.x tool)::

    python tools/pytorch2onnx.py CONFIG CHECKPOINT --output-file ddrnet.onnx --shape 1024 2048 --verify
    python tools/pytorch2onnx.py CONFIG CHECKPOINT --output-file ddrnet.onnx --shape 720 960 --dynamic-export

The exported graph is the deploy model: backbone and main head only (no auxiliary head), one forward pass,
input N×3×H×W normalised as the test pipeline does, output the logits resized (bilinear) to H×W, or with
--with-argmax the int64 label map N×H×W. With test_cfg mode='slide', the default --shape is its crop_size:
tools/deploy_test.py then runs the file on each window. --verify runs onnxruntime and PyTorch on random inputs
of the shape (and of a second shape with --dynamic-export): it prints the largest logit difference, the share of
pixels with the same label, and both CPU throughputs (images/s after 2 warm-up runs, same thread count, network only).
Needs the optional packages onnx (export) and onnxruntime (--verify).
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402

from mmseg_ddrnet.apis import init_segmentor  # noqa: E402
from mmseg_ddrnet.config import DictAction  # noqa: E402
from mmseg_ddrnet.export.onnx_export import DEFAULT_OPSET, export_onnx, verify_onnx  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.utils.optional import import_optional  # noqa: E402

TOLERANCE = 1e-4  # largest |logit difference| accepted, relative to the largest |logit|
MIN_AGREEMENT = 0.999  # share of pixels whose label must agree


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/pytorch2onnx.py', description=__doc__.split('::')[0].strip())
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--output-file', '--output_file', dest='output_file', default='tmp.onnx',
                        help='ONNX file to write')
    parser.add_argument('--shape', type=int, nargs='+', default=None, metavar='H [W]',
                        help="input height and width (one value: square; default: the test pipeline's img_scale)")
    parser.add_argument('--dynamic-export', '--dynamic_export', dest='dynamic_export', action='store_true',
                        help='free batch size, height and width')
    parser.add_argument('--with-argmax', '--with_argmax', dest='with_argmax', action='store_true',
                        help='output the label map (argmax over classes) instead of the logits')
    parser.add_argument('--opset', '--opset-version', '--opset_version', dest='opset', type=int,
                        default=DEFAULT_OPSET, help=f'ONNX opset version (default: {DEFAULT_OPSET})')
    parser.add_argument('--fuse-conv-bn', '--fuse_conv_bn', dest='fuse_conv_bn', action='store_true',
                        help='fold each BatchNorm into the convolution before it in PyTorch first (float64 folding); '
                             'the exporter folds conv+BN pairs of an eval-mode model itself too')
    parser.add_argument('--verify', action='store_true', help='compare onnxruntime with PyTorch, time both')
    parser.add_argument('--verify-runs', '--verify_runs', dest='verify_runs', type=int, default=10,
                        help='timed runs per engine with --verify (default: 10)')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    return parser.parse_args(argv)


def input_shape(args: argparse.Namespace, model: torch.nn.Module) -> Tuple[int, int]:
    """``(H, W)`` from ``--shape``, else the slide-mode ``test_cfg.crop_size``, else the test pipeline's
    ``MultiScaleFlipAug.img_scale`` (W, H)."""
    if args.shape:
        if len(args.shape) > 2 or min(args.shape) <= 0:
            raise ConfigError(f'--shape takes H [W] (positive), got {args.shape}')
        return (args.shape[0], args.shape[-1])
    if model.test_cfg['mode'] == 'slide':  # tools/deploy_test.py runs the file on each crop
        return tuple(model.test_cfg['crop_size'])
    for step in model.cfg.data.test.pipeline:
        scale = step.get('img_scale')
        if isinstance(scale, (list, tuple)) and len(scale) == 2 and all(isinstance(v, int) for v in scale):
            return (scale[1], scale[0])
    raise ConfigError('give --shape H W: the test pipeline has no single img_scale to take it from')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.verify:  # fail before the export, not after it
        import_optional('onnxruntime', '--verify (running the exported model)')
    model = init_segmentor(args.config, args.checkpoint, device='cpu', cfg_options=args.cfg_options)
    shape = input_shape(args, model)
    if args.fuse_conv_bn:
        model.fuse()
    deploy = export_onnx(model, args.output_file, shape, dynamic=args.dynamic_export,
                         with_argmax=args.with_argmax, opset=args.opset)
    print_log(f'ONNX model written to {args.output_file} (input 1x3x{shape[0]}x{shape[1]}, '
              f'{"dynamic" if args.dynamic_export else "static"} shape, opset {args.opset})')
    if not args.verify:
        return 0
    shapes = [(1, *shape)]
    if args.dynamic_export:
        shapes.append((2, max(shape[0] // 2, 64), max(shape[1] // 2, 64)))
    report = verify_onnx(deploy, args.output_file, shapes, runs=args.verify_runs)
    return 0 if all(_print_check(name, r) for name, r in report.items()) else 1


def _print_check(name: str, r: dict) -> bool:
    ok = r['label_agreement'] >= MIN_AGREEMENT
    diff = ''
    if r['max_abs_diff'] is not None:  # logits (not --with-argmax)
        ok = ok and r['max_abs_diff'] <= TOLERANCE * max(r['max_abs_logit'], 1.0)
        diff = f'max abs diff {r["max_abs_diff"]:.3g} (largest |logit| {r["max_abs_logit"]:.3g}), '
    print(f'input {name}: {diff}labels agree on {100 * r["label_agreement"]:.3f} % of pixels: '
          f'{"OK" if ok else "MISMATCH"}')
    print(f'input {name}: CPU {r["fps_onnxruntime"]:.2f} img/s onnxruntime, {r["fps_pytorch"]:.2f} img/s PyTorch '
          f'({torch.get_num_threads()} threads)')
    return ok


if __name__ == '__main__':
    run_cli(main)
