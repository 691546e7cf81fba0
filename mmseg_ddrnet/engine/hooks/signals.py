"""Stop on SIGTERM / SIGINT / SIGUSR1: finish the iteration, save a resumable checkpoint, say how to resume, exit.

The signal handler only sets a flag. After each training iteration (after the optimizer step and the periodic
checkpoint) the ranks agree on it with one tiny ``all_reduce``; then every rank takes part in saving
``iter_N.pth`` / ``latest.pth`` (rank 0 writes, atomically), rank 0 prints where it is and the command that
resumes, optionally requeues the SLURM job, and every rank exits with ``128 + signal number`` (130 for SIGINT,
143 for SIGTERM). A second SIGINT raises ``KeyboardInterrupt`` at once: the atomic writes leave every file
either old or new.
"""
import contextlib
import os
import os.path as osp
import shlex
import signal
import subprocess
import sys
import threading
from typing import Iterator, List, Optional, Sequence

import torch
import torch.distributed as dist

from ...registry import HOOKS
from ...utils import ConfigError
from ...utils.dist import in_process_group
from .hook import Hook

DEFAULT_SIGNALS = ('SIGTERM', 'SIGINT', 'SIGUSR1')
_RESUME_FLAGS = {'--resume-from': 1, '--resume_from': 1, '--auto-resume': 0, '--auto_resume': 0,
                 '--local_rank': 1, '--local-rank': 1}


def _signal_number(name: str) -> int:
    number = getattr(signal, str(name).upper(), None)
    if not isinstance(number, signal.Signals) or number in (signal.SIGKILL, signal.SIGSTOP):
        raise ConfigError(f'signal_config.signals: {name!r} is not a signal that can be caught (e.g. SIGTERM)')
    return int(number)


def resume_command(checkpoint: str, argv: Optional[Sequence[str]] = None, world_size: int = 1) -> str:
    """The command line of this run with ``--resume-from checkpoint`` instead of any resume flag."""
    argv = list(sys.argv if argv is None else argv)
    args: List[str] = []
    skip = 0
    for arg in argv[1:]:
        if skip:
            skip -= 1
            continue
        flag = arg.split('=', 1)[0]
        if flag in _RESUME_FLAGS:
            skip = _RESUME_FLAGS[flag] if '=' not in arg else 0
            continue
        args.append(arg)
    launcher = [f'torchrun --nproc_per_node={world_size}'] if world_size > 1 else [shlex.quote(sys.executable)]
    return ' '.join(launcher + [shlex.quote(a) for a in [argv[0] if argv else 'tools/train.py', *args,
                                                          '--resume-from', checkpoint]])


@HOOKS.register_module()
class SignalHook(Hook):
    """Turns a termination signal into a clean stop with a resumable checkpoint (config key ``signal_config``).

    Args:
        signals: the names of the signals that stop training (default SIGTERM, SIGINT, SIGUSR1).
        requeue: after saving, run ``scontrol requeue $SLURM_JOB_ID`` (rank 0, under SLURM).
        filename_tmpl: the name of the checkpoint written on stop.
    """

    def __init__(self, signals: Sequence[str] = DEFAULT_SIGNALS, requeue: bool = False,
                 filename_tmpl: str = 'iter_{}.pth'):
        if isinstance(signals, str):
            signals = [signals]
        self.signals = [_signal_number(name) for name in signals]
        self.requeue = bool(requeue)
        self.filename_tmpl = filename_tmpl
        self.received: Optional[int] = None
        self._previous: dict = {}
        self._pid = os.getpid()

    # ------------------------------------------------------------------ handlers
    def _handle(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:
            return  # a data loader worker (forked with this handler): the main process decides
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: leave now (atomic writes keep every file whole)
        if self.received is None:
            self.received = signum
            print(f'{signal.Signals(signum).name} received: stopping after the current iteration '
                  f'(Ctrl-C again to exit at once)', file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def installed(self) -> Iterator['SignalHook']:
        """Install the handlers for the duration of the ``with`` block (main thread only), then restore them."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._pid = os.getpid()
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            self._previous.clear()

    # ------------------------------------------------------------------ the stop
    def _agreed_signal(self, runner) -> int:
        """The signal any rank received (0: none); one ``all_reduce`` of a scalar when distributed."""
        received = self.received or 0
        if in_process_group():
            flag = torch.tensor([received], dtype=torch.int64, device=runner.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            received = int(flag.item())
        return received

    def after_train_iter(self, runner) -> None:
        signum = self._agreed_signal(runner)
        if signum:
            self.stop(runner, signum)

    def stop(self, runner, signum: int) -> None:
        """Save (unless the periodic checkpoint of this iteration exists), report, requeue, exit."""
        done = runner.completed()['iter']
        path = osp.join(runner.work_dir, self.filename_tmpl.format(done))
        last = (runner.meta.get('hook_msgs') or {}).get('last_ckpt')
        if not (last and osp.abspath(last) == osp.abspath(path) and osp.isfile(path)):
            path = runner.save_checkpoint(runner.work_dir, self.filename_tmpl, save_optimizer=True)
        name = signal.Signals(signum).name
        if runner.rank == 0:
            runner.logger.info(f'{name}: stopped after iteration {done}; checkpoint saved to {path}; resume with: '
                               f'{resume_command(path, world_size=runner.world_size)}')
            if self.requeue:
                self._requeue(runner)
        sys.exit(128 + signum)

    @staticmethod
    def _requeue(runner) -> None:
        job = os.environ.get('SLURM_JOB_ID')
        if not job:
            runner.logger.warning('signal_config.requeue: SLURM_JOB_ID is not set (not under SLURM): not requeued')
            return
        try:
            result = subprocess.run(['scontrol', 'requeue', job], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            runner.logger.error(f'scontrol requeue {job} failed: {err}')
            return
        if result.returncode == 0:
            runner.logger.info(f'requeued SLURM job {job} (scontrol requeue {job})')
        else:
            runner.logger.error(f'scontrol requeue {job} failed ({result.returncode}): {result.stderr.strip()}')
