"""``IterBasedRunner`` and ``EpochBasedRunner`` (mmcv 1.x behaviour) and the standard training hooks."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import DataLoader

from ..registry import HOOKS, RUNNERS, build_from_cfg
from ..utils import ConfigError
from ..utils.faults import fault_point
from .base_runner import BaseRunner
from .data_iter import IterLoader, epoch_iterator
from .hooks import CheckpointHook, IterTimerHook
from .updater_hooks import build_lr_hook, build_momentum_hook

Workflow = Sequence[Tuple[str, int]]


def _check_workflow(data_loaders: List[DataLoader], workflow: Workflow) -> None:
    if not isinstance(workflow, (list, tuple)) or not workflow:
        raise ConfigError(f"workflow must be a list such as [('train', 1)], got {workflow!r}")
    for flow in workflow:
        if (not isinstance(flow, (list, tuple)) or len(flow) != 2 or flow[0] not in ('train', 'val')
                or not isinstance(flow[1], int) or flow[1] <= 0):
            raise ConfigError(f"workflow entries must be ('train' or 'val', positive int), got {flow!r}")
    if len(data_loaders) != len(workflow):
        raise ConfigError(f'workflow has {len(workflow)} phase(s) but {len(data_loaders)} data loader(s) were '
                          'given (one dataset per workflow phase)')
    if not any(mode == 'train' for mode, _ in workflow):
        raise ConfigError(f"workflow {workflow!r} has no 'train' phase")


class _TrainingRunner(BaseRunner):
    """What both runners share: standard hooks, training and validation iterations."""

    by_epoch_default = True

    def register_training_hooks(self, lr_config: Optional[dict], optimizer_config: Optional[dict] = None,
                                checkpoint_config: Optional[dict] = None, log_config: Optional[dict] = None,
                                momentum_config: Optional[dict] = None,
                                custom_hooks_config: Optional[List[dict]] = None) -> None:
        """Register the lr, momentum, optimizer, checkpoint, timer, logger and custom hooks (mmcv's order and
        priorities)."""
        if lr_config is not None:
            self.register_hook(build_lr_hook(lr_config, self.by_epoch_default), priority='VERY_HIGH')
        if momentum_config is not None:
            self.register_hook(build_momentum_hook(momentum_config, self.by_epoch_default), priority='HIGH')
        opt_cfg = dict(optimizer_config or {})
        opt_cfg.setdefault('type', 'OptimizerHook')  # or GradientCumulativeOptimizerHook
        self.register_hook(build_from_cfg(opt_cfg, HOOKS), priority='ABOVE_NORMAL')
        if checkpoint_config is not None:
            ckpt_cfg = dict(checkpoint_config)
            ckpt_cfg.pop('type', None)
            ckpt_cfg.setdefault('by_epoch', self.by_epoch_default)
            self.register_hook(CheckpointHook(**ckpt_cfg), priority='NORMAL')
        self.register_hook(IterTimerHook(), priority='LOW')
        self._register_logger_hooks(log_config)
        self.register_custom_hooks(custom_hooks_config)

    def register_custom_hooks(self, custom_hooks_config: Optional[List[dict]]) -> None:
        """Register ``custom_hooks`` (each a dict with ``type`` and an optional ``priority``, default NORMAL)."""
        if custom_hooks_config is None:
            return
        if not isinstance(custom_hooks_config, (list, tuple)):
            raise ConfigError(f'custom_hooks must be a list of dicts, got {custom_hooks_config!r}')
        for hook_cfg in custom_hooks_config:
            if not isinstance(hook_cfg, dict):
                raise ConfigError(f'custom_hooks entries must be dicts with a "type", got {hook_cfg!r}')
            self.register_hook_from_cfg(hook_cfg)

    def _register_logger_hooks(self, log_config: Optional[dict]) -> None:
        if log_config is None:
            return
        interval = log_config.get('interval', 10)
        for info in log_config.get('hooks', []):
            info = dict(info)
            info.setdefault('interval', interval)
            info.setdefault('by_epoch', self.by_epoch_default)
            self.register_hook_from_cfg(info, default_priority='VERY_LOW')

    def train_iter(self, data_batch: Dict[str, Any]) -> None:
        """One training iteration: hooks around the forward pass (the optimizer hook does the step)."""
        self.data_batch = data_batch
        self._in_iter = True
        self.call_hook('before_train_iter')
        self.outputs = self.run_iter(data_batch, train_mode=True)
        fault_point(f'train_iter:{self.iter + 1}')
        self.call_hook('after_train_iter')
        del self.data_batch
        self._iter += 1
        self._in_iter = False

    def val_iter(self, data_batch: Dict[str, Any]) -> None:
        self.call_hook('before_val_iter')
        with torch.no_grad():
            self.outputs = self.run_iter(data_batch, train_mode=False)
        self.call_hook('after_val_iter')

    def _log_start(self, workflow: Workflow, length: str) -> None:
        self.logger.info(f'Start running, work_dir: {self.work_dir}')
        self.logger.info(f'Hooks will be executed in the following order:\n{self.hooks_info()}')
        self.logger.info(f'workflow: {list(workflow)}, max: {length}')


@RUNNERS.register_module()
class IterBasedRunner(_TrainingRunner):
    """Trains for ``max_iters`` iterations, cycling over the data loaders (mmcv 1.x ``IterBasedRunner``)."""

    by_epoch_default = False

    def completed(self) -> Dict[str, int]:
        iters = self.iter + (1 if self._in_iter else 0)
        length = len(self._train_loader) if getattr(self, '_train_loader', None) is not None else 0
        return {'iter': iters, 'epoch': iters // length if length else self.epoch}

    def run(self, data_loaders: List[DataLoader], workflow: Workflow, max_iters: Optional[int] = None) -> None:
        """Run ``workflow`` (e.g. ``[('train', 1)]``) over ``data_loaders`` until ``max_iters``."""
        _check_workflow(data_loaders, workflow)
        if max_iters is not None:
            self._max_iters = max_iters
        if not self.max_iters or self.max_iters <= 0:
            raise ConfigError(f'runner.max_iters must be a positive int, got {self.max_iters!r}')
        self._train_loader = data_loaders[[mode for mode, _ in workflow].index('train')]
        self._log_start(workflow, f'{self.max_iters} iters')
        self.call_hook('before_run')
        loaders = [IterLoader(loader, self.seed, self.iter if mode == 'train' else 0)
                   for loader, (mode, _) in zip(data_loaders, workflow)]
        self.restore_resumed_rng()
        self.data_loader = self._train_loader
        self.call_hook('before_train_epoch')
        while self.iter < self.max_iters:
            for loader, (mode, iters) in zip(loaders, workflow):
                if mode == 'train':
                    self._train_phase(loader, iters)
                else:
                    self._val_phase(loader, iters)
        self.call_hook('after_train_epoch')
        self.call_hook('after_run')

    def _train_phase(self, loader: IterLoader, iters: int) -> None:
        self.mode = 'train'
        self.model.train()
        self.data_loader = loader.loader
        for _ in range(iters):
            if self.iter >= self.max_iters:
                return
            batch = next(loader)
            self._epoch, self._inner_iter = loader.epoch, loader.inner_iter
            self.train_iter(batch)

    def _val_phase(self, loader: IterLoader, iters: int) -> None:
        self.mode = 'val'
        self.model.eval()
        self.data_loader = loader.loader
        self.call_hook('before_val_epoch')
        for _ in range(iters):
            self.val_iter(next(loader))
        self.call_hook('after_val_epoch')


@RUNNERS.register_module()
class EpochBasedRunner(_TrainingRunner):
    """Trains for ``max_epochs`` epochs (mmcv 1.x ``EpochBasedRunner``)."""

    def completed(self) -> Dict[str, int]:
        return {'iter': self.iter + (1 if self._in_iter else 0), 'epoch': self.epoch + (1 if self._epoch_done else 0)}

    def run(self, data_loaders: List[DataLoader], workflow: Workflow, max_epochs: Optional[int] = None) -> None:
        """Run ``workflow`` (e.g. ``[('train', 1)]``) over ``data_loaders`` until ``max_epochs``."""
        _check_workflow(data_loaders, workflow)
        if max_epochs is not None:
            self._max_epochs = max_epochs
        if not self.max_epochs or self.max_epochs <= 0:
            raise ConfigError(f'runner.max_epochs must be a positive int, got {self.max_epochs!r}')
        train_loader = data_loaders[[mode for mode, _ in workflow].index('train')]
        self._max_iters = self.max_epochs * len(train_loader)
        self._log_start(workflow, f'{self.max_epochs} epochs')
        self.call_hook('before_run')
        while self.epoch < self.max_epochs:
            for loader, (mode, epochs) in zip(data_loaders, workflow):
                for _ in range(epochs):
                    if mode == 'train' and self.epoch >= self.max_epochs:
                        break
                    self.train_epoch(loader) if mode == 'train' else self.val_epoch(loader)
        self.call_hook('after_run')

    def train_epoch(self, loader: DataLoader) -> None:
        self.mode = 'train'
        self.model.train()
        self.data_loader = loader
        skip = self.iter - self.epoch * len(loader)  # > 0 when resuming from a mid-epoch checkpoint
        batches = epoch_iterator(loader, self.epoch, self.seed, max(skip, 0))
        self.restore_resumed_rng()
        self.call_hook('before_train_epoch')
        for self._inner_iter, batch in enumerate(batches, start=max(skip, 0)):
            self.train_iter(batch)
        self._epoch_done = True
        self.call_hook('after_train_epoch')
        self._epoch_done = False
        self._epoch += 1

    def val_epoch(self, loader: DataLoader) -> None:
        self.mode = 'val'
        self.model.eval()
        self.data_loader = loader
        batches = epoch_iterator(loader, self.epoch, self.seed)
        self.call_hook('before_val_epoch')
        for self._inner_iter, batch in enumerate(batches):
            self.val_iter(batch)
        self.call_hook('after_val_epoch')


def build_runner(cfg: dict, default_args: Dict[str, Any]) -> BaseRunner:
    """A runner from ``cfg.runner`` (``type`` and ``max_iters`` / ``max_epochs``) and the shared arguments."""
    args = dict(cfg)
    runner_type = args.pop('type', None)
    if not isinstance(runner_type, str) or runner_type not in RUNNERS:
        raise ConfigError(f'runner.type must be one of {sorted(RUNNERS.module_dict)}, got {runner_type!r}')
    if 'batch_processor' in args:
        raise ConfigError('runner.batch_processor is not supported: mmcv 1.x deprecated it (the model\'s '
                          'train_step/forward does the step); remove it from runner')
    unknown = sorted(set(args) - {'max_iters', 'max_epochs'})
    if unknown:
        raise ConfigError(f'runner: unknown key(s) {unknown} for {runner_type}')
    return RUNNERS.get(runner_type)(**args, **default_args)
