"""Test (and evaluate) a segmentor: ``python tools/test.py CONFIG CHECKPOINT [options]`` (mmseg 0.x command line).

Examples::

    python tools/test.py CONFIG CHECKPOINT --eval mIoU --show-dir work_dirs/vis
    python tools/test.py CONFIG CHECKPOINT --format-only --eval-options imgfile_prefix=results
    bash test_dist.sh CONFIG CHECKPOINT 4 --eval mIoU          # or bash tools/dist_test.sh (mmseg 0.x spelling)
    python tools/test.py CONFIG CHECKPOINT --eval mIoU --out results.pkl   # + one confusion matrix per image
"""
import argparse
import os
import os.path as osp
import sys
from typing import Any, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402

from mmseg_ddrnet.apis.inference import build_segmentor_from_checkpoint  # noqa: E402
from mmseg_ddrnet.apis.testing import (METRICS, OutputOptions, build_test_loader, load_test_config,  # noqa: E402
                                       test_and_report)
from mmseg_ddrnet.config import Config, DictAction  # noqa: E402
from mmseg_ddrnet.models import PRECISIONS, prepare_for_inference  # noqa: E402
from mmseg_ddrnet.datasets import build_dataset  # noqa: E402
from mmseg_ddrnet.utils.device import check_gpu_id, process_device  # noqa: E402
from mmseg_ddrnet.utils.dist import LAUNCHERS, dist_init_args, init_dist, named_collective_failures  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli, warn_once  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.utils.cpu_memory import retain_freed_memory  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The mmseg 0.x ``tools/test.py`` options (both ``--a-b`` and ``--a_b`` spellings)."""
    parser = ArgumentParser(prog='tools/test.py', description='mmseg_ddrnet: test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', '--work_dir', dest='work_dir',
                        help='folder of the metrics JSON eval_<time>.json (default: the config\'s work_dir, else '
                             './work_dirs/<config name>)')
    parser.add_argument('--aug-test', '--aug_test', dest='aug_test', action='store_true',
                        help='multi-scale (0.5-1.75) and flip test')
    parser.add_argument('--out', help=(
        'output result file in pickle format (.pkl / .pickle): a list with one entry per image in dataset order, '
        'the label map (int64 HxW) or, with --eval, its CxC confusion matrix (rows: ground truth; mmseg 0.x '
        'pickles the pre-eval results; memory then grows with the dataset), or the formatted results'))
    parser.add_argument('--format-only', '--format_only', dest='format_only', action='store_true',
                        help='format the results for a test server (e.g. Cityscapes labelIds PNGs) without evaluating')
    parser.add_argument('--eval', type=str, nargs='+', help=f'evaluation metrics, among {", ".join(METRICS)}')
    parser.add_argument('--show', action='store_true',
                        help='show the painted results in a window (without a screen: one warning; use --show-dir)')
    parser.add_argument('--show-dir', '--show_dir', dest='show_dir', help='folder where painted images are saved')
    parser.add_argument('--gpu-collect', '--gpu_collect', dest='gpu_collect', action='store_true',
                        help='gather results through the process group instead of files in --tmpdir')
    parser.add_argument('--gpu-id', '--gpu_id', dest='gpu_id', type=int, default=None,
                        help='id of the GPU to use (non-distributed testing; ignored without a GPU)')
    parser.add_argument('--tmpdir', help='folder for collecting results from several workers (without --gpu-collect)')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    parser.add_argument('--options', nargs='+', action=DictAction, help='deprecated: use --cfg-options')
    parser.add_argument('--eval-options', '--eval_options', dest='eval_options', nargs='+', action=DictAction,
                        help='keyword arguments of dataset.evaluate / format_results, key=value')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of user errors too (or set MMSEG_DDRNET_DEBUG=1)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of painted segmentation, in (0, 1] (default: 0.5)')
    parser.add_argument('--fuse-conv-bn', '--fuse_conv_bn', dest='fuse_conv_bn', action='store_true',
                        help='test the deploy model: BatchNorm folded into the convs (model.fuse())')
    parser.add_argument('--precision', choices=sorted(PRECISIONS), default='fp32',
                        help='weights and activations in this dtype (bf16: CPU or CUDA; fp16: CUDA); default fp32')
    parser.add_argument('--local_rank', '--local-rank', dest='local_rank', type=int, default=0)
    parser.add_argument('--unsafe-load', '--unsafe_load', dest='unsafe_load', action='store_true',
                        help='unpickle the checkpoint in full, not with torch.load(weights_only=True): only for '
                             'your own legacy files (it can run code)')
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    _check_args(args)
    return args


def _check_args(args: argparse.Namespace) -> None:
    OutputOptions.from_args(args)  # --out, --eval, --format-only, --show(-dir), --opacity
    if args.options and args.cfg_options:
        raise ConfigError('--options and --cfg-options cannot both be specified (--options is deprecated)')
    if args.options:
        warn_once('--options is deprecated in favor of --cfg-options')
        args.cfg_options = args.options


def load_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged, set up for testing (``--aug-test``, no pretrained weights)."""
    return load_test_config(args.config, args.cfg_options, args.aug_test)


