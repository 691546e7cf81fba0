"""Distributed helpers: process-group setup for torchrun / slurm / mpirun, rank info, barriers, dead ranks
(device placement: :mod:`.device`)."""
import contextlib
import datetime
import functools
import os
import socket
import subprocess
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist

from torch import nn

from .errors import ConfigError, DistributedError
from .logging import warn_once

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
DIST_PARAMS_KEYS = ('backend', 'port', 'timeout')  # the dist_params keys init_dist reads
TIMEOUT_ENV = 'MMSEG_DDRNET_DIST_TIMEOUT'
DEFAULT_TIMEOUT_S = 300.0
# (host, pid) of every rank, gathered once the process group exists: names the rank that died
_PEERS: List[Tuple[str, int]] = []
_TIMEOUT_S: Optional[float] = None


def default_backend() -> str:
    """``nccl`` when CUDA is available, ``gloo`` otherwise."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def collective_timeout(timeout: Optional[float] = None) -> float:
    """Seconds a collective may wait for the other ranks: ``timeout`` (``dist_params.timeout``), else
    ``$MMSEG_DDRNET_DIST_TIMEOUT``, else 300; :class:`ConfigError` unless it is a positive number."""
    source = 'dist_params.timeout'
    if timeout is None:
        timeout, source = os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S, TIMEOUT_ENV
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = float('nan')
    if not value > 0:
        raise ConfigError(f'{source} must be a positive number of seconds, got {timeout!r}')
    return value


def dist_init_args(dist_params: Optional[dict] = None, backend: Optional[str] = None) -> Dict[str, Any]:
    """The keyword arguments of :func:`init_dist` (``backend``, ``port``, ``timeout``) from a config's
    ``dist_params`` and a ``--dist-backend`` (``backend``, which wins and is taken as given).

    ``dist_params.backend='nccl'`` (the 0.x configs' value) becomes ``gloo``, with a warning, where CUDA is not
    available; no backend anywhere means :func:`default_backend`. Other ``dist_params`` keys are ignored with a
    warning (the rendezvous comes from the launcher's environment: ``init_method='env://'``).
    """
    params = dict(dist_params or {})
    ignored = sorted(set(params) - set(DIST_PARAMS_KEYS))
    if ignored:
        warn_once(f'dist_params: {ignored} ignored (read: {", ".join(DIST_PARAMS_KEYS)})')
    if backend is None:
        backend = params.get('backend') or default_backend()
        if backend == 'nccl' and not torch.cuda.is_available():
            warn_once('dist_params.backend is nccl but CUDA is not available: using gloo')
            backend = 'gloo'
    args: Dict[str, Any] = {key: params[key] for key in ('port', 'timeout') if params.get(key) is not None}
    args['backend'] = backend
    return args


def init_dist(launcher: str, backend: Optional[str] = None, port: Optional[int] = None,
              timeout: Optional[float] = None) -> None:
    """Initialise the default process group for ``launcher`` (``pytorch``: torchrun; ``slurm``: srun;
    ``mpi``: OpenMPI's mpirun, whose rank variables name the processes of a torch process group, as mmcv).

    ``backend`` defaults to :func:`default_backend`. On CUDA each process uses the GPU of its local rank.
    ``timeout`` (seconds, see :func:`collective_timeout`) bounds every collective: when a rank dies or hangs,
    the others fail within it instead of waiting forever (see :func:`named_collective_failures`).
    """
    global _TIMEOUT_S
    _TIMEOUT_S = collective_timeout(timeout)
    backend = backend or default_backend()
    if backend == 'nccl' and not torch.cuda.is_available():
        raise ConfigError('dist backend "nccl" needs CUDA, which is not available here; use --dist-backend gloo')
    if launcher == 'pytorch':
        _init_pytorch(backend)
    elif launcher == 'slurm':
        _init_slurm(backend, port)
    elif launcher == 'mpi':
        _init_mpi(backend, port)
    else:
        raise ConfigError(f'invalid launcher {launcher!r}; choose one of {", ".join(LAUNCHERS[1:])}')
    _PEERS[:] = [(host, int(pid)) for host, pid in _all_gather_object((socket.gethostname(), os.getpid()))]


def _all_gather_object(obj: Any) -> List[Any]:
    gathered: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def _init_process_group(backend: str) -> None:
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=_TIMEOUT_S or DEFAULT_TIMEOUT_S))


def _set_local_device(local_rank: int) -> None:
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())


def _init_pytorch(backend: str) -> None:
    missing = [key for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if key not in os.environ]
    if missing:
        raise ConfigError(f'--launcher pytorch needs the environment variables {", ".join(missing)}; '
                          'start the job with torchrun (see train_dist.sh)')
    _set_local_device(int(os.environ.get('LOCAL_RANK', 0)))
    restart = os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')
    if restart == '0':
        _init_process_group(backend)
        return
    # torchrun restarted the worker group (--max-restarts): its store still holds the dead group's addresses
    # under the same keys; a prefix per attempt keeps the new group from connecting to them
    timeout = datetime.timedelta(seconds=_TIMEOUT_S or DEFAULT_TIMEOUT_S)
    store, rank, world_size = next(dist.rendezvous('env://', timeout=timeout))
    dist.init_process_group(backend=backend, store=dist.PrefixStore(f'mmseg_ddrnet/attempt_{restart}', store),
                            rank=rank, world_size=world_size, timeout=timeout)


def _init_slurm(backend: str, port: Optional[int]) -> None:
    try:
        proc_id = int(os.environ['SLURM_PROCID'])
        ntasks = int(os.environ['SLURM_NTASKS'])
        node_list = os.environ['SLURM_NODELIST']
    except KeyError as err:
        raise ConfigError(f'--launcher slurm needs the environment variable {err.args[0]}; start the job with srun')
    num_gpus = max(torch.cuda.device_count(), 1)
    addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.setdefault('MASTER_ADDR', addr)
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['LOCAL_RANK'] = str(proc_id % num_gpus)
    os.environ['RANK'] = str(proc_id)
    _set_local_device(proc_id % num_gpus)
    _init_process_group(backend)


def _init_mpi(backend: str, port: Optional[int]) -> None:
    try:
        rank, size = os.environ['OMPI_COMM_WORLD_RANK'], os.environ['OMPI_COMM_WORLD_SIZE']
        local_rank = int(os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
    except KeyError as err:
        raise ConfigError(f'--launcher mpi needs the environment variable {err.args[0]}; start the job with '
                          'OpenMPI\'s mpirun') from None
    if 'MASTER_ADDR' not in os.environ:
        raise ConfigError('--launcher mpi needs MASTER_ADDR (the address of rank 0), e.g. mpirun -x MASTER_ADDR=...')
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.update(WORLD_SIZE=size, RANK=rank, LOCAL_RANK=str(local_rank))
    _set_local_device(local_rank)
    _init_process_group(backend)


def get_dist_info() -> Tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_distributed() -> bool:
    return get_dist_info()[1] > 1


def in_process_group() -> bool:
    """Whether a process group is initialised (even of one rank): collectives must then be called by every rank."""
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    return get_dist_info()[0] == 0


def master_only(func: Callable) -> Callable:
    """Run ``func`` on rank 0 only (other ranks get None)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if is_main_process():
            return func(*args, **kwargs)
        return None
    return wrapper


def barrier() -> None:
    """Wait for every rank (no-op outside a process group)."""
    if is_distributed():
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank (no-op outside a process group)."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside (possibly nested) ``DataParallel`` / ``DistributedDataParallel`` wrappers."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


# ---------------------------------------------------------------------------------------------- dead ranks

_FAILURE_MARKS = ('gloo', 'nccl', 'connection reset by peer', 'connection closed by peer', 'timed out',
                  'broken pipe', 'socket timeout')


def is_collective_failure(err: BaseException) -> bool:
    """Whether ``err`` is a collective operation that failed because another rank died, hung or was unreachable."""
    if isinstance(err, getattr(dist, 'DistError', ())):
        return True
    return isinstance(err, RuntimeError) and any(mark in str(err).lower() for mark in _FAILURE_MARKS)


def _process_state(pid: int) -> Optional[str]:
    """``dead``, ``stopped`` or None (running) for a process of this host."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return 'dead'
    except (OSError, IndexError):
        return None
    return {'Z': 'dead', 'X': 'dead', 'T': 'stopped', 't': 'stopped'}.get(state)


def describe_dead_ranks(wait_s: float = 3.0) -> str:
    """The ranks of this host whose process died or is stopped, e.g. ``rank 1 (pid 42 on node3) died``.

    A dying process closes its sockets before it is gone: look again for up to ``wait_s`` seconds.
    """
    deadline = time.monotonic() + wait_s
    while True:
        found = _dead_ranks()
        if found[0] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    local, remote = found
    if local:
        return '; '.join(local)
    if remote:
        return f'no rank of this host died; one of ranks {remote} (on other hosts) died, hung or is unreachable'
    return 'another rank died, hung or is unreachable'


def _dead_ranks() -> Tuple[List[str], List[int]]:
    host, rank = socket.gethostname(), get_dist_info()[0]
    found, remote = [], []
    for peer, (peer_host, pid) in enumerate(_PEERS):
        if peer == rank:
            continue
        if peer_host != host:
            remote.append(peer)
            continue
        state = _process_state(pid)
        if state is not None:
            found.append(f'rank {peer} (pid {pid} on {peer_host}) {"died" if state == "dead" else "is stopped"}')
    return found, remote


@contextlib.contextmanager
def named_collective_failures() -> Iterator[None]:
    """Turn a failed collective (a rank died or hung past the timeout) into a one-line
    :class:`DistributedError` naming the dead rank, instead of a backend traceback."""
    try:
        yield
    except (RuntimeError, DistributedError) as err:
        if isinstance(err, DistributedError) or not is_distributed() or not is_collective_failure(err):
            raise
        rank = get_dist_info()[0]
        reason = 'timed out' if 'timed out' in str(err).lower() or 'timeout' in str(err).lower() else 'failed'
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DistributedError(
            f'rank {rank}: a collective operation {reason} ({describe_dead_ranks()}); stopping this rank '
            f'(collective timeout {_TIMEOUT_S or DEFAULT_TIMEOUT_S:g} s, dist_params.timeout or {TIMEOUT_ENV}). '
            f'Backend: {detail[:200]}') from err


def allreduce_buffers(model: torch.nn.Module) -> None:
    """Average the floating-point buffers (BN running statistics) over the ranks; nothing when not distributed.

    Integer buffers (``num_batches_tracked``) are the same on every rank and are left alone.
    """
    if not is_distributed():
        return
    world_size = dist.get_world_size()
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer.data)
            buffer.data.div_(world_size)
