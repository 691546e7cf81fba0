"""Saves ``iter_N.pth`` / ``epoch_N.pth`` and ``latest.pth`` periodically, keeping at most ``max_keep_ckpts``."""
import os
import os.path as osp
import re
from typing import List, Optional

from ...checkpoint import LATEST
from ...registry import HOOKS
from ...utils import ConfigError
from ...utils.dist import allreduce_buffers
from .hook import Hook


def run_out_dir(out_dir: Optional[str], work_dir: str) -> str:
    """mmcv 1.x's output folder: ``work_dir``, or ``<out_dir>/<last folder of work_dir>`` when ``out_dir`` is set."""
    if not out_dir or osp.abspath(out_dir) == osp.abspath(work_dir):
        return work_dir
    return osp.join(out_dir, osp.basename(work_dir.rstrip(osp.sep)))


def check_local_file_client(owner: str, file_client_args: Optional[dict]) -> None:
    """Only local files: ``file_client_args`` must be None or ``dict(backend='disk')``."""
    if file_client_args is not None and (not isinstance(file_client_args, dict)
                                         or file_client_args.get('backend', 'disk') != 'disk'
                                         or set(file_client_args) - {'backend'}):
        raise ConfigError(f"{owner}: file_client_args must be None or dict(backend='disk') (local files only; "
                          f'remote storage is not supported), got {file_client_args!r}')


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Checkpoints every ``interval`` iterations (or epochs) and at the end of training (mmcv 1.7's arguments).

    Args:
        interval: the period, in iterations or epochs (-1: only at the end).
        by_epoch: count epochs instead of iterations.
        save_optimizer: also save the optimizer and the rest of the resume state.
        out_dir: save in ``<out_dir>/<last folder of work_dir>`` instead of ``runner.work_dir`` (as mmcv).
        max_keep_ckpts: remove older periodic checkpoints beyond this many (-1: keep all).
        save_last: also save after the last iteration/epoch when it is not a multiple of ``interval``.
        sync_buffer: average the buffers (BN statistics) over the ranks before saving.
        file_client_args: None or ``dict(backend='disk')`` (local files only).
        meta: extra entries for each checkpoint's ``meta`` (CLASSES, PALETTE, config text, ...).
        filename_tmpl: the checkpoint name (default ``iter_{}.pth`` / ``epoch_{}.pth``).
        create_symlink: update ``latest.pth`` (a hard link here, mmcv's symlink) after each save.
    """

    def __init__(self, interval: int = -1, by_epoch: bool = True, save_optimizer: bool = True,
                 out_dir: Optional[str] = None, max_keep_ckpts: int = -1, save_last: bool = True,
                 sync_buffer: bool = False, file_client_args: Optional[dict] = None, meta: Optional[dict] = None,
                 filename_tmpl: Optional[str] = None, create_symlink: bool = True):
        check_local_file_client('checkpoint_config', file_client_args)
        if filename_tmpl is not None and (not isinstance(filename_tmpl, str) or '{}' not in filename_tmpl):
            raise ConfigError(f"checkpoint_config.filename_tmpl must be a str with '{{}}' for the number, got "
                              f'{filename_tmpl!r}')
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.out_dir = out_dir
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.sync_buffer = sync_buffer
        self.meta = dict(meta or {})
        self.filename_tmpl = filename_tmpl
        self.create_symlink = create_symlink

    def before_run(self, runner) -> None:
        self.out_dir = run_out_dir(self.out_dir, runner.work_dir)
        if runner.rank == 0:
            runner.logger.info(f'Checkpoints will be saved to {self.out_dir}')
            remove_stale_temp_files(self.out_dir, runner.logger)

    def after_train_iter(self, runner) -> None:
        if self.by_epoch:
            return
        if self.every_n_iters(runner, self.interval) or (self.save_last and self.is_last_iter(runner)):
            self._save(runner, runner.iter + 1, self.filename_tmpl or 'iter_{}.pth')

    def after_train_epoch(self, runner) -> None:
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or (self.save_last and self.is_last_epoch(runner)):
            self._save(runner, runner.epoch + 1, self.filename_tmpl or 'epoch_{}.pth')

    def _save(self, runner, step: int, filename_tmpl: str) -> None:
        runner.logger.info(f'Saving checkpoint at {step} {"epochs" if self.by_epoch else "iterations"}')
        runner.meta.setdefault('hook_msgs', {})['last_ckpt'] = osp.join(self.out_dir, filename_tmpl.format(step))
        if self.sync_buffer:
            allreduce_buffers(runner.model)
        # every rank takes part (the state is gathered collectively); rank 0 writes
        runner.save_checkpoint(self.out_dir, filename_tmpl, save_optimizer=self.save_optimizer, meta=self.meta,
                               latest=self.create_symlink, by_epoch=self.by_epoch)
        if runner.rank != 0:
            return
        if self.max_keep_ckpts > 0 and self.interval > 0:
            oldest_kept = step - (self.max_keep_ckpts - 1) * self.interval
            olds = [osp.join(self.out_dir, filename_tmpl.format(old))
                    for old in range(oldest_kept - self.interval, 0, -self.interval)]
            remove_unreferenced(olds, self.out_dir, runner.logger)


def remove_stale_temp_files(folder: str, logger=None) -> None:
    """Remove the temporary checkpoint files a killed run left (``.iter_N.pth.*.tmp``, ``latest.pth.*.tmp``)."""
    if not osp.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.endswith('.tmp') and (re.fullmatch(r'\..+\.pth\.\w+\.tmp', name) or name.startswith(LATEST + '.')):
            os.remove(osp.join(folder, name))
            if logger is not None:
                logger.info(f'removed {osp.join(folder, name)}, left by an interrupted checkpoint write')


def _same_file(a: str, b: str) -> bool:
    try:
        return osp.samefile(a, b)
    except OSError:
        return False


def remove_unreferenced(paths: List[str], folder: str, logger=None) -> None:
    """Remove the existing ``paths``, except a file that ``latest.pth`` or a ``best_*.pth`` in ``folder`` is
    (a hard link, or a symlink pointing at it): those are kept, with a log line."""
    refs = [osp.join(folder, name) for name in os.listdir(folder)
            if name == LATEST or (name.startswith('best_') and name.endswith('.pth'))]
    for path in paths:
        if not osp.exists(path):
            continue
        keeper = next((ref for ref in refs if osp.abspath(ref) != osp.abspath(path) and _same_file(ref, path)), None)
        if keeper is not None:
            if logger is not None:
                logger.info(f'max_keep_ckpts: keeping {path}: {keeper} points to it')
            continue
        os.remove(path)
