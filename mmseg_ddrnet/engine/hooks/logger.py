"""Logger hooks: the text log with ETA (``<timestamp>.log``) and the JSON-lines log (``<timestamp>.log.json``)."""
import datetime
import json
import numbers
import os
import os.path as osp
import resource
import shutil
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from ...registry import HOOKS
from ...utils import ConfigError
from .hook import Hook

_NOT_LOGGED_AS_ITEMS = ('mode', 'epoch', 'iter', 'lr', 'time', 'data_time', 'memory', 'eta')


def peak_memory_mb(device: torch.device) -> int:
    """Peak memory in MB: CUDA memory allocated on GPUs, the process's peak RSS on the CPU."""
    if device.type == 'cuda':
        return int(torch.cuda.max_memory_allocated(device) / 1024 ** 2)
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # kB on Linux


class LoggerHook(Hook):
    """Base of the logger hooks: decides when the averaged values of :attr:`runner.log_buffer` are logged.

    Args:
        interval: log every ``interval`` iterations.
        ignore_last: do not log the last iterations of an epoch that do not fill an interval.
        reset_flag: clear the averaged output after logging it.
        by_epoch: count iterations within epochs (``Epoch [e][i/n]``) rather than globally (``Iter [i/N]``).
    """

    def __init__(self, interval: int = 10, ignore_last: bool = True, reset_flag: bool = False,
                 by_epoch: bool = True):
        self.interval = interval
        self.ignore_last = ignore_last
        self.reset_flag = reset_flag
        self.by_epoch = by_epoch

    def log(self, runner) -> None:
        raise NotImplementedError

    @staticmethod
    def get_mode(runner) -> str:
        """``'train'``, or ``'val'`` when the buffer holds evaluation results (no iteration time)."""
        if runner.mode == 'train' and 'time' in runner.log_buffer.output:
            return 'train'
        return 'val'

    def get_iter(self, runner, inner_iter: bool = False) -> int:
        """The 1-based iteration: within the epoch with ``by_epoch`` and ``inner_iter``, else global (mmcv)."""
        return runner.inner_iter + 1 if self.by_epoch and inner_iter else runner.iter + 1

    @staticmethod
    def is_scalar(value: Any) -> bool:
        """A number, a 0-d numpy array or a one-element tensor (mmcv's rule)."""
        if isinstance(value, numbers.Number):
            return True
        if isinstance(value, np.ndarray):
            return value.ndim == 0
        return isinstance(value, torch.Tensor) and value.numel() == 1

    def get_loggable_tags(self, runner, allow_scalar: bool = True, allow_text: bool = False, add_mode: bool = True,
                          tags_to_skip: Tuple[str, ...] = ('time', 'data_time')) -> Dict[str, Any]:
        """mmcv's tags: ``<mode>/<key>`` for the averaged values, plus ``learning_rate`` and ``momentum``."""
        tags: Dict[str, Any] = {}
        for key, value in runner.log_buffer.output.items():
            if key in tags_to_skip or (self.is_scalar(value) and not allow_scalar) \
                    or (isinstance(value, str) and not allow_text):
                continue
            tags[f'{self.get_mode(runner)}/{key}' if add_mode else key] = value
        tags['learning_rate'] = runner.current_lr()[0]
        tags['momentum'] = runner.current_momentum()[0]
        return tags

    def log_dict(self, runner) -> Dict[str, Any]:
        """What one log line holds: mode, epoch, iter, lr, memory and the averaged buffer values."""
        out: Dict[str, Any] = OrderedDict(mode=self.get_mode(runner), epoch=runner.epoch + 1,
                                          iter=self.get_iter(runner, inner_iter=True))
        out['lr'] = runner.current_lr()[0]
        if out['mode'] == 'train':
            out['memory'] = peak_memory_mb(runner.device)
        out.update(runner.log_buffer.output)
        return out

    def before_run(self, runner) -> None:
        for hook in runner.hooks[::-1]:
            if isinstance(hook, LoggerHook):
                hook.reset_flag = True  # the last logger hook clears the output
                break

    def before_train_epoch(self, runner) -> None:
        runner.log_buffer.clear()

    def after_train_iter(self, runner) -> None:
        if self.by_epoch and self.every_n_inner_iters(runner, self.interval):
            runner.log_buffer.average(self.interval)
        elif not self.by_epoch and self.every_n_iters(runner, self.interval):
            runner.log_buffer.average(self.interval)
        elif self.end_of_epoch(runner) and not self.ignore_last:
            runner.log_buffer.average(self.interval)
        self._flush(runner)

    def after_train_epoch(self, runner) -> None:
        self._flush(runner)

    def after_val_epoch(self, runner) -> None:
        runner.log_buffer.average()
        self._flush(runner)

    def _flush(self, runner) -> None:
        if runner.log_buffer.ready:
            self.log(runner)
            if self.reset_flag:
                runner.log_buffer.clear_output()


