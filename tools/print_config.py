"""Print a config with its bases merged: ``python tools/print_config.py CONFIG [--cfg-options k=v ...]``.

The output (on stdout) is Python source that reloads to the same config, so it can be saved as a
self-contained config::

    python tools/print_config.py configs/ddrnet/CONFIG.py --cfg-options model.backbone.norm_cfg.type=BN > new.py
"""
import argparse
import os
import sys
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mmseg_ddrnet.config import Config, DictAction, load_config_file  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, run_cli  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The mmseg 0.x ``tools/print_config.py`` options."""
    parser = argparse.ArgumentParser(description='Print the whole config, bases merged')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--graph', action='store_true', help='also print the model built from cfg.model')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config values, e.g. model.decode_head.num_classes=11 '
             'data.train.pipeline.2.img_scale="(1024,512)"; lists as a,b or [a,b], tuples as (a,b)')
    parser.add_argument('--options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='deprecated alias of --cfg-options')
    args = parser.parse_args(argv)
    if args.options and args.cfg_options:
        parser.error('--options and --cfg-options cannot both be given; --options is deprecated')
    if args.options:
        print('warning: --options is deprecated in favour of --cfg-options', file=sys.stderr)
        args.cfg_options = args.options
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config_file(args.config, args.cfg_options)
    model = build_model(cfg) if args.graph else None
    print(cfg.pretty_text, end='')
    if model is not None:
        print(f'Model graph:\n{model}')
    return 0


def build_model(cfg: Config):
    """The segmentor of ``cfg.model`` (on the CPU, without pretrained weights being needed)."""
    if not isinstance(cfg.get('model'), dict):
        raise ConfigError(f'{cfg.filename}: --graph needs a model dict in the config')
    from mmseg_ddrnet.models import build_segmentor
    return build_segmentor(cfg.model, train_cfg=cfg.get('train_cfg'), test_cfg=cfg.get('test_cfg'))


if __name__ == '__main__':
    run_cli(main)
