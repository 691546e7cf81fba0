"""The environment a run used, logged at the start of training (as mmseg 0.x ``collect_env``)."""
import os
import platform
import subprocess
import sys
from collections import OrderedDict
from typing import Dict

import numpy as np
import torch

from ..version import __version__


def collect_env() -> Dict[str, str]:
    """Python, platform, CPU, CUDA / GPUs, torch (and its build), OpenCV, numpy and our own versions."""
    env: Dict[str, str] = OrderedDict()
    env['sys.platform'] = sys.platform
    env['Python'] = sys.version.replace('\n', '')
    env['Platform'] = platform.platform()
    env['CPU'] = cpu_model()
    env['CPU capability (torch)'] = torch.backends.cpu.get_cpu_capability()
    env['CUDA available'] = str(torch.cuda.is_available())
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            env[f'GPU {i}'] = torch.cuda.get_device_name(i)
        env['CUDA (torch)'] = str(torch.version.cuda)
        env['cuDNN'] = str(torch.backends.cudnn.version())
    env['PyTorch'] = torch.__version__
    env['PyTorch compiling details'] = torch.__config__.show()
    env['CPU threads (torch)'] = str(torch.get_num_threads())
    try:
        import cv2
        env['OpenCV'] = cv2.__version__
    except ImportError:  # pragma: no cover - a runtime dependency
        env['OpenCV'] = 'not installed'
    env['NumPy'] = np.__version__
    env['mmseg_ddrnet'] = __version__
    env['mmcv_ext'] = _mmcv_ext_info()
    return env


def cpu_model() -> str:
    """The CPU's model name (with its family and model numbers on Linux) and the number of logical CPUs."""
    fields = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if not line.strip():
                    break  # the first processor is enough
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get('model name') or platform.processor() or platform.machine() or 'unknown'
    if 'cpu family' in fields and 'model' in fields:
        name += f' (family {fields["cpu family"]}, model {fields["model"]})'
    return f'{name}, {os.cpu_count()} logical CPUs'


_ONEDNN_PROBE = ('import torch\n'
                 'x = torch.randn(1, 32, 32, 32)\n'
                 'torch.nn.functional.conv2d(x, torch.randn(32, 32, 3, 3))\n')


def onednn_isa(timeout: float = 120) -> str:
    """The instruction set oneDNN's CPU kernels use here (a child process with ``ONEDNN_VERBOSE=1`` reports it).

    Honours ``ONEDNN_MAX_CPU_ISA``; 'unknown' when torch has no oneDNN or the probe prints nothing.
    """
    if not torch.backends.mkldnn.is_available():
        return 'unknown (torch built without oneDNN)'
    env = dict(os.environ, ONEDNN_VERBOSE='1', OMP_NUM_THREADS='1')
    try:
        out = subprocess.run([sys.executable, '-c', _ONEDNN_PROBE], capture_output=True, text=True,
                             timeout=timeout, env=env).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f'unknown ({type(err).__name__})'
    for line in out.splitlines():
        if ',isa:' in line:
            return line.split(',isa:', 1)[1].strip()
    return 'unknown (no oneDNN verbose output)'


def _mmcv_ext_info() -> str:
    try:
        import mmcv_ext
        return str(mmcv_ext.build_info())
    except Exception as err:  # the extension is optional: say why it is not there
        return f'not available ({type(err).__name__}: {err})'


def format_env(env: Dict[str, str]) -> str:
    return '\n'.join(f'{key}: {value}' for key, value in env.items())