@HOOKS.register_module()
class TextLoggerHook(LoggerHook):
    """Logs to the runner's logger (console + ``<timestamp>.log``) and to ``<timestamp>.log.json``.

    The JSON file starts with one line of run metadata (environment, seed, experiment name), then holds one
    object per logged interval (``mode``, ``epoch``, ``iter``, ``lr``, losses, ``time``, ``data_time``,
    ``memory`` in MB) and one per evaluation (the metrics). Both logs are written in ``runner.work_dir``.

    Args:
        interval_exp_name: also log ``Exp name: <meta exp_name>`` when logging at a multiple of this many
            iterations (and at the end of each epoch with ``by_epoch``).
        out_dir: after the run, copy the files of ``runner.work_dir`` (recursively) whose names end with
            ``out_suffix`` to ``<out_dir>/<last folder of work_dir>/`` (mmcv 1.x); a local folder only.
        out_suffix: a suffix or a tuple of suffixes of the files to copy.
        keep_local: keep the copied files in ``work_dir`` (False: remove them after copying).
        file_client_args: only with ``out_dir``: None or ``dict(backend='disk')`` (local files).
        (others): see :class:`LoggerHook`.
    """

    def __init__(self, by_epoch: bool = True, interval: int = 10, ignore_last: bool = True,
                 reset_flag: bool = False, interval_exp_name: int = 1000, out_dir: Optional[str] = None,
                 out_suffix: Union[str, Tuple[str, ...]] = ('.log.json', '.log', '.py'), keep_local: bool = True,
                 file_client_args: Optional[dict] = None):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        _check_out_dir(out_dir, out_suffix, file_client_args)
        self.interval_exp_name = interval_exp_name
        self.out_dir = out_dir
        self.out_suffix = out_suffix
        self.keep_local = keep_local
        self.file_client_args = file_client_args
        self.time_sec_tot = 0.
        self.start_iter = 0
        self.json_log_path = ''

    def before_run(self, runner) -> None:
        super().before_run(runner)
        if self.out_dir is not None:
            self.out_dir = osp.join(self.out_dir, osp.basename(runner.work_dir.rstrip(osp.sep)))
            runner.logger.info(f'Text logs will be copied to {self.out_dir} after the run')
        self.start_iter = runner.iter
        self.json_log_path = osp.join(runner.work_dir, f'{runner.timestamp}.log.json')
        if runner.rank == 0:
            os.makedirs(runner.work_dir, exist_ok=True)
            meta = {key: value for key, value in (runner.meta or {}).items() if _jsonable(value)}
            self._dump(meta, runner)

    def log(self, runner) -> None:
        log_dict = self.log_dict(runner)
        if log_dict['mode'] == 'train' and 'time' in log_dict:
            self.time_sec_tot += log_dict['time'] * self.interval
            done = runner.iter - self.start_iter + 1
            eta_sec = self.time_sec_tot / done * (runner.max_iters - runner.iter - 1)
            log_dict['eta'] = str(datetime.timedelta(seconds=int(eta_sec)))
        self._log_exp_name(runner)
        runner.logger.info(self._format(runner, log_dict))
        self._dump({k: v for k, v in log_dict.items() if k != 'eta'}, runner)

    def after_run(self, runner) -> None:
        if self.out_dir is None or runner.rank != 0:
            return
        for rel_path in _files_with_suffix(runner.work_dir, self.out_suffix):
            local, target = osp.join(runner.work_dir, rel_path), osp.join(self.out_dir, rel_path)
            os.makedirs(osp.dirname(target), exist_ok=True)
            shutil.copyfile(local, target)
            runner.logger.info(f'The file {local} has been copied to {target}.')
            if not self.keep_local:
                os.remove(local)
                runner.logger.info(f'{local} was removed (keep_local=False)')

    def _log_exp_name(self, runner) -> None:
        if 'exp_name' not in (runner.meta or {}):
            return
        if self.every_n_iters(runner, self.interval_exp_name) or (self.by_epoch and self.end_of_epoch(runner)):
            runner.logger.info(f'Exp name: {runner.meta["exp_name"]}')

    def _format(self, runner, log_dict: Dict[str, Any]) -> str:
        if log_dict['mode'] == 'train':
            if self.by_epoch:
                head = f'Epoch [{log_dict["epoch"]}][{log_dict["iter"]}/{len(runner.data_loader)}]\t'
            else:
                head = f'Iter [{log_dict["iter"]}/{runner.max_iters}]\t'
            head += f'lr: {log_dict["lr"]:.3e}, '
            if 'eta' in log_dict:
                head += f'eta: {log_dict["eta"]}, time: {log_dict["time"]:.3f}, ' \
                        f'data_time: {log_dict["data_time"]:.3f}, '
            head += f'memory: {log_dict["memory"]}, '
        else:
            where = f'[{log_dict["epoch"]}][{log_dict["iter"]}]' if self.by_epoch else f'[{log_dict["iter"]}]'
            head = f'{"Epoch" if self.by_epoch else "Iter"}(val) {where}\t'
        items = [f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
                 for k, v in log_dict.items() if k not in _NOT_LOGGED_AS_ITEMS]
        return head + ', '.join(items)

    def _dump(self, record: Dict[str, Any], runner) -> None:
        if runner.rank != 0:
            return
        line = {k: round(v, 5) if isinstance(v, float) else v for k, v in record.items()}
        with open(self.json_log_path, 'a') as f:
            f.write(json.dumps(line) + '\n')


