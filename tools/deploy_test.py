"""Evaluate an exported (ONNX) model through onnxruntime as tools/test.py evaluates a checkpoint (mmseg 0.x)::

    python tools/pytorch2onnx.py CONFIG CHECKPOINT --output-file ddrnet.onnx --dynamic-export
    python tools/deploy_test.py CONFIG ddrnet.onnx --eval mIoU

The dataset, test pipeline, test loop, metrics and --out/--format-only/--show-dir outputs are tools/test.py's;
only the network is onnxruntime's. The config's test_cfg applies: in whole mode a model exported with a fixed
--shape needs test images of that size; in slide mode the exported model runs on each crop_size window
(export it with --shape CROP_H CROP_W, or --dynamic-export), with tools/test.py's sliding-window code.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402

from mmseg_ddrnet.apis.testing import (OutputOptions, build_onnxruntime_segmentor, build_test_loader,  # noqa: E402
                                       load_test_config, test_and_report)
from mmseg_ddrnet.config import DictAction  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.utils import run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402

BACKENDS = ('onnxruntime',)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/deploy_test.py', description='evaluate an ONNX model with onnxruntime')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('model', help='ONNX file (tools/pytorch2onnx.py)')
    parser.add_argument('--backend', default='onnxruntime', choices=BACKENDS, help='inference backend')
    parser.add_argument('--device', default='cpu', help='cpu, or cuda (onnxruntime-gpu)')
    parser.add_argument('--work-dir', '--work_dir', dest='work_dir', 
                        help='folder of the metrics JSON eval_<time>.json (default: the config\'s work_dir, else '
                             './work_dirs/<config name>)')
    parser.add_argument('--out', help='output result file in pickle format, as tools/test.py --out')
    parser.add_argument('--format-only', '--format_only', dest='format_only', action='store_true',
                        help='format the results for a test server without evaluating')
    parser.add_argument('--eval', type=str, nargs='+', help='evaluation metrics, e.g. mIoU')
    parser.add_argument('--show', action='store_true',
                        help='show the painted results in a window (without a screen: one warning; use --show-dir)')
    parser.add_argument('--show-dir', '--show_dir', dest='show_dir', help='folder where painted images are saved')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of painted segmentation, in (0, 1] (default: 0.5)')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    parser.add_argument('--eval-options', '--eval_options', dest='eval_options', nargs='+', action=DictAction,
                        help='keyword arguments of dataset.evaluate / format_results, key=value')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    options = OutputOptions.from_args(args)
    cfg = load_test_config(args.config, args.cfg_options)
    dataset = build_dataset(cfg.data.test)
    data_loader = build_test_loader(cfg, dataset, distributed=False)
    model = build_onnxruntime_segmentor(cfg, args.model, dataset, device=args.device, num_threads=_threads())
    test_and_report(options, cfg, dataset, model, data_loader)


def _threads() -> Optional[int]:
    """onnxruntime's intra-op threads: torch's count (OMP_NUM_THREADS / torch.set_num_threads) for parity."""
    return int(os.environ.get('OMP_NUM_THREADS', 0)) or torch.get_num_threads()


if __name__ == '__main__':
    run_cli(main)
