"""Write the training samples as the model sees them, labels painted (mmseg 0.x tool)::

    python tools/browse_dataset.py CONFIG --output-dir work_dirs/browse [--show --show-interval 500]

Each sample goes through ``data.train.pipeline`` (random augmentations included), its normalisation is undone and
its label map painted over it with the dataset's palette; ignored and padded pixels (255) are left unpainted.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from mmseg_ddrnet.apis.browse import browse_dataset  # noqa: E402
from mmseg_ddrnet.config import DictAction, load_config_file  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.visualization import model_palette, resolve_show  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/browse_dataset.py', description='browse a dataset after its pipeline')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--output-dir', '--output_dir', dest='output_dir', default=None,
                        help='folder where the painted samples are written (default: none)')
    parser.add_argument('--show', action='store_true', help='show each painted sample in a window')
    parser.add_argument('--not-show', '--not_show', dest='not_show', action='store_true',
                        help='do not show the samples (overrides --show)')
    parser.add_argument('--show-interval', '--show_interval', dest='show_interval', type=int, default=999,
                        help='milliseconds each shown sample stays up (default 999; 0: until a key is pressed)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted labels, in (0, 1] (default: 0.5)')
    parser.add_argument('--max-images', '--max_images', dest='max_images', type=int, default=None,
                        help='stop after this many samples (default: all)')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    args = parser.parse_args(argv)
    args.show = resolve_show(args.show and not args.not_show, '--output-dir DIR', bool(args.output_dir))
    if not (args.output_dir or args.show):
        raise ConfigError('nothing to do: give --output-dir and/or --show')
    if not 0 < args.opacity <= 1:
        raise ConfigError(f'--opacity must be in (0, 1], got {args.opacity}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config_file(args.config, args.cfg_options)
    dataset = build_dataset(cfg.data.train)
    count = browse_dataset(dataset, args.output_dir, model_palette(None, dataset), opacity=args.opacity,
                           show=args.show, show_interval=args.show_interval, limit=args.max_images)
    print_log(f'{count} samples painted' + (f' into {args.output_dir}' if args.output_dir else ''))


if __name__ == '__main__':
    run_cli(main)