def _check_out_dir(out_dir: Any, out_suffix: Any, file_client_args: Any) -> None:
    """TextLoggerHook's out_dir arguments: a local folder and suffixes (mmcv's checks, local files only)."""
    if out_dir is None and file_client_args is not None:
        raise ConfigError('TextLoggerHook: file_client_args must be None when out_dir is not set')
    if out_dir is not None and not isinstance(out_dir, str):
        raise ConfigError(f'TextLoggerHook: out_dir must be a folder path (str) or None, got {out_dir!r}')
    if out_dir is not None and '://' in out_dir:
        raise ConfigError(f'TextLoggerHook: out_dir {out_dir!r} is a remote URI; only local folders are supported')
    if file_client_args is not None and (not isinstance(file_client_args, dict)
                                         or file_client_args.get('backend', 'disk') != 'disk'
                                         or set(file_client_args) - {'backend'}):
        raise ConfigError("TextLoggerHook: file_client_args must be None or dict(backend='disk') (local files "
                          f'only), got {file_client_args!r}')
    if not (isinstance(out_suffix, str) or (isinstance(out_suffix, tuple)
                                            and all(isinstance(x, str) for x in out_suffix))):
        raise ConfigError(f'TextLoggerHook: out_suffix must be a str or a tuple of str, got {out_suffix!r}')


def _files_with_suffix(folder: str, suffix: Union[str, Tuple[str, ...]]) -> List[str]:
    """The non-hidden files under ``folder`` (recursively) whose names end with ``suffix``, relative paths."""
    found = []
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if not name.startswith('.') and name.endswith(suffix):
                found.append(osp.relpath(osp.join(root, name), folder))
    return found


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
