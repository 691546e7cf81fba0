"""Saves ``iter_N.pth`` / ``epoch_N.pth`` and ``latest.pth`` periodically, keeping at most ``max_keep_ckpts``."""
import os
import os.path as osp
from typing import Optional

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Checkpoints every ``interval`` iterations (or epochs) and at the end of training.

    Args:
        interval: the period, in iterations or epochs (-1: only at the end).
        by_epoch: count epochs instead of iterations.
        save_optimizer: also save the optimizer and the rest of the resume state.
        out_dir: save there instead of ``runner.work_dir``.
        max_keep_ckpts: remove older periodic checkpoints beyond this many (-1: keep all).
        save_last: also save after the last iteration/epoch when it is not a multiple of ``interval``.
        meta: extra entries for each checkpoint's ``meta`` (CLASSES, PALETTE, config text, ...).
    """

    def __init__(self, interval: int = -1, by_epoch: bool = True, save_optimizer: bool = True,
                 out_dir: Optional[str] = None, max_keep_ckpts: int = -1, save_last: bool = True,
                 meta: Optional[dict] = None):
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.out_dir = out_dir
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.meta = dict(meta or {})

    def before_run(self, runner) -> None:
        self.out_dir = self.out_dir or runner.work_dir
        if runner.rank == 0:
            runner.logger.info(f'Checkpoints will be saved to {self.out_dir}')

    def after_train_iter(self, runner) -> None:
        if self.by_epoch:
            return
        if self.every_n_iters(runner, self.interval) or (self.save_last and self.is_last_iter(runner)):
            self._save(runner, runner.iter + 1, 'iter_{}.pth')

    def after_train_epoch(self, runner) -> None:
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or (self.save_last and self.is_last_epoch(runner)):
            self._save(runner, runner.epoch + 1, 'epoch_{}.pth')

    def _save(self, runner, step: int, filename_tmpl: str) -> None:
        runner.logger.info(f'Saving checkpoint at {step} {"epochs" if self.by_epoch else "iterations"}')
        runner.meta.setdefault('hook_msgs', {})['last_ckpt'] = osp.join(self.out_dir, filename_tmpl.format(step))
        # every rank takes part (the state is gathered collectively); rank 0 writes
        runner.save_checkpoint(self.out_dir, filename_tmpl, save_optimizer=self.save_optimizer, meta=self.meta)
        if runner.rank != 0:
            return
        if self.max_keep_ckpts > 0 and self.interval > 0:
            oldest_kept = step - (self.max_keep_ckpts - 1) * self.interval
            for old in range(oldest_kept - self.interval, 0, -self.interval):
                path = osp.join(self.out_dir, filename_tmpl.format(old))
                if osp.exists(path):
                    os.remove(path)
