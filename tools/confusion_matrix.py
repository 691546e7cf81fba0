"""Plot the normalised confusion matrix of test results (mmseg 0.x tool)::

    python tools/test.py CONFIG CHECKPOINT --out results.pkl          # label maps (or --eval mIoU: matrices)
    python tools/confusion_matrix.py CONFIG results.pkl work_dirs/cm  # writes work_dirs/cm/confusion_matrix.png

Each row (a ground-truth class) shows, in percent of its pixels, the classes they were predicted as; ignored
pixels are not counted. Needs matplotlib.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from mmseg_ddrnet.apis.analysis import dataset_confusion_matrix, load_results, plot_confusion_matrix  # noqa: E402
from mmseg_ddrnet.config import DictAction, load_config_file  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.utils import print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.visualization import resolve_show  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/confusion_matrix.py', description='plot the normalised confusion matrix')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('prediction_path', help='prediction file of tools/test.py --out (.pkl)')
    parser.add_argument('save_dir', help='folder where confusion_matrix.png is saved')
    parser.add_argument('--show', action='store_true', help='also show the plot in a matplotlib window')
    parser.add_argument('--color-theme', '--color_theme', dest='color_theme', default='winter',
                        help='matplotlib colormap of the plot')
    parser.add_argument('--title', default='Normalized Confusion Matrix', help='title of the plot')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    args = parser.parse_args(argv)
    args.show = resolve_show(args.show, 'SAVE_DIR', True, opencv=False)
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config_file(args.config, args.cfg_options)
    results = load_results(args.prediction_path)
    cfg.data.test.test_mode = True
    dataset = build_dataset(cfg.data.test)
    matrix = dataset_confusion_matrix(dataset, results)
    out_file = plot_confusion_matrix(matrix, list(dataset.CLASSES), args.save_dir, show=args.show,
                                     title=args.title, color_theme=args.color_theme)
    print_log(f'confusion matrix plot written to {out_file}')


if __name__ == '__main__':
    run_cli(main)
