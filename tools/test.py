"""Test (and evaluate) a segmentor: ``python tools/test.py CONFIG CHECKPOINT [options]`` (mmseg 0.x command line).

Examples::

    python tools/test.py CONFIG CHECKPOINT --eval mIoU --show-dir work_dirs/vis
    python tools/test.py CONFIG CHECKPOINT --format-only --eval-options imgfile_prefix=results
    bash test_dist.sh CONFIG CHECKPOINT 4 --eval mIoU          # or bash tools/dist_test.sh (mmseg 0.x spelling)
    python tools/test.py CONFIG CHECKPOINT --eval mIoU --out results.pkl   # + one confusion matrix per image
"""
import argparse
import json
import os
import os.path as osp
import pickle
import shutil
import time
import sys
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mmseg_ddrnet.evaluation import multi_gpu_test, single_gpu_test  # noqa: E402
from mmseg_ddrnet.config import Config, DictAction  # noqa: E402
from mmseg_ddrnet.apis.inference import build_segmentor_from_checkpoint  # noqa: E402
from mmseg_ddrnet.models import PRECISIONS, prepare_for_inference  # noqa: E402
from mmseg_ddrnet.datasets import build_dataloader, build_dataset, loader_args  # noqa: E402
from mmseg_ddrnet.utils.dist import LAUNCHERS, get_dist_info, init_dist  # noqa: E402
from mmseg_ddrnet.utils.env import setup_multi_processes  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli, warn_once  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.utils.io import atomic_write  # noqa: E402

METRICS = ('mIoU', 'mDice', 'mFscore', 'cityscapes')
AUG_TEST_RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
CITYSCAPES_TMPDIR = '.format_cityscapes'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The mmseg 0.x ``tools/test.py`` options (both ``--a-b`` and ``--a_b`` spellings)."""
    parser = ArgumentParser(prog='tools/test.py', description='mmseg_ddrnet: test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', '--work_dir', dest='work_dir',
                        help='folder of the metrics JSON (default: ./work_dirs/<config name>)')
    parser.add_argument('--aug-test', '--aug_test', dest='aug_test', action='store_true',
                        help='multi-scale (0.5-1.75) and flip test')
    parser.add_argument('--out', help=(
        'output result file in pickle format (.pkl / .pickle): a list with one entry per image in dataset order, '
        'the label map (int64 HxW) or, with --eval, its CxC confusion matrix (rows: ground truth; mmseg 0.x '
        'pickles the pre-eval results; memory then grows with the dataset), or the formatted results'))
    parser.add_argument('--format-only', '--format_only', dest='format_only', action='store_true',
                        help='format the results for a test server (e.g. Cityscapes labelIds PNGs) without evaluating')
    parser.add_argument('--eval', type=str, nargs='+', help=f'evaluation metrics, among {", ".join(METRICS)}')
    parser.add_argument('--show', action='store_true', help='show the painted results in a window')
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
    parser.add_argument('--opacity', type=float, default=0.5, help='opacity of painted segmentation, in (0, 1]')
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
    if not (args.out or args.eval or args.format_only or args.show or args.show_dir):
        raise ConfigError('nothing to do: specify at least one of --out, --eval, --format-only, --show, --show-dir')
    if args.eval and args.format_only:
        raise ConfigError('--eval and --format-only cannot both be specified')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ConfigError(f'--out must name a .pkl or .pickle file, got {args.out}')
    unknown = [m for m in args.eval or [] if m not in METRICS]
    if unknown:
        raise ConfigError(f'--eval: unknown metric(s) {", ".join(unknown)}; choose among {", ".join(METRICS)}')
    if args.eval and 'cityscapes' in args.eval and len(args.eval) > 1:
        raise ConfigError('--eval cityscapes evaluates formatted results and cannot be combined with other metrics')
    if not 0 < args.opacity <= 1:
        raise ConfigError(f'--opacity must be in (0, 1], got {args.opacity}')
    if args.options and args.cfg_options:
        raise ConfigError('--options and --cfg-options cannot both be specified (--options is deprecated)')
    if args.options:
        warn_once('--options is deprecated in favor of --cfg-options')
        args.cfg_options = args.options


def load_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged, set up for testing (``--aug-test``, no pretrained weights)."""
    if not osp.isfile(args.config):
        raise ConfigError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    setup_multi_processes(cfg)  # mp_start_method, opencv_num_threads
    if args.aug_test:
        aug = _multi_scale_flip_aug(cfg.data.test.pipeline, args.config)
        aug.img_ratios = list(AUG_TEST_RATIOS)
        aug.flip = True
    if 'pretrained' in cfg.model:
        cfg.model.pretrained = None
    if cfg.model.get('backbone', {}).get('init_cfg') is not None:
        cfg.model.backbone.init_cfg = None
    cfg.model.train_cfg = None
    cfg.data.test.test_mode = True
    return cfg


def _multi_scale_flip_aug(pipeline: List[Dict[str, Any]], config: str) -> Dict[str, Any]:
    for step in pipeline:
        if step.get('type') == 'MultiScaleFlipAug':
            return step
    raise ConfigError(f'--aug-test: {config}: data.test.pipeline has no MultiScaleFlipAug step')


def _dist_params(cfg: Config) -> Dict[str, Any]:
    """``cfg.dist_params``, with the ``nccl`` backend replaced by ``gloo`` on a machine without CUDA."""
    params = dict(cfg.get('dist_params') or {})
    if params.get('backend') == 'nccl' and not torch.cuda.is_available():
        print_log('no GPU available: distributed testing on the CPU with the gloo backend')
        params['backend'] = 'gloo'
    return params


