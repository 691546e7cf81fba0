"""The runner base: hooks, one training/validation step, checkpoints that resume exactly."""
import logging
import os
import os.path as osp
import time
from typing import Any, Dict, List, Optional, Union

import torch
import torch.distributed as dist
from torch import nn

from ..checkpoint import (LATEST, extract_state_dict, get_state_dict, link_checkpoint, load_file, load_state_dict,
                          save_checkpoint)
from ..models import run_train_step
from ..registry import HOOKS, build_from_cfg
from ..utils import CheckpointError, ConfigError, NumericalError, get_root_logger
from ..utils.device import select_device, to_device
from ..utils.dist import get_dist_info, in_process_group, is_distributed, unwrap_model
from .amp import MixedPrecision
from .hooks import Hook, get_priority
from .log_buffer import LogBuffer
from .rng import get_rng_state, set_rng_state



class BaseRunner:
    """Holds the model, the optimizer, the hooks and the training progress.

    Args:
        model: the segmentor, possibly wrapped in ``DistributedDataParallel``.
        optimizer: its optimizer.
        work_dir: where checkpoints and logs go.
        logger: the logger (default: the package logger).
        meta: run metadata (``env_info``, ``seed``, ``exp_name``); logged first and kept in checkpoints.
        max_iters / max_epochs: the length of training (one of them, depending on the runner).
        amp: mixed-precision settings (default: full precision).
        device: where batches go (default: this process's GPU, else the CPU).
    """

    def __init__(self, model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
                 work_dir: Optional[str] = None, logger: Optional[logging.Logger] = None,
                 meta: Optional[dict] = None, max_iters: Optional[int] = None, max_epochs: Optional[int] = None,
                 amp: Optional[MixedPrecision] = None, device: Optional[torch.device] = None):
        if max_iters is not None and max_epochs is not None:
            raise ConfigError('runner: set only one of max_iters and max_epochs')
        self.model = model
        self.optimizer = optimizer
        self.work_dir = osp.abspath(work_dir or '.')
        os.makedirs(self.work_dir, exist_ok=True)
        self.logger = logger or get_root_logger()
        self.meta = dict(meta or {})
        self.device = select_device(device)
        self.amp = amp or MixedPrecision(self.device, enabled=False)
        self.rank, self.world_size = get_dist_info()
        self.timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
        self.log_buffer = LogBuffer()
        self.mode: Optional[str] = None
        self.data_loader = None
        self.outputs: Dict[str, Any] = {}
        self._hooks: List[Hook] = []
        self._epoch = self._iter = self._inner_iter = 0
        self._max_iters, self._max_epochs = max_iters, max_epochs
        self._in_iter = False  # inside a training iteration (after the forward, before the increment)
        self._epoch_done = False  # inside after_train_epoch
        self._resume_rng: Optional[dict] = None
        self.checkpoint_meta: Dict[str, Any] = {}  # CLASSES, PALETTE, config text, version: in every checkpoint

    # ------------------------------------------------------------------ progress
    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    @property
    def inner_iter(self) -> int:
        return self._inner_iter

    @property
    def max_iters(self) -> Optional[int]:
        return self._max_iters

    @property
    def max_epochs(self) -> Optional[int]:
        return self._max_epochs

    @property
    def hooks(self) -> List[Hook]:
        return self._hooks

    @property
    def seed(self) -> int:
        return int(self.meta.get('seed') or 0)

    def current_lr(self) -> List[float]:
        if self.optimizer is None:
            raise RuntimeError('lr is not applicable because the runner has no optimizer')
        return [group['lr'] for group in self.optimizer.param_groups]

    def current_momentum(self) -> List[float]:
        """The momentum of each parameter group (``betas[0]`` for Adam-like optimizers, 0 without momentum)."""
        if self.optimizer is None:
            raise RuntimeError('momentum is not applicable because the runner has no optimizer')
        return [group['momentum'] if 'momentum' in group else group['betas'][0] if 'betas' in group else 0
                for group in self.optimizer.param_groups]

    # ------------------------------------------------------------------ hooks
    def register_hook(self, hook: Hook, priority: Union[int, str] = 'NORMAL') -> None:
        """Insert ``hook``; hooks of equal priority run in the order they were registered."""
        if not isinstance(hook, Hook):
            raise ConfigError(f'{type(hook).__name__} is not a Hook')
        hook.priority = get_priority(priority)
        index = next((i for i, h in enumerate(self._hooks) if hook.priority < h.priority), len(self._hooks))
        self._hooks.insert(index, hook)
        hook.on_register(self)

    def register_hook_from_cfg(self, cfg: dict, default_priority: Union[int, str] = 'NORMAL') -> None:
        cfg = dict(cfg)
        priority = cfg.pop('priority', default_priority)
        self.register_hook(build_from_cfg(cfg, HOOKS), priority=priority)

    def call_hook(self, stage: str) -> None:
        for hook in self._hooks:
            getattr(hook, stage)(self)

    def hooks_info(self) -> str:
        lines = []
        for stage in Hook.STAGES:
            names = [f'({h.priority:<3}) {type(h).__name__}' for h in self._hooks
                     if stage in h.get_triggered_stages()]
            if names:
                lines.append(f'{stage}:\n' + '\n'.join(names))
        return '\n'.join(lines)

    # ------------------------------------------------------------------ one step
    def run_iter(self, data_batch: Dict[str, Any], train_mode: bool) -> Dict[str, Any]:
        """Forward one batch and parse its losses; the backward pass is the optimizer hook's."""
        outputs = run_train_step(self.model, to_device(data_batch, self.device), self.amp.autocast())
        if not train_mode:
            outputs['log_vars'] = {f'{key}_val': value for key, value in outputs['log_vars'].items()}
        self.log_buffer.update(outputs['log_vars'], outputs['num_samples'])
        return outputs

    def broadcast_buffers(self) -> None:
        """Copy rank 0's buffers (BN running statistics) to every rank."""
        if is_distributed():
            for buffer in unwrap_model(self.model).buffers():
                dist.broadcast(buffer.data, 0)

    # ------------------------------------------------------------------ checkpoints
    def completed(self) -> Dict[str, int]:
        """Iterations and epochs finished, counting the one in progress when a hook is saving."""
        raise NotImplementedError

    def checkpoint_state(self, meta: Optional[dict], save_optimizer: bool) -> Dict[str, Any]:
        """Everything a checkpoint holds; collective when distributed (the RNG states of every rank)."""
        full_meta = {key: value for key, value in self.meta.items() if key != 'env_info'}
        full_meta.update(self.checkpoint_meta)
        full_meta.update(meta or {})
        full_meta.update(self.completed())
        state: Dict[str, Any] = {'meta': full_meta, 'state_dict': get_state_dict(self.model)}
        if save_optimizer and self.optimizer is not None:
            state['optimizer'] = self.optimizer.state_dict()
            if self.amp.scaler is not None:
                state['amp'] = self.amp.state_dict()
        rng = get_rng_state()
        if is_distributed():
            gathered: List[Any] = [None] * self.world_size
            dist.all_gather_object(gathered, rng)
            rng = gathered
        else:
            rng = [rng]
        state['rng'] = rng
        return state

    def save_checkpoint(self, out_dir: str, filename_tmpl: str = 'iter_{}.pth', save_optimizer: bool = True,
                        meta: Optional[dict] = None, latest: bool = True, by_epoch: Optional[bool] = None) -> str:
        """Save the checkpoint of the current progress (all ranks call; rank 0 writes); returns its path.

        ``filename_tmpl`` gets the epochs done with ``by_epoch`` (default: when it starts with ``epoch``), else
        the iterations. ``latest.pth`` becomes a hard link to it (a copy where links are impossible), replaced
        atomically. Non-finite weights are refused (:class:`NumericalError`) rather than written over a good
        checkpoint. A failed write (full disk, unwritable folder) raises :class:`CheckpointError` on every rank
        together.
        """
        done = self.completed()
        by_epoch = filename_tmpl.startswith('epoch') if by_epoch is None else by_epoch
        step = done['epoch'] if by_epoch else done['iter']
        path = osp.join(out_dir, filename_tmpl.format(step))
        state = self.checkpoint_state(meta, save_optimizer)
        bad = [key for key, value in state['state_dict'].items()  # the same weights on every rank (DDP)
               if value.is_floating_point() and not bool(torch.isfinite(value).all())]
        if bad:
            raise NumericalError(f'refusing to save {path}: non-finite weights in {bad[:5]} (iteration '
                                 f'{done["iter"]}); the previous checkpoints are kept')
        error: Optional[str] = None
        if self.rank == 0:
            try:
                save_checkpoint(state, path)
                if latest:
                    link_checkpoint(path, osp.join(out_dir, LATEST))
            except CheckpointError as err:
                error = str(err)
        self._agree_on_save(error, path)
        return path

    def _agree_on_save(self, error: Optional[str], path: str) -> None:
        """Raise the writer's :class:`CheckpointError` on every rank (so none waits for the others forever)."""
        if in_process_group():
            messages: List[Optional[str]] = [error]
            dist.broadcast_object_list(messages, src=0)
            error = messages[0]
        if error is not None:
            raise CheckpointError(error if self.rank == 0 else f'rank 0 could not save {path}: {error}')

    def resume(self, checkpoint: str, resume_optimizer: bool = True, map_location: Any = 'cpu',
               unsafe: bool = False) -> None:
        """Restore weights, optimizer, AMP scaler, progress and (at the next run) every RNG.

        ``unsafe``: unpickle the file in full (see :func:`~mmseg_ddrnet.checkpoint.load_file`).
        """
        ckpt = load_file(checkpoint, map_location, unsafe=unsafe)
        meta = (ckpt.get('meta') if isinstance(ckpt, dict) else None) or {}
        if 'iter' not in meta or 'epoch' not in meta:
            raise CheckpointError(f'{checkpoint} has no training progress (meta.iter/meta.epoch): it holds weights '
                                  'only; use --load-from to start from it')
        try:
            load_state_dict(self.model, extract_state_dict(ckpt, checkpoint), strict=True, logger=self.logger)
        except CheckpointError as err:
            raise CheckpointError(f'{checkpoint}: {err}') from err
        self._iter, self._epoch = int(meta['iter']), int(meta['epoch'])
        if resume_optimizer and self.optimizer is not None:
            self._resume_optimizer(ckpt.get('optimizer'), checkpoint)
        if 'amp' in ckpt:
            self.amp.load_state_dict(ckpt['amp'])
        self._resume_rng = self._pick_rng(ckpt.get('rng'), checkpoint)
        self.meta.setdefault('hook_msgs', {}).update(meta.get('hook_msgs') or {})
        self.logger.info(f'resumed from {checkpoint}: epoch {self.epoch}, iter {self.iter}')

    def _resume_optimizer(self, state: Optional[dict], checkpoint: str) -> None:
        """Load the optimizer state; without one (a weights-only file) warn that the optimizer restarts."""
        if not state:
            self.logger.warning(f'{checkpoint} holds no optimizer state: the optimizer restarts (momentum and other '
                                f'statistics from zero) while the schedule continues at iter {self.iter}; '
                                'to start a new run from these weights instead use --load-from')
            return
        try:
            self.optimizer.load_state_dict(state)
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f'{checkpoint}: its optimizer state does not fit this config\'s optimizer '
                                  f'({err}); use --load-from to start from its weights') from err

    def _pick_rng(self, rng: Optional[list], checkpoint: str) -> Optional[dict]:
        if not rng:
            self.logger.warning(f'{checkpoint} holds no RNG state: the resumed run will not repeat the same '
                                'random draws')
            return None
        if len(rng) != self.world_size:
            self.logger.warning(f'{checkpoint} was saved by {len(rng)} process(es), this run has '
                                f'{self.world_size}: the random streams will differ from an uninterrupted run')
        return rng[self.rank % len(rng)]

    def restore_resumed_rng(self) -> None:
        """Restore the RNG states of the resumed checkpoint (called just before the first iteration)."""
        if self._resume_rng is not None:
            set_rng_state(self._resume_rng)
            self._resume_rng = None
