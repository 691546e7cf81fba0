"""Logger hooks: the text log with ETA (``<timestamp>.log``) and the JSON-lines log (``<timestamp>.log.json``)."""
import datetime
import json
import os
import os.path as osp
import resource
from collections import OrderedDict
from typing import Any, Dict, Optional

import torch

from ...registry import HOOKS
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

    def get_iter(self, runner) -> int:
        return runner.inner_iter + 1 if self.by_epoch else runner.iter + 1

    def log_dict(self, runner) -> Dict[str, Any]:
        """What one log line holds: mode, epoch, iter, lr, memory and the averaged buffer values."""
        out: Dict[str, Any] = OrderedDict(mode=self.get_mode(runner), epoch=runner.epoch + 1,
                                          iter=self.get_iter(runner))
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
    ``memory`` in MB) and one per evaluation (the metrics).

    Args:
        out_dir: write the JSON log there instead of ``runner.work_dir``.
        (others): see :class:`LoggerHook`.
    """

    def __init__(self, by_epoch: bool = True, interval: int = 10, ignore_last: bool = True,
                 reset_flag: bool = False, out_dir: Optional[str] = None):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        self.out_dir = out_dir
        self.time_sec_tot = 0.
        self.start_iter = 0
        self.json_log_path = ''

    def before_run(self, runner) -> None:
        super().before_run(runner)
        self.start_iter = runner.iter
        folder = self.out_dir or runner.work_dir
        self.json_log_path = osp.join(folder, f'{runner.timestamp}.log.json')
        if runner.rank == 0:
            os.makedirs(folder, exist_ok=True)
            meta = {key: value for key, value in (runner.meta or {}).items() if _jsonable(value)}
            self._dump(meta, runner)

    def log(self, runner) -> None:
        log_dict = self.log_dict(runner)
        if log_dict['mode'] == 'train' and 'time' in log_dict:
            self.time_sec_tot += log_dict['time'] * self.interval
            done = runner.iter - self.start_iter + 1
            eta_sec = self.time_sec_tot / done * (runner.max_iters - runner.iter - 1)
            log_dict['eta'] = str(datetime.timedelta(seconds=int(eta_sec)))
        runner.logger.info(self._format(runner, log_dict))
        self._dump({k: v for k, v in log_dict.items() if k != 'eta'}, runner)

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


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
