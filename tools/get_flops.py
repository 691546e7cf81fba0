"""Parameters and FLOPs of a model: ``python tools/get_flops.py CONFIG [--shape H W]`` (mmseg 0.x tool).

Counted with ``torch.utils.flop_counter`` at 2 FLOPs per multiply-accumulate (MAC): the convolutions
of the backbone and the decode head for one 1x3xHxW image; biases, BatchNorm, ReLU, additions, pooling,
upsampling and argmax are not counted, nor the auxiliary head (training only). Papers and mmcv's counter
(mmseg 0.x's get_flops.py) call MACs "FLOPs": compare their figures with the GMACs line. DDRNet-23-slim
at 1024x2048: 36.28 GMACs = 72.56 GFLOPs here; the paper's 36.3 "GFLOPs" are these MACs.
"""
import argparse
import json
import os
import sys
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mmseg_ddrnet.config import DictAction, load_config_file  # noqa: E402
from mmseg_ddrnet.models import build_segmentor  # noqa: E402
from mmseg_ddrnet.models.complexity import PAPER_1024x2048, count_flops  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402

EXPLANATION = (
    'FLOPs = 2 x multiply-accumulates of the convolutions (torch.utils.flop_counter); biases, norms, activations, '
    'additions, pooling, upsampling, argmax and the auxiliary head are not counted. Papers and mmcv report MACs '
    'as "FLOPs": compare them with GMACs.')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/get_flops.py', description=__doc__.split('\n\n')[0] + ' ' + EXPLANATION)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[1024, 2048], metavar='H W',
                        help='input size: H W, or one number for a square (default 1024 2048)')
    parser.add_argument('--json', metavar='OUT', help='also write the figures as JSON to this file')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        metavar='KEY=VALUE', help='override config values')
    return parser.parse_args(argv)


def _shape(values: Sequence[int]) -> Sequence[int]:
    if len(values) == 1:
        return [values[0], values[0]]
    if len(values) != 2 or min(values) < 1:
        raise ConfigError(f'--shape takes H W (or one size), got {list(values)}')
    return list(values)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config_file(args.config, args.cfg_options)
    cfg.model.pretrained = None
    shape = _shape(args.shape)
    model = build_segmentor(cfg.model, test_cfg=cfg.get('test_cfg'))
    result = count_flops(model, shape)
    line = '=' * 60
    print(f'{line}\nInput shape: (3, {shape[0]}, {shape[1]})\nFlops: {result["gflops"]:.2f} GFLOPs '
          f'({result["gmacs"]:.2f} GMACs)\nParams: {result["params_inference"] / 1e6:.3f} M (inference; '
          f'{result["params"] / 1e6:.3f} M with the auxiliary head)\n{line}')
    for name, flops in result['by_module'].items():
        print(f'  {name:<36} {flops / 1e9:8.2f} GFLOPs')
    print(EXPLANATION)
    if shape == [1024, 2048]:
        paper = ', '.join(f'{name} {gmacs} G, {params} M params' for name, (gmacs, params) in PAPER_1024x2048.items())
        print(f'The paper at 1024x2048 ("GFLOPs" that are GMACs): {paper}; this model: {result["gmacs"]:.2f} GMACs, '
              f'{result["params_inference"] / 1e6:.1f} M params.')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    run_cli(main)
