"""Evaluation during training (mmseg 0.x ``EvalHook`` / ``DistEvalHook``) and the best checkpoint."""
import math
import os
import os.path as osp
from typing import Any, Callable, Dict, Optional, Sequence, Union

from torch.utils.data import DataLoader

from ...evaluation import multi_gpu_test, single_gpu_test
from ...registry import HOOKS
from ...utils import ConfigError, warn_once
from ...utils.dist import broadcast_object
from ..rng import get_rng_state, set_rng_state
from .checkpoint import check_local_file_client, run_out_dir
from .hook import Hook
from .logger import LoggerHook

GREATER_KEYS = ('acc', 'top', 'AR@', 'auc', 'precision', 'mAP', 'mDice', 'mIoU', 'mAcc', 'aAcc', 'fscore')
LESS_KEYS = ('loss',)


def infer_rule(key: str, greater_keys: Sequence[str] = GREATER_KEYS, less_keys: Sequence[str] = LESS_KEYS) -> str:
    """``'greater'`` or ``'less'``: whether a larger value of metric ``key`` is better (mmcv's rules)."""
    low = key.lower()
    greater, less = [k.lower() for k in greater_keys], [k.lower() for k in less_keys]
    if low in greater or (low not in less and any(k in low for k in greater)):
        return 'greater'
    if low in less or any(k in low for k in less):
        return 'less'
    raise ConfigError(f'evaluation.save_best: cannot tell whether a larger {key!r} is better; set rule='
                      "'greater' or rule='less'")


def _keys(name: str, keys: Union[None, str, Sequence[str]], default: Sequence[str]) -> Sequence[str]:
    if keys is None:
        return default
    keys = (keys,) if isinstance(keys, str) else keys
    if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f'evaluation.{name} must be a str or a list of str, got {keys!r}')
    return tuple(keys)


