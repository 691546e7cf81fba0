"""The test run of ``tools/test.py`` and ``tools/deploy_test.py``: option checks, the test config, the loader,
and the evaluate / format / ``--out`` flow around the test loops, whatever model (checkpoint or ONNX) runs."""
import json
import os
import os.path as osp
import pickle
import shutil
import time
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from ..config import Config, load_config_file
from ..datasets import build_dataloader, loader_args
from ..evaluation import multi_gpu_test, single_gpu_test
from ..export import ONNXRuntimeSegmentor
from ..utils import ConfigError, print_log, warn_once
from ..utils.dist import get_dist_info
from ..utils.set_env import setup_multi_processes
from ..utils.io import atomic_write
from ..visualization import resolve_show
from .config_checks import adopt_head_ignore_index, check_model_against_dataset

METRICS = ('mIoU', 'mDice', 'mFscore', 'cityscapes')
AUG_TEST_RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
CITYSCAPES_TMPDIR = '.format_cityscapes'


@dataclass
class OutputOptions:
    """What a test run writes and evaluates (the command-line options of the test tools); checked when built.

    ``config`` (its path) goes into the metrics JSON and names the default work dir; ``eval_options`` are the
    keyword arguments of ``dataset.evaluate`` / ``format_results``; ``tmpdir``/``gpu_collect`` collect the
    results of several ranks.
    """
    config: str
    out: Optional[str] = None
    eval: Optional[List[str]] = None
    format_only: bool = False
    show: bool = False
    show_dir: Optional[str] = None
    opacity: float = 0.5
    work_dir: Optional[str] = None
    eval_options: Optional[Dict[str, Any]] = None
    tmpdir: Optional[str] = None
    gpu_collect: bool = False

    def __post_init__(self) -> None:
        self.show = resolve_show(self.show, '--show-dir DIR',
                                 bool(self.out or self.eval or self.format_only or self.show_dir))
        if not (self.out or self.eval or self.format_only or self.show or self.show_dir):
            raise ConfigError('nothing to do: specify at least one of --out, --eval, --format-only, --show, '
                              '--show-dir')
        if self.eval and self.format_only:
            raise ConfigError('--eval and --format-only cannot both be specified')
        if self.out is not None and not self.out.endswith(('.pkl', '.pickle')):
            raise ConfigError(f'--out must name a .pkl or .pickle file, got {self.out}')
        unknown = [m for m in self.eval or [] if m not in METRICS]
        if unknown:
            raise ConfigError(f'--eval: unknown metric(s) {", ".join(unknown)}; choose among {", ".join(METRICS)}')
        if self.on_format and len(self.eval) > 1:
            raise ConfigError('--eval cityscapes evaluates formatted results and cannot be combined with other '
                              'metrics')
        if not 0 < self.opacity <= 1:
            raise ConfigError(f'--opacity must be in (0, 1], got {self.opacity}')

    @classmethod
    def from_args(cls, args: Any) -> 'OutputOptions':
        """The options of the same names in an ``argparse.Namespace`` (absent ones keep their defaults)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    @property
    def on_format(self) -> bool:
        """``--eval cityscapes``: evaluated from formatted results."""
        return bool(self.eval) and 'cityscapes' in self.eval


def load_test_config(config: str, cfg_options: Optional[dict] = None, aug_test: bool = False) -> Config:
    """The config with ``cfg_options`` merged, set up for testing: multi-processing settings, no pretrained
    weights nor train_cfg, ``data.test.test_mode``; ``aug_test``: the multi-scale (0.5-1.75) and flip test."""
    cfg = load_config_file(config, cfg_options)
    adopt_head_ignore_index(cfg)
    setup_multi_processes(cfg)  # mp_start_method, opencv_num_threads
    if aug_test:
        aug = _multi_scale_flip_aug(cfg.data.test.pipeline, config)
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


def build_test_loader(cfg: Config, dataset: Any, distributed: bool) -> Any:
    """The test loader: the ``data`` settings, one image per GPU, no shuffling, ``data.test_dataloader`` on top."""
    return build_dataloader(dataset, **loader_args(cfg.data, 'test', dict(num_gpus=1, dist=distributed, shuffle=False),
                                                   dict(samples_per_gpu=1, shuffle=False)))


def build_onnxruntime_segmentor(cfg: Config, onnx_file: str, dataset: Any, device: str = 'cpu',
                                num_threads: Optional[int] = None) -> ONNXRuntimeSegmentor:
    """The exported model with the config's ``test_cfg`` and ``align_corners``; CLASSES and PALETTE from the
    file's metadata, else from ``dataset``."""
    test_cfg = cfg.model.get('test_cfg') or cfg.get('test_cfg')
    model = ONNXRuntimeSegmentor(onnx_file, align_corners=bool(cfg.model.decode_head.get('align_corners', False)),
                                 device=device, num_threads=num_threads, test_cfg=test_cfg)
    for key in ('CLASSES', 'PALETTE'):
        if getattr(model, key, None) is None:
            print_log(f'"{key}" not found in the ONNX metadata, using dataset.{key} instead')
            setattr(model, key, getattr(dataset, key, None))
    return model


