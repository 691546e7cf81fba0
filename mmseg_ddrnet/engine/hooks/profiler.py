"""``ProfilerHook`` (mmcv 1.x): ``torch.profiler`` over the first iterations or epochs of training."""
import os
import os.path as osp
from typing import Any, Callable, List, Optional, Union

import torch
from torch import profiler as torch_profiler

from ...registry import HOOKS
from ...utils import ConfigError
from .hook import Hook

_ACTIVITIES = {'cpu': torch_profiler.ProfilerActivity.CPU, 'cuda': torch_profiler.ProfilerActivity.CUDA}


def _trace_handler(on_trace_ready: Union[None, Callable, dict], runner) -> Optional[Callable]:
    """mmcv's ``on_trace_ready``: a callable, ``dict(type='log_trace', **table_args)`` (print the table) or
    ``dict(type='tb_trace', dir_name=...)`` (TensorBoard trace files, relative to ``work_dir``)."""
    if on_trace_ready is None or callable(on_trace_ready):
        return on_trace_ready
    if not isinstance(on_trace_ready, dict):
        raise ConfigError(f'ProfilerHook: on_trace_ready must be a callable, a dict or None, got {on_trace_ready!r}')
    cfg = dict(on_trace_ready)
    kind = cfg.pop('type', None)
    if kind == 'log_trace':
        return lambda prof: print(prof.key_averages().table(**cfg))
    if kind == 'tb_trace':
        dir_name = cfg.pop('dir_name', 'tf_tracing_logs')
        cfg['dir_name'] = dir_name if osp.isabs(dir_name) else osp.join(runner.work_dir, dir_name)
        runner.logger.info(f'tracing files of ProfilerHook will be saved to {cfg["dir_name"]}')
        return torch_profiler.tensorboard_trace_handler(**cfg)
    raise ConfigError(f"ProfilerHook: on_trace_ready.type must be 'log_trace' or 'tb_trace', got {kind!r}")


@HOOKS.register_module()
class ProfilerHook(Hook):
    """Profiles the first ``profile_iters`` iterations (or epochs with ``by_epoch``) on rank 0 (mmcv 1.x).

    Args:
        by_epoch: count epochs (needs an ``EpochBasedRunner``) instead of iterations.
        profile_iters: how many iterations/epochs to profile.
        activities: ``'cpu'`` and/or ``'cuda'`` (``'cuda'`` is dropped with a warning without CUDA).
        schedule: ``torch.profiler.schedule`` arguments (``wait``, ``warmup``, ``active``, ...), or None.
        on_trace_ready: see :func:`_trace_handler`.
        record_shapes, profile_memory, with_stack, with_flops: ``torch.profiler.profile`` options.
        json_trace_path: write the Chrome trace (JSON) there when profiling ends (relative: in ``work_dir``).
    """

    def __init__(self, by_epoch: bool = True, profile_iters: int = 1, activities: List[str] = ('cpu', 'cuda'),
                 schedule: Optional[dict] = None, on_trace_ready: Union[None, Callable, dict] = None,
                 record_shapes: bool = False, profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, json_trace_path: Optional[str] = None):
        if not isinstance(by_epoch, bool):
            raise ConfigError(f'ProfilerHook: by_epoch must be a bool, got {by_epoch!r}')
        if not isinstance(profile_iters, int) or profile_iters < 1:
            raise ConfigError(f'ProfilerHook: profile_iters must be a positive int, got {profile_iters!r}')
        if not isinstance(activities, (list, tuple)) or any(str(a).lower() not in _ACTIVITIES for a in activities):
            raise ConfigError(f"ProfilerHook: activities must be a list of 'cpu'/'cuda', got {activities!r}")
        try:
            self.schedule = torch_profiler.schedule(**schedule) if schedule is not None else None
        except TypeError as err:
            raise ConfigError(f'ProfilerHook: schedule={schedule!r}: {err}') from err
        self.by_epoch = by_epoch
        self.profile_iters = profile_iters
        self.activities = [str(a).lower() for a in activities]
        self.on_trace_ready = on_trace_ready
        self.options = dict(record_shapes=record_shapes, profile_memory=profile_memory, with_stack=with_stack,
                            with_flops=with_flops)
        self.json_trace_path = json_trace_path
        self.profiler: Any = None

    def before_run(self, runner) -> None:
        limit = runner.max_epochs if self.by_epoch else runner.max_iters
        if limit is None:
            raise ConfigError('ProfilerHook: by_epoch=True needs an EpochBasedRunner; set by_epoch=False')
        if limit < self.profile_iters:
            raise ConfigError(f'ProfilerHook: profile_iters={self.profile_iters} is more than the run '
                              f'({limit} {"epochs" if self.by_epoch else "iterations"})')
        if runner.rank != 0:
            return
        activities = [_ACTIVITIES[a] for a in self.activities if a == 'cpu' or torch.cuda.is_available()]
        if len(activities) < len(self.activities):
            runner.logger.warning('ProfilerHook: no CUDA device, profiling the CPU only')
        self.profiler = torch_profiler.profile(activities=activities, schedule=self.schedule,
                                               on_trace_ready=_trace_handler(self.on_trace_ready, runner),
                                               **self.options)
        self.profiler.__enter__()
        runner.logger.info('profiler is profiling...')

    def _stop(self, runner) -> None:
        runner.logger.info('profiler may take a few minutes...')
        self.profiler.__exit__(None, None, None)
        if self.json_trace_path is not None:
            path = osp.join(runner.work_dir, self.json_trace_path)
            os.makedirs(osp.dirname(path) or '.', exist_ok=True)
            self.profiler.export_chrome_trace(path)
            runner.logger.info(f'profiler trace written to {path}')
        self.profiler = None

    def after_train_epoch(self, runner) -> None:
        if self.profiler is not None and self.by_epoch and runner.epoch == self.profile_iters - 1:
            self._stop(runner)

    def after_train_iter(self, runner) -> None:
        if self.profiler is None:
            return
        self.profiler.step()
        if not self.by_epoch and runner.iter == self.profile_iters - 1:
            self._stop(runner)

    def after_run(self, runner) -> None:
        if self.profiler is not None:  # the run ended first (a resumed run past profile_iters)
            self._stop(runner)
