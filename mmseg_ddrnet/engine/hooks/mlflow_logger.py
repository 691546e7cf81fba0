"""``MlflowLoggerHook`` (mmcv 1.x): the logged values (and the trained model) to MLflow (optional package)."""
import inspect
from typing import Dict, Optional

import torch

from ...registry import HOOKS
from ...utils.dist import unwrap_model
from .logger import LoggerHook
from .wandb_logger import import_optional


@HOOKS.register_module()
class MlflowLoggerHook(LoggerHook):
    """Logs mmcv's tags with ``mlflow.log_metrics`` (step: the global iteration) on rank 0.

    The tracking server is MLflow's usual choice (``MLFLOW_TRACKING_URI``; e.g. ``file:///path/mlruns``, a local
    store that needs no server). The hook starts a run when none is active and ends the run it started.

    Args:
        exp_name: the experiment (created when missing).
        tags: run tags (``mlflow.set_tags``).
        params: run parameters (``mlflow.log_params``).
        log_model: log the trained model (``mlflow.pytorch.log_model``, artifact ``models``, pickled) after the
            run.
        (others): see :class:`LoggerHook`.
    """

    def __init__(self, exp_name: Optional[str] = None, tags: Optional[Dict] = None, params: Optional[Dict] = None,
                 log_model: bool = True, interval: int = 10, ignore_last: bool = True, reset_flag: bool = False,
                 by_epoch: bool = True):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        self.mlflow = import_optional('MlflowLoggerHook', 'mlflow', 'mlflow')
        self.exp_name = exp_name
        self.tags = tags
        self.params = params
        self.log_model = log_model
        self._own_run = False

    def before_run(self, runner) -> None:
        super().before_run(runner)
        if runner.rank != 0:
            return
        if self.exp_name is not None:
            self.mlflow.set_experiment(self.exp_name)
        if self.mlflow.active_run() is None:
            self.mlflow.start_run()
            self._own_run = True
        if self.tags is not None:
            self.mlflow.set_tags(self.tags)
        if self.params is not None:
            self.mlflow.log_params(self.params)

    def log(self, runner) -> None:
        if runner.rank != 0:
            return
        tags = self.get_loggable_tags(runner)
        if tags:
            self.mlflow.log_metrics({k: float(v) for k, v in tags.items()}, step=self.get_iter(runner))

    def after_run(self, runner) -> None:
        if runner.rank != 0:
            return
        if self.log_model:
            mlflow_pytorch = import_optional('MlflowLoggerHook', 'mlflow.pytorch', 'mlflow')
            model = unwrap_model(runner.model)
            params = inspect.signature(mlflow_pytorch.log_model).parameters
            kwargs = {'name' if 'name' in params else 'artifact_path': 'models'}
            if 'serialization_format' in params:  # MLflow 3: pickled as MLflow 1/2 (and mmcv) did; 'pt2' needs
                kwargs['serialization_format'] = 'pickle'  # an input example
            mlflow_pytorch.log_model(model, pip_requirements=[f'torch=={torch.__version__}'], **kwargs)
        if self._own_run:
            self.mlflow.end_run()
            self._own_run = False