@HOOKS.register_module()
class EvalHook(Hook):
    """Evaluates the model on ``dataloader`` every ``interval`` iterations (or epochs).

    The metrics go to the logs (text, JSON, TensorBoard); with ``save_best`` (a metric name or ``'auto'``: the
    first metric returned) the checkpoint with the best value so far is kept as ``best_<metric>_iter_N.pth``.

    Args:
        dataloader: the validation data loader.
        interval: the evaluation period.
        by_epoch: count epochs instead of iterations.
        start: first iteration/epoch to evaluate at (then every ``interval``); None: multiples of ``interval``.
        pre_eval: sum per-image confusion matrices while testing (constant memory) instead of keeping every
            predicted label map until the end.
        save_best: metric that selects the best checkpoint, ``'auto'`` or None.
        rule: ``'greater'`` or ``'less'``; inferred from the metric name when None.
        efficient_test: deprecated and ignored (pre_eval keeps memory constant).
        out_dir: the best checkpoint goes to ``<out_dir>/<last folder of work_dir>`` (default: ``work_dir``).
        greater_keys, less_keys: the metric names (or parts of names) whose larger / smaller values are better,
            replacing mmcv's defaults for the ``save_best`` rule.
        test_fn: ignored with a warning (mmseg 0.x's hook ignores it too).
        file_client_args: None or ``dict(backend='disk')`` (local files only).
        **eval_kwargs: passed to ``dataset.evaluate`` (``metric='mIoU'``, ...).
    """

    def __init__(self, dataloader: DataLoader, interval: int = 1, by_epoch: bool = False,
                 start: Optional[int] = None, pre_eval: bool = False, save_best: Optional[str] = None,
                 rule: Optional[str] = None, efficient_test: bool = False, out_dir: Optional[str] = None,
                 greater_keys: Union[None, str, Sequence[str]] = None,
                 less_keys: Union[None, str, Sequence[str]] = None, test_fn: Optional[Callable] = None,
                 file_client_args: Optional[dict] = None, **eval_kwargs: Any):
        if not isinstance(dataloader, DataLoader):
            raise ConfigError(f'EvalHook needs a torch DataLoader, got {type(dataloader).__name__}')
        if interval <= 0:
            raise ConfigError(f'evaluation.interval must be positive, got {interval}')
        if rule not in (None, 'greater', 'less'):
            raise ConfigError(f"evaluation.rule must be 'greater', 'less' or None, got {rule!r}")
        self.dataloader = dataloader
        self.interval = interval
        self.by_epoch = by_epoch
        self.start = start
        self.pre_eval = pre_eval
        self.save_best = save_best
        check_local_file_client('evaluation', file_client_args)
        if test_fn is not None:
            warn_once('evaluation.test_fn is ignored: mmseg 0.x\'s EvalHook always tests with its single_gpu_test '
                      '/ multi_gpu_test, as here')
        self.greater_keys = _keys('greater_keys', greater_keys, GREATER_KEYS)
        self.less_keys = _keys('less_keys', less_keys, LESS_KEYS)
        self.rule = rule if rule is not None or save_best in (None, 'auto') else \
            infer_rule(save_best, self.greater_keys, self.less_keys)
        self.out_dir = out_dir
        self.eval_kwargs = eval_kwargs

    def before_run(self, runner) -> None:
        self.out_dir = run_out_dir(self.out_dir, runner.work_dir)

    def _should_evaluate(self, runner) -> bool:
        current = (runner.epoch if self.by_epoch else runner.iter) + 1
        if self.start is None:
            return current % self.interval == 0
        return current >= self.start and (current - self.start) % self.interval == 0

    def after_train_iter(self, runner) -> None:
        if self.by_epoch or not self._should_evaluate(runner):
            return
        for hook in runner.hooks:  # log the training values of this interval before the metrics
            if isinstance(hook, LoggerHook):
                hook.after_train_iter(runner)
        runner.log_buffer.clear()
        self._do_evaluate(runner)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self._should_evaluate(runner):
            self._do_evaluate(runner)

    def test(self, runner) -> list:
        return single_gpu_test(runner.model, self.dataloader, pre_eval=self.pre_eval)

    def evaluate(self, runner, results: list) -> Dict[str, float]:
        return self.dataloader.dataset.evaluate(results, logger=runner.logger, **self.eval_kwargs)

    def _do_evaluate(self, runner) -> None:
        # evaluation must not move the training's random streams (e.g. the loader's draw of a base seed),
        # so that training with or without it, and resumed or not, draws the same numbers
        rng = get_rng_state()
        results = self.test(runner)
        set_rng_state(rng)
        runner.model.train()
        metrics = self.evaluate(runner, results)
        runner.log_buffer.output.update(metrics)
        runner.log_buffer.ready = True
        if self.save_best:
            self._save_best(runner, metrics)

    def _save_best(self, runner, metrics: Dict[str, float]) -> None:
        key = next(iter(metrics)) if self.save_best == 'auto' else self.save_best
        if key not in metrics:
            raise ConfigError(f'evaluation.save_best={self.save_best!r} is not among the metrics '
                              f'{sorted(metrics)}')
        rule = self.rule or infer_rule(key, self.greater_keys, self.less_keys)
        msgs = runner.meta.setdefault('hook_msgs', {})
        best = msgs.get('best_score', -math.inf if rule == 'greater' else math.inf)
        score = float(metrics[key])
        if not (score > best if rule == 'greater' else score < best):
            return
        step = (runner.epoch if self.by_epoch else runner.iter) + 1
        name = f'best_{key}_{"epoch" if self.by_epoch else "iter"}_{step}.pth'
        old = msgs.get('best_ckpt')
        msgs['best_score'], msgs['best_ckpt'] = score, osp.join(self.out_dir, name)
        runner.save_checkpoint(self.out_dir, name, latest=False)
        if runner.rank == 0:
            if old and osp.exists(old) and osp.abspath(old) != osp.abspath(msgs['best_ckpt']):
                os.remove(old)
            runner.logger.info(f'Now best checkpoint is saved as {name}; best {key} is {score:.4f} at {step} '
                               f'{"epoch" if self.by_epoch else "iter"}')


@HOOKS.register_module()
class DistEvalHook(EvalHook):
    """:class:`EvalHook` for distributed training: every rank tests its share (``multi_gpu_test``).

    Args:
        tmpdir, gpu_collect: passed to ``multi_gpu_test``.
        broadcast_bn_buffer: copy rank 0's BN running statistics to every rank before testing.
    """

    def __init__(self, dataloader: DataLoader, tmpdir: Optional[str] = None, gpu_collect: bool = False,
                 broadcast_bn_buffer: bool = True, **kwargs: Any):
        super().__init__(dataloader, **kwargs)
        self.tmpdir = tmpdir
        self.gpu_collect = gpu_collect
        self.broadcast_bn_buffer = broadcast_bn_buffer

    def test(self, runner) -> list:
        if self.broadcast_bn_buffer:
            runner.broadcast_buffers()
        tmpdir = self.tmpdir or osp.join(runner.work_dir, '.eval_hook')
        return multi_gpu_test(runner.model, self.dataloader, tmpdir=tmpdir, gpu_collect=self.gpu_collect,
                              pre_eval=self.pre_eval)

    def evaluate(self, runner, results: Optional[list]) -> Dict[str, float]:
        """Metrics computed on rank 0 and broadcast, so that every rank agrees on the best checkpoint."""
        metrics = super().evaluate(runner, results) if runner.rank == 0 else None
        return broadcast_object(metrics, src=0)
