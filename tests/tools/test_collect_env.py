"""tools/misc/collect_env.py: the CPU, and the kernels torch and oneDNN choose, as .ci/run prints them."""
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmseg_ddrnet.utils.env import collect_env, cpu_model

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'misc' / 'collect_env.py'


def _run(**env) -> dict:
    """The tool's ``key: value`` lines, run with ``env`` (a None value unsets a variable)."""
    full = {k: v for k, v in dict(os.environ, **env).items() if v is not None}
    out = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, timeout=300, env=full)
    assert out.returncode == 0, out.stderr
    return dict(line.split(': ', 1) for line in out.stdout.splitlines() if ': ' in line)


def test_cpu_model_names_this_machine():
    model = cpu_model()
    assert model.endswith(f', {os.cpu_count()} logical CPUs')
    if Path('/proc/cpuinfo').is_file():
        names = [line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                 if line.startswith('model name')]
        assert names and model.startswith(names[0])
    env = collect_env()
    assert env['CPU'] == model and env['CPU capability (torch)'] == torch.backends.cpu.get_cpu_capability()


@pytest.mark.skipif(platform.machine() not in ('x86_64', 'AMD64'), reason='AVX2 kernels exist on x86-64 only')
def test_reports_the_kernels_the_environment_chooses():
    capped = _run(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2')
    assert capped['CPU capability (torch)'] == 'AVX2'
    assert capped['oneDNN ISA'] == 'Intel AVX2'
    assert capped['ATEN_CPU_CAPABILITY'] == 'avx2' and capped['ONEDNN_MAX_CPU_ISA'] == 'AVX2'
    default = _run(ATEN_CPU_CAPABILITY=None, ONEDNN_MAX_CPU_ISA=None)
    assert default['CPU'] == cpu_model()
    assert default['oneDNN ISA'].startswith('Intel ')  # oneDNN names x86 ISAs so on AMD CPUs too
