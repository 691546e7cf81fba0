"""``train_segmentor`` (mmseg 0.x): data loaders, device placement / DDP, optimizer, runner, hooks, resume."""
import inspect
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..engine.hooks import DistEvalHook, EvalHook, SignalHook
from ..datasets import build_dataloader, build_dataset, loader_args
from ..engine.amp import build_mixed_precision
from ..checkpoint import find_latest_checkpoint, load_checkpoint
from ..utils.device import process_device
from ..engine.optimizer import build_optimizer
from ..engine.rng import init_random_seed, set_random_seed
from ..models.utils import revert_sync_batchnorm
from ..engine.runner import build_runner
from ..utils import ConfigError, get_root_logger, warn_once
from ..version import __version__
from .config_checks import check_model_against_dataset

__all__ = ['train_segmentor', 'init_random_seed', 'set_random_seed', 'find_latest_checkpoint']

_FP16_HOOK_KEYS = ('loss_scale', 'distributed', 'coalesce', 'bucket_size_mb')


def _loader_cfgs(cfg: Any, distributed: bool) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Arguments of ``build_dataloader`` for the training and the validation loaders (0.x precedence)."""
    common = dict(num_gpus=len(cfg.get('gpu_ids') or [0]), dist=distributed, seed=cfg.get('seed'), drop_last=True)
    train = loader_args(cfg.data, 'train', common)
    val = loader_args(cfg.data, 'val', common, dict(samples_per_gpu=1, shuffle=False, drop_last=False))
    return train, val


def _place_model(model: nn.Module, cfg: Any, distributed: bool) -> Tuple[nn.Module, torch.device]:
    """The model on its device, wrapped in DDP when distributed."""
    device = process_device((cfg.get('gpu_ids') or [0])[0], distributed)
    model = model.to(device)
    if distributed and device.type == 'cpu' and any(isinstance(m, nn.SyncBatchNorm) for m in model.modules()):
        warn_once('SyncBN cannot sync CPU processes under DDP: each process normalises with its own batch')
        model = revert_sync_batchnorm(model)
    if distributed:
        model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == 'cuda' else None, **_NO_FORWARD_BUFFER_SYNC,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    return model, device


# mmcv 1.x's MMDistributedDataParallel(broadcast_buffers=False): buffers synced from rank 0 when wrapping, not at
# every forward. torch >= 2.13 spells it forward_sync_buffers=False (broadcast_buffers is deprecated there).
_NO_FORWARD_BUFFER_SYNC = (dict(forward_sync_buffers=False)
                           if 'forward_sync_buffers' in inspect.signature(DistributedDataParallel).parameters
                           else dict(broadcast_buffers=False))


# optimizer_config types: the hook that runs the step, and whether the type turns fp16 on
_OPTIMIZER_HOOKS = {'OptimizerHook': ('OptimizerHook', False), 'Fp16OptimizerHook': ('OptimizerHook', True),
                    'GradientCumulativeOptimizerHook': ('GradientCumulativeOptimizerHook', False),
                    'GradientCumulativeFp16OptimizerHook': ('GradientCumulativeOptimizerHook', True)}


def _split_optimizer_config(cfg: Any) -> Tuple[dict, Optional[dict]]:
    """``optimizer_config`` for the optimizer hook (its ``type`` one of the runner's optimizer hooks), and the
    ``fp16`` settings (also from the Fp16 hook types, whose loss scaling ``runner.amp`` does)."""
    opt_cfg = dict(cfg.get('optimizer_config') or {})
    fp16 = cfg.get('fp16')
    fp16 = dict(fp16) if fp16 is not None else None
    hook_type = opt_cfg.pop('type', 'OptimizerHook')
    if hook_type not in _OPTIMIZER_HOOKS:
        raise ConfigError(f'optimizer_config.type must be one of {list(_OPTIMIZER_HOOKS)}, got {hook_type!r}')
    runner_hook, is_fp16 = _OPTIMIZER_HOOKS[hook_type]
    if is_fp16:
        fp16 = fp16 if fp16 is not None else {}
        if 'loss_scale' in opt_cfg:
            fp16.setdefault('loss_scale', opt_cfg['loss_scale'])
        for key in _FP16_HOOK_KEYS:
            opt_cfg.pop(key, None)
    opt_cfg['type'] = runner_hook
    if cfg.get('nan_policy') is not None:
        opt_cfg['nan_policy'] = cfg.nan_policy
    return opt_cfg, fp16


def _check_unsupported(cfg: Any) -> None:
    if cfg.get('optimizer') is None:
        raise ConfigError("the config has no optimizer (e.g. optimizer=dict(type='SGD', lr=0.01, momentum=0.9))")


def _runner_cfg(cfg: Any) -> dict:
    if cfg.get('runner') is None:
        if cfg.get('total_iters') is None:
            raise ConfigError("the config sets neither runner (e.g. runner=dict(type='IterBasedRunner', "
                              'max_iters=160000)) nor the legacy total_iters')
        warn_once('config: total_iters is deprecated; use runner=dict(type="IterBasedRunner", max_iters=...)')
        return dict(type='IterBasedRunner', max_iters=cfg.total_iters)
    runner = dict(cfg.runner)
    total_iters = cfg.get('total_iters')
    if total_iters is not None and total_iters != runner.get('max_iters'):
        # mmseg 0.x: the legacy total_iters is read only when there is no runner section
        warn_once(f'config: total_iters={total_iters} is ignored; runner={runner} is used (as mmseg 0.x)')
    return runner


def _checkpoint_meta(cfg: Any, dataset: Any, extra: dict) -> Dict[str, Any]:
    """What every checkpoint's meta holds besides the progress: CLASSES, PALETTE, config text, version."""
    meta: Dict[str, Any] = {'mmseg_ddrnet_version': __version__, 'config': cfg.pretty_text}
    classes, palette = getattr(dataset, 'CLASSES', None), getattr(dataset, 'PALETTE', None)
    if classes is not None:
        meta['CLASSES'] = [str(c) for c in classes]
    if palette is not None:
        meta['PALETTE'] = np.asarray(palette).tolist()
    meta.update(extra)
    return meta


def train_segmentor(model: nn.Module, dataset: Any, cfg: Any, distributed: bool = False, validate: bool = False,
                    timestamp: Optional[str] = None, meta: Optional[dict] = None, unsafe_load: bool = False) -> None:
    """Train ``model`` on ``dataset`` (one per workflow phase) as configured by ``cfg`` (mmseg 0.x keys).

    ``unsafe_load``: unpickle ``resume_from``/``load_from``/the auto-resumed checkpoint in full instead of with
    ``torch.load(weights_only=True)`` (``--unsafe-load``; only for trusted legacy files: it can run code).
    """
    _check_unsupported(cfg)
    logger = get_root_logger(log_level=cfg.get('log_level', 'INFO'))
    datasets: List[Any] = list(dataset) if isinstance(dataset, (list, tuple)) else [dataset]
    check_model_against_dataset(model, datasets[0])
    train_loader_cfg, val_loader_cfg = _loader_cfgs(cfg, distributed)
    data_loaders = [build_dataloader(ds, **train_loader_cfg) for ds in datasets]
    model, device = _place_model(model, cfg, distributed)
    optimizer = build_optimizer(model, cfg.optimizer)
    opt_cfg, fp16 = _split_optimizer_config(cfg)
    runner = build_runner(_runner_cfg(cfg), default_args=dict(
        model=model, optimizer=optimizer, work_dir=cfg.work_dir, logger=logger, meta=meta, device=device,
        amp=build_mixed_precision(fp16, device)))
    ckpt_cfg = dict(cfg.get('checkpoint_config') or {}) if cfg.get('checkpoint_config') is not None else None
    runner.checkpoint_meta = _checkpoint_meta(cfg, datasets[0], (ckpt_cfg or {}).pop('meta', {}))
    if timestamp is not None:
        runner.timestamp = timestamp
    runner.register_training_hooks(cfg.get('lr_config'), opt_cfg, ckpt_cfg, cfg.get('log_config'),
                                   cfg.get('momentum_config'))
    if validate:
        if cfg.data.get('val') is None:
            raise ConfigError('validation is on but the config has no data.val: add one, or pass --no-validate')
        val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
        val_loader = build_dataloader(val_dataset, **val_loader_cfg)
        eval_cfg = dict(cfg.get('evaluation') or {})
        eval_cfg['by_epoch'] = runner.max_epochs is not None
        hook_cls = DistEvalHook if distributed else EvalHook
        runner.register_hook(hook_cls(val_loader, **eval_cfg), priority='LOW')
    runner.register_custom_hooks(cfg.get('custom_hooks'))  # after the eval hook, as mmseg 0.x
    signal_hook = _signal_hook(cfg)
    runner.register_hook(signal_hook, priority='BELOW_NORMAL')  # after the step and the periodic checkpoint
    _resume_or_load(runner, cfg, logger, unsafe_load)
    with signal_hook.installed():
        runner.run(data_loaders, cfg.get('workflow', [('train', 1)]))


def _signal_hook(cfg: Any) -> SignalHook:
    """The :class:`SignalHook` of ``signal_config`` (default: stop cleanly on SIGTERM, SIGINT and SIGUSR1)."""
    signal_cfg = cfg.get('signal_config')
    if signal_cfg is None:
        signal_cfg = {}
    if not isinstance(signal_cfg, dict):
        raise ConfigError(f"signal_config must be a dict such as dict(signals=['SIGTERM'], requeue=True), "
                          f'got {signal_cfg!r}')
    try:
        return SignalHook(**signal_cfg)
    except TypeError as err:
        raise ConfigError(f'signal_config: {err}') from err


def _resume_or_load(runner: Any, cfg: Any, logger: Any, unsafe: bool) -> None:
    resume_from = cfg.get('resume_from')
    if resume_from is None and cfg.get('auto_resume'):
        resume_from = find_latest_checkpoint(cfg.work_dir, logger=logger)
        if resume_from is None:
            logger.info(f'auto_resume: no checkpoint in {cfg.work_dir}; starting from scratch')
    if resume_from:
        runner.resume(resume_from, unsafe=unsafe)
    elif cfg.get('load_from'):
        load_checkpoint(runner.model, cfg.load_from, map_location='cpu', logger=logger, skip_mismatched=True,
                        unsafe=unsafe)
        logger.info(f'load weights from {cfg.load_from}')
