"""Print the environment (as the training log's header) and the CPU kernels in use, to tie a result to a machine.

usage: python tools/misc/collect_env.py [--no-onednn]

Besides ``collect_env()`` it reports the instruction set oneDNN's convolutions use (``ONEDNN_MAX_CPU_ISA``
caps it) and the variables that choose CPU kernels (``ATEN_CPU_CAPABILITY``, thread counts).
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmseg_ddrnet.utils.env import collect_env, format_env, onednn_isa  # noqa: E402
from mmseg_ddrnet.utils import run_cli  # noqa: E402

KERNEL_VARIABLES = ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description='Print the environment and the CPU kernels in use')
    parser.add_argument('--no-onednn', action='store_true', help='do not probe oneDNN (it starts a child python)')
    args = parser.parse_args(argv)
    env = collect_env()
    env.pop('PyTorch compiling details')  # long; in the training log
    if not args.no_onednn:
        env['oneDNN ISA'] = onednn_isa()
    for name in KERNEL_VARIABLES:
        env[name] = os.environ.get(name, '(unset)')
    print(format_env(env))
    return 0


if __name__ == '__main__':
    run_cli(main)
