"""``WandbLoggerHook`` (mmcv 1.x): the logged values to Weights & Biases (optional ``wandb`` package)."""
import importlib
import os.path as osp
from typing import Any, Dict, Optional, Tuple, Union

from ...registry import HOOKS
from ...utils import ConfigError
from .logger import LoggerHook, _files_with_suffix

_SUMMARIES = ('min', 'max', 'mean', 'best', 'last', 'none')


def import_optional(hook: str, module: str, package: str) -> Any:
    """``module`` imported, or a ConfigError naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f'{hook} needs the {package} package: pip install {package} (or remove {hook} from '
                          f'the config) [{err}]') from err


@HOOKS.register_module()
class WandbLoggerHook(LoggerHook):
    """Logs mmcv's tags (``train/<loss>``, ``val/<metric>``, ``learning_rate``, ``momentum``) with ``wandb.log``
    on rank 0, and after the run uploads the ``work_dir`` files ending with ``out_suffix`` as an artifact.

    ``WANDB_MODE=offline`` runs without a server (``wandb sync`` uploads later).

    Args:
        init_kwargs: arguments of ``wandb.init`` (``project``, ``name``, ``dir``, ``mode``, ...).
        commit: ``wandb.log(commit=...)`` without ``with_step``.
        with_step: pass the global iteration as ``step`` (else log it as ``global_step``); each step's row is
            committed when the step advances, so training values and metrics of the same iteration share a row.
        log_artifact: upload the files after the run.
        out_suffix: the suffixes of those files.
        define_metric_cfg: ``{metric: summary}`` for ``wandb.define_metric`` (summary one of min, max, mean,
            best, last, none).
        (others): see :class:`LoggerHook`.
    """

    def __init__(self, init_kwargs: Optional[Dict] = None, interval: int = 10, ignore_last: bool = True,
                 reset_flag: bool = False, commit: bool = True, by_epoch: bool = True, with_step: bool = True,
                 log_artifact: bool = True, out_suffix: Union[str, Tuple[str, ...]] = ('.log.json', '.log', '.py'),
                 define_metric_cfg: Optional[Dict[str, str]] = None):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        self.wandb = import_optional(type(self).__name__, 'wandb', 'wandb')
        if init_kwargs is not None and not isinstance(init_kwargs, dict):
            raise ConfigError(f'{type(self).__name__}: init_kwargs must be a dict, got {init_kwargs!r}')
        self.init_kwargs = init_kwargs
        self.commit = commit
        self.with_step = with_step
        self.log_artifact = log_artifact
        self.out_suffix = tuple(out_suffix) if isinstance(out_suffix, list) else out_suffix
        self.define_metric_cfg = define_metric_cfg

    def before_run(self, runner) -> None:
        super().before_run(runner)
        if runner.rank != 0:
            return
        self.wandb.init(**(self.init_kwargs or {}))
        for metric, summary in (self.define_metric_cfg or {}).items():
            if summary not in _SUMMARIES:
                runner.logger.warning(f'{type(self).__name__}: summary should be one of {_SUMMARIES}; '
                                      f'metric={metric}, summary={summary} is skipped')
                continue
            self.wandb.define_metric(metric, summary=summary)

    def log(self, runner) -> None:
        if runner.rank != 0:
            return
        tags = self.get_loggable_tags(runner)
        if self.with_step:  # the row of a step is committed when the step advances (or at the end), so the
            # validation metrics logged at a training log's iteration join its row (mmcv's commit=True drops them)
            self.wandb.log(tags, step=self.get_iter(runner), commit=False)
        else:
            tags['global_step'] = self.get_iter(runner)
            self.wandb.log(tags, commit=self.commit)

    def after_run(self, runner) -> None:
        if runner.rank != 0:
            return
        if self.log_artifact:
            artifact = self.wandb.Artifact(name='artifacts', type='model')
            for rel_path in _files_with_suffix(runner.work_dir, self.out_suffix):
                artifact.add_file(osp.join(runner.work_dir, rel_path))
            self.wandb.log_artifact(artifact)
        self.wandb.finish()
