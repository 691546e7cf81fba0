"""Distributed helpers: process-group setup for torchrun / slurm / mpirun, rank info, device moves and barriers."""
import functools
import os
import subprocess
from typing import Any, Callable, Optional, Tuple

import torch
import torch.distributed as dist

from torch import nn

from .errors import ConfigError

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def default_backend() -> str:
    """``nccl`` when CUDA is available, ``gloo`` otherwise."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def init_dist(launcher: str, backend: Optional[str] = None, port: Optional[int] = None) -> None:
    """Initialise the default process group for ``launcher`` (``pytorch``: torchrun; ``slurm``: srun;
    ``mpi``: OpenMPI's mpirun, whose rank variables name the processes of a torch process group, as mmcv).

    ``backend`` defaults to :func:`default_backend`. On CUDA each process uses the GPU of its local rank.
    """
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


def _set_local_device(local_rank: int) -> None:
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())


def _init_pytorch(backend: str) -> None:
    missing = [key for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if key not in os.environ]
    if missing:
        raise ConfigError(f'--launcher pytorch needs the environment variables {", ".join(missing)}; '
                          'start the job with torchrun (see train_dist.sh)')
    _set_local_device(int(os.environ.get('LOCAL_RANK', 0)))
    dist.init_process_group(backend=backend)


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
    dist.init_process_group(backend=backend)


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
    dist.init_process_group(backend=backend)


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


def get_device() -> torch.device:
    """The device of this process: its local GPU when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def to_device(data: Any, device: torch.device) -> Any:
    """``data`` with every tensor (in nested dicts, lists and tuples) moved to ``device``."""
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=True)
    if isinstance(data, dict):
        return {key: to_device(value, device) for key, value in data.items()}
    if isinstance(data, (list, tuple)) and not hasattr(data, '_fields'):
        return type(data)(to_device(value, device) for value in data)
    return data


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside (possibly nested) ``DataParallel`` / ``DistributedDataParallel`` wrappers."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


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