def select_device(args: argparse.Namespace, distributed: bool) -> torch.device:
    """This process's device: its GPU (``--gpu-id``, or the local rank when distributed), else the CPU."""
    if not distributed and args.gpu_id is not None:
        check_gpu_id(args.gpu_id)
    if not torch.cuda.is_available() and args.gpu_id is not None:
        print_log(f'no GPU available: running on the CPU (--gpu-id {args.gpu_id} ignored)')
    return process_device(args.gpu_id, distributed)


def build_model(cfg: Config, checkpoint: str, dataset: Any, device: torch.device, unsafe_load: bool = False,
                precision: str = 'fp32', fuse_conv_bn: bool = False) -> torch.nn.Module:
    """The segmentor with the checkpoint's weights; CLASSES and PALETTE from its meta, else from the dataset.

    ``unsafe_load``: unpickle the checkpoint in full (``--unsafe-load``), not with ``weights_only=True``.
    With ``fuse_conv_bn`` or another precision than fp32, the deploy model (``prepare_for_inference``).
    On CPU, freed memory is kept for reuse either way (``retain_freed_memory``: the images after the first
    fault no new pages; the labels are unchanged).
    """
    model = build_segmentor_from_checkpoint(cfg, checkpoint, dataset, verbose=True,
                                            unsafe_load=unsafe_load).to(device)
    if fuse_conv_bn or precision != 'fp32':
        prepare_for_inference(model, precision=precision, fuse_conv_bn=fuse_conv_bn)
    elif device.type == 'cpu':
        retain_freed_memory()
    return model


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Test a checkpoint as ``tools/test.py`` of mmseg 0.x."""
    args = parse_args(argv)
    cfg = load_config(args)
    distributed = args.launcher != 'none'
    if distributed:
        init_dist(args.launcher, **dist_init_args(cfg.get('dist_params')))
    try:
        with named_collective_failures():  # a dead or hung rank: one line naming it
            evaluate_checkpoint(args, cfg, distributed)
    finally:
        if distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def evaluate_checkpoint(args: argparse.Namespace, cfg: Config, distributed: bool) -> None:
    """Build the dataset, loader and model, run the test loop and report (rank 0)."""
    device = select_device(args, distributed)
    dataset = build_dataset(cfg.data.test)
    data_loader = build_test_loader(cfg, dataset, distributed)
    model = build_model(cfg, args.checkpoint, dataset, device, unsafe_load=args.unsafe_load,
                        precision=args.precision, fuse_conv_bn=args.fuse_conv_bn)
    test_and_report(OutputOptions.from_args(args), cfg, dataset, model, data_loader, distributed)


if __name__ == '__main__':
    run_cli(main)
