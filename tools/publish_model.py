"""Prepare a checkpoint for release: ``python tools/publish_model.py IN_FILE OUT_FILE`` (mmseg 0.x).

Drops the resume state (optimizer, AMP scaler, RNG states, the run's checkpoint paths), keeps the weights and
meta (CLASSES, PALETTE, config, iteration), and writes ``OUT_FILE`` renamed to ``<OUT_FILE stem>-<sha256[:8]>.pth``.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from mmseg_ddrnet.checkpoint.publish import publish_checkpoint  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, print_log, run_cli  # noqa: E402
from mmseg_ddrnet.utils.cli import ArgumentParser  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(prog='tools/publish_model.py',
                            description='strip a checkpoint for release: keep the weights and meta '
                            '(no optimizer or other training state), write OUT_FILE with the first 8 hex digits of its '
                            'sha256 appended '
                            '(ddrnet.pth -> ddrnet-1a2b3c4d.pth)')
    parser.add_argument('in_file', help='input checkpoint filename')
    parser.add_argument('out_file', help='output checkpoint filename (the sha256 prefix is appended)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if osp.abspath(args.in_file) == osp.abspath(args.out_file):
        raise ConfigError(f'out_file must differ from in_file ({args.in_file}): the input is kept')
    final_file = publish_checkpoint(args.in_file, args.out_file)
    print_log(f'published checkpoint written to {final_file}')


if __name__ == '__main__':
    run_cli(main)