def select_device(args: argparse.Namespace, distributed: bool) -> torch.device:
    """This process's device: its GPU (``--gpu-id``, or the local rank when distributed), else the CPU."""
    if not torch.cuda.is_available():
        if args.gpu_id is not None:
            print_log(f'no GPU available: running on the CPU (--gpu-id {args.gpu_id} ignored)')
        return torch.device('cpu')
    index = int(os.environ.get('LOCAL_RANK', 0)) if distributed else (args.gpu_id or 0)
    torch.cuda.set_device(index)
    return torch.device('cuda', index)


def build_test_loader(cfg: Config, dataset: Any, distributed: bool) -> Any:
    """The test loader: the ``data`` settings, one image per GPU, no shuffling, ``data.test_dataloader`` on top."""
    return build_dataloader(dataset, **loader_args(cfg.data, 'test', dict(num_gpus=1, dist=distributed, shuffle=False),
                                                   dict(samples_per_gpu=1, shuffle=False)))


def build_model(cfg: Config, checkpoint: str, dataset: Any, device: torch.device, unsafe_load: bool = False,
                precision: str = 'fp32', fuse_conv_bn: bool = False) -> torch.nn.Module:
    """The segmentor with the checkpoint's weights; CLASSES and PALETTE from its meta, else from the dataset.

    ``unsafe_load``: unpickle the checkpoint in full (``--unsafe-load``), not with ``weights_only=True``.
    With ``fuse_conv_bn`` or another precision than fp32, the deploy model (``prepare_for_inference``).
    """
    model = build_segmentor_from_checkpoint(cfg, checkpoint, dataset, verbose=True,
                                            unsafe_load=unsafe_load).to(device)
    if fuse_conv_bn or precision != 'fp32':
        prepare_for_inference(model, precision=precision, fuse_conv_bn=fuse_conv_bn)
    return model


def _metrics_json_path(args: argparse.Namespace, cfg: Config) -> str:
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    os.makedirs(osp.abspath(work_dir), exist_ok=True)
    return osp.join(work_dir, f'eval_{time.strftime("%Y%m%d_%H%M%S", time.localtime())}.json')


def _format_dir(args: argparse.Namespace, eval_kwargs: Dict[str, Any]) -> Optional[str]:
    """The folder of formatted results (``--format-only`` or ``--eval cityscapes``), created; else None."""
    if not (args.format_only or (args.eval and 'cityscapes' in args.eval)):
        return None
    folder = eval_kwargs.setdefault('imgfile_prefix', CITYSCAPES_TMPDIR)
    os.makedirs(folder, exist_ok=True)
    return folder


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def run_test(args: argparse.Namespace, cfg: Config, dataset: Any, model: torch.nn.Module, data_loader: Any,
             distributed: bool, eval_kwargs: Dict[str, Any]) -> Optional[List[Any]]:
    """Run the test loop in the mode the options ask for (pre-eval, formatting or label maps)."""
    on_format = bool(args.eval) and 'cityscapes' in args.eval
    pre_eval = bool(args.eval) and not on_format
    per_image = pre_eval and bool(args.out)  # --out keeps one confusion matrix per image (mmseg 0.x)
    format_only = args.format_only or on_format
    if format_only and not hasattr(dataset, 'format_results'):
        raise ConfigError(f'--format-only / --eval cityscapes: {type(dataset).__name__} cannot format results')
    if not distributed:
        return single_gpu_test(model, data_loader, args.show, args.show_dir, False, args.opacity,
                               pre_eval=pre_eval, format_only=format_only, format_args=eval_kwargs,
                               pre_eval_per_image=per_image)
    if args.show or args.show_dir:
        warn_once('--show / --show-dir are ignored in distributed testing')
    return multi_gpu_test(model, data_loader, args.tmpdir, args.gpu_collect, False, pre_eval=pre_eval,
                          format_only=format_only, format_args=eval_kwargs, pre_eval_per_image=per_image)


def report(args: argparse.Namespace, cfg: Config, dataset: Any, results: List[Any],
           eval_kwargs: Dict[str, Any], format_dir: Optional[str]) -> None:
    """On rank 0: write ``--out``, evaluate ``--eval`` and dump the metrics JSON."""
    if args.out:
        print_log(f'writing results to {args.out}')
        with atomic_write(args.out, 'wb') as f:  # Ctrl-C or a crash leaves no half-written file
            pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
    if not args.eval:
        return
    metric = dataset.evaluate(results, metric=args.eval, **eval_kwargs)
    json_file = _metrics_json_path(args, cfg)
    with atomic_write(json_file, 'w') as f:
        json.dump(_to_json(dict(config=args.config, metric=metric)), f, indent=4)
    print_log(f'metrics written to {json_file}')
    if format_dir is not None and 'cityscapes' in args.eval and 'imgfile_prefix' not in (args.eval_options or {}):
        shutil.rmtree(format_dir, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Test a checkpoint as ``tools/test.py`` of mmseg 0.x."""
    args = parse_args(argv)
    cfg = load_config(args)
    distributed = args.launcher != 'none'
    if distributed:
        init_dist(args.launcher, **_dist_params(cfg))
    try:
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
    eval_kwargs = dict(args.eval_options or {})
    if eval_kwargs.pop('efficient_test', False):
        warn_once('efficient_test=True has no effect in tools/test.py: evaluation is memory-efficient by default')
    format_dir = _format_dir(args, eval_kwargs)
    results = run_test(args, cfg, dataset, model, data_loader, distributed, eval_kwargs)
    if get_dist_info()[0] == 0:
        report(args, cfg, dataset, results, eval_kwargs, format_dir)
    if args.format_only and format_dir is not None:
        print_log(f'formatted results written to {format_dir}')


if __name__ == '__main__':
    run_cli(main)