def test_and_report(options: OutputOptions, cfg: Config, dataset: Any, model: torch.nn.Module, data_loader: Any,
                    distributed: bool = False) -> Optional[dict]:
    """Run the test loop in the mode the options ask for, then on rank 0 write ``--out``, evaluate ``--eval``
    (metrics JSON in the work dir) and report formatted results. Returns the metrics (rank 0, ``--eval``)."""
    check_model_against_dataset(model, dataset)
    eval_kwargs = dict(options.eval_options or {})
    if eval_kwargs.pop('efficient_test', False):
        warn_once('efficient_test=True has no effect: evaluation is memory-efficient by default')
    format_dir = _format_dir(options, eval_kwargs)
    results = _run_loop(options, dataset, model, data_loader, distributed, eval_kwargs)
    metric = None
    if get_dist_info()[0] == 0:
        metric = _report(options, cfg, dataset, results, eval_kwargs, format_dir)
    if options.format_only and format_dir is not None:
        print_log(f'formatted results written to {format_dir}')
    return metric


def _format_dir(options: OutputOptions, eval_kwargs: Dict[str, Any]) -> Optional[str]:
    """The folder of formatted results (``--format-only`` or ``--eval cityscapes``), created; else None."""
    if not (options.format_only or options.on_format):
        return None
    folder = eval_kwargs.setdefault('imgfile_prefix', CITYSCAPES_TMPDIR)
    os.makedirs(folder, exist_ok=True)
    return folder


def _run_loop(options: OutputOptions, dataset: Any, model: torch.nn.Module, data_loader: Any, distributed: bool,
              eval_kwargs: Dict[str, Any]) -> Optional[List[Any]]:
    """The test loop in the mode the options ask for (pre-eval, formatting or label maps)."""
    pre_eval = bool(options.eval) and not options.on_format
    per_image = pre_eval and bool(options.out)  # --out keeps one confusion matrix per image (mmseg 0.x)
    format_only = options.format_only or options.on_format
    if format_only and not hasattr(dataset, 'format_results'):
        raise ConfigError(f'--format-only / --eval cityscapes: {type(dataset).__name__} cannot format results')
    if not distributed:
        return single_gpu_test(model, data_loader, options.show, options.show_dir, False, options.opacity,
                               pre_eval=pre_eval, format_only=format_only, format_args=eval_kwargs,
                               pre_eval_per_image=per_image)
    if options.show or options.show_dir:
        warn_once('--show / --show-dir are ignored in distributed testing')
    return multi_gpu_test(model, data_loader, options.tmpdir, options.gpu_collect, False, pre_eval=pre_eval,
                          format_only=format_only, format_args=eval_kwargs, pre_eval_per_image=per_image)


def _report(options: OutputOptions, cfg: Config, dataset: Any, results: List[Any], eval_kwargs: Dict[str, Any],
            format_dir: Optional[str]) -> Optional[dict]:
    """Write ``--out``, evaluate ``--eval`` and dump the metrics JSON."""
    if options.out:
        print_log(f'writing results to {options.out}')
        with atomic_write(options.out, 'wb') as f:  # Ctrl-C or a crash leaves no half-written file
            pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
    if not options.eval:
        return None
    metric = dataset.evaluate(results, metric=options.eval, **eval_kwargs)
    json_file = _metrics_json_path(options, cfg)
    with atomic_write(json_file, 'w') as f:
        json.dump(_to_json(dict(config=options.config, metric=metric)), f, indent=4)
    print_log(f'metrics written to {json_file}')
    if format_dir is not None and options.on_format and 'imgfile_prefix' not in (options.eval_options or {}):
        shutil.rmtree(format_dir, ignore_errors=True)
    return metric


def _metrics_json_path(options: OutputOptions, cfg: Config) -> str:
    work_dir = options.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(options.config))[0])
    os.makedirs(osp.abspath(work_dir), exist_ok=True)
    return osp.join(work_dir, f'eval_{time.strftime("%Y%m%d_%H%M%S", time.localtime())}.json')


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
