"""Train a segmentor: ``python tools/train.py CONFIG [options]`` (the mmseg 0.x command line).

Examples::

    python tools/train.py configs/ddrnet/ddrnet_23_slim_512x1024_160k_cityscapes.py --work-dir work_dirs/slim
    python tools/train.py CONFIG --auto-resume --cfg-options data.samples_per_gpu=4
    bash train_dist.sh CONFIG 4            # torchrun, --launcher pytorch
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time
from typing import Any, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

import torch  # noqa: E402

from mmseg_ddrnet.apis.config_checks import adopt_head_ignore_index  # noqa: E402
from mmseg_ddrnet.config import Config, DictAction, load_config_file  # noqa: E402
from mmseg_ddrnet.utils.device import check_gpu_id  # noqa: E402
from mmseg_ddrnet.utils.dist import LAUNCHERS  # noqa: E402
from mmseg_ddrnet.utils.set_env import setup_multi_processes  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, get_root_logger, run_cli, warn_once  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402
from mmseg_ddrnet.utils.io import check_writable_dir  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The mmseg 0.x ``tools/train.py`` options (both ``--a-b`` and ``--a_b`` spellings)."""
    parser = ArgumentParser(prog='tools/train.py', description='mmseg_ddrnet: train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', '--work_dir', dest='work_dir',
                        help='the dir to save logs and models (default: the config\'s work_dir, else '
                             './work_dirs/<config name>)')
    parser.add_argument('--load-from', '--load_from', dest='load_from', 
                        help='the checkpoint file to load weights from (a new run starts at iter 0)')
    parser.add_argument('--resume-from', '--resume_from', dest='resume_from', 
                        help='the checkpoint file to resume from: weights, optimizer, iteration, schedule, RNGs')
    parser.add_argument('--no-validate', '--no_validate', dest='no_validate', action='store_true',
                        help='do not evaluate on data.val during training (default: evaluate as the config\'s '
                             'evaluation says)')
    gpus = parser.add_mutually_exclusive_group()
    gpus.add_argument('--gpus', type=int,
                        help='(deprecated, use --gpu-id; several GPUs: train_dist.sh) only one device is used')
    gpus.add_argument('--gpu-ids', '--gpu_ids', dest='gpu_ids', type=int, nargs='+',
                      help='(deprecated, use --gpu-id) only the first id is used')
    gpus.add_argument('--gpu-id', '--gpu_id', dest='gpu_id', type=int, default=0,
                      help='id of the GPU to use without --launcher (default: 0; the CPU when there is no CUDA device)')
    parser.add_argument('--seed', type=int, default=None, 
                        help='random seed (default: the config\'s seed, else a random one; it is logged)')
    parser.add_argument('--diff-seed', '--diff_seed', dest='diff_seed', action='store_true',
                        help='whether or not to set different seeds for different ranks')
    parser.add_argument('--deterministic', action='store_true',
                        help='cuDNN deterministic algorithms, no benchmark autotuning (GPU only; CPU runs are already '
                             'repeatable for a seed on one machine)')
    parser.add_argument('--options', nargs='+', action=DictAction, help='deprecated: use --cfg-options')
    parser.add_argument('--cfg-options', '--cfg_options', dest='cfg_options', nargs='+', action=DictAction,
                        help='override config values, key=value (a.b.c=1, list: key=[a,b] or key=a,b)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', 
                        help='job launcher (default: none, one process; pytorch: torchrun / train_dist.sh)')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of user errors too (or set MMSEG_DDRNET_DEBUG=1)')
    parser.add_argument('--local_rank', '--local-rank', dest='local_rank', type=int, default=0)
    parser.add_argument('--dist-backend', '--dist_backend', dest='dist_backend', choices=['nccl', 'gloo', 'mpi'],
                        help='torch.distributed backend (default: dist_params.backend, nccl on GPUs, gloo on CPU)')
    parser.add_argument('--auto-resume', '--auto_resume', dest='auto_resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir automatically')
    parser.add_argument('--unsafe-load', '--unsafe_load', dest='unsafe_load', action='store_true',
                        help='unpickle --load-from/--resume-from/auto-resumed checkpoints in full, not with '
                             'torch.load(weights_only=True): only for your own legacy files (it can run code)')
    parser.add_argument('--requeue', action='store_true',
                        help='under SLURM: after a stop signal saved the checkpoint, run scontrol requeue '
                             '$SLURM_JOB_ID (signal_config.requeue=True)')
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.options and args.cfg_options:
        raise ConfigError('--options and --cfg-options cannot both be specified; --options is deprecated in '
                          'favor of --cfg-options')
    if args.options:
        warn_once('--options is deprecated in favor of --cfg-options')
        args.cfg_options = args.options
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config with the command-line overrides (work_dir, checkpoints, GPUs, auto_resume) applied."""
    cfg = load_config_file(args.config, args.cfg_options)
    adopt_head_ignore_index(cfg)  # datasets without ignore_index evaluate with the decode head's
    setup_multi_processes(cfg)  # mp_start_method, opencv_num_threads
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.load_from is not None:
        cfg.load_from = args.load_from
    if args.resume_from is not None:
        cfg.resume_from = args.resume_from
    cfg.gpu_ids = _gpu_ids(args)
    if args.launcher == 'none':
        check_gpu_id(cfg.gpu_ids[0])
    cfg.auto_resume = args.auto_resume or bool(cfg.get('auto_resume', False))
    if args.requeue:
        cfg.signal_config = dict(cfg.get('signal_config') or {}, requeue=True)
    return cfg


def _gpu_ids(args: argparse.Namespace) -> List[int]:
    """The one device of a run without --launcher; the deprecated --gpus/--gpu-ids warn what is used instead."""
    device = 'the CPU (no CUDA device here)' if not torch.cuda.is_available() else None
    if args.gpus is not None:
        warn_once(f'--gpus is deprecated (mmseg 0.x): a run without --launcher trains on one device, '
                  f'{device or "GPU 0"}; for several GPUs run bash train_dist.sh CONFIG {args.gpus}')
        return [0]
    if args.gpu_ids is not None:
        warn_once(f'--gpu-ids is deprecated (mmseg 0.x), use --gpu-id: a run without --launcher trains on one '
                  f'device, {device or f"GPU {args.gpu_ids[0]}"}; for several GPUs run bash train_dist.sh')
        return [args.gpu_ids[0]]
    if device is not None and args.gpu_id > 0:
        warn_once(f'--gpu-id {args.gpu_id}: training on {device}')
    return [args.gpu_id]


def _setup_distributed(args: argparse.Namespace, cfg: Config) -> bool:
    """Initialise the process group for ``--launcher``; returns whether training is distributed."""
    if args.launcher == 'none':
        return False
    from mmseg_ddrnet.utils.dist import dist_init_args, get_dist_info, init_dist
    init_dist(args.launcher, **dist_init_args(cfg.get('dist_params'), args.dist_backend))
    cfg.gpu_ids = list(range(get_dist_info()[1]))
    return True


def _build_datasets(cfg: Config) -> List[Any]:
    from mmseg_ddrnet.datasets import build_dataset
    datasets = [build_dataset(cfg.data.train)]
    if len(cfg.get('workflow', [('train', 1)])) == 2:
        val_cfg = copy.deepcopy(cfg.data.val)
        val_cfg.pipeline = cfg.data.train.pipeline
        datasets.append(build_dataset(val_cfg))
    return datasets


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    distributed = _setup_distributed(args, cfg)
    code = _train(args, cfg, distributed)
    # after a normal end only: on an error each rank must print its line at once (torchrun stops the others
    # as soon as one exits); a group left undestroyed at exit hung a torchrun-restarted worker group
    if distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return code


def _train(args: argparse.Namespace, cfg: Config, distributed: bool) -> int:

    from mmseg_ddrnet.apis.train import init_random_seed, set_random_seed, train_segmentor
    from mmseg_ddrnet.utils.dist import get_dist_info, named_collective_failures
    from mmseg_ddrnet.utils.env import collect_env, format_env
    from mmseg_ddrnet.models import build_segmentor

    check_writable_dir(cfg.work_dir)  # refuse an unwritable work dir before any training
    rank = get_dist_info()[0]
    if rank == 0:
        cfg.dump(osp.join(cfg.work_dir, osp.basename(args.config)))
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger = get_root_logger(log_file=osp.join(cfg.work_dir, f'{timestamp}.log'),
                             log_level=cfg.get('log_level', 'INFO'))
    dash_line = '-' * 60
    env_info = format_env(collect_env())
    logger.info(f'Environment info:\n{dash_line}\n{env_info}\n{dash_line}')
    logger.info(f'Distributed training: {distributed}')
    logger.info(f'Config:\n{cfg.pretty_text}')

    # cfg.seed (data order and augmentations) is the same on every rank; --diff-seed varies the process RNGs
    cfg.seed = init_random_seed(args.seed if args.seed is not None else cfg.get('seed'))
    seed = cfg.seed + rank if args.diff_seed else cfg.seed
    deterministic = args.deterministic or bool(cfg.get('deterministic', False))  # the flag or the config key
    logger.info(f'Set random seed to {seed}, deterministic: {deterministic}')
    set_random_seed(seed, deterministic=deterministic)
    meta = dict(env_info=env_info, seed=seed, exp_name=osp.basename(args.config))

    model = build_segmentor(cfg.model, train_cfg=cfg.get('train_cfg'), test_cfg=cfg.get('test_cfg'))
    model.init_weights()
    logger.info(model)
    datasets = _build_datasets(cfg)
    model.CLASSES = datasets[0].CLASSES
    model.PALETTE = datasets[0].PALETTE
    with named_collective_failures():  # a dead or hung rank: one line naming it, not a backend traceback
        train_segmentor(model, datasets, cfg, distributed=distributed, validate=not args.no_validate,
                        timestamp=timestamp, meta=meta, unsafe_load=args.unsafe_load)
    return 0


if __name__ == '__main__':
    run_cli(main)
