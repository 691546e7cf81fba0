"""Helpers of the tests that run the command-line tools in process: load a script as a module and expect one
``error:`` line from :func:`run_cli` (the ``fresh_logger`` fixture is in ``tests/tools/conftest.py``)."""
import importlib.util
from pathlib import Path

import pytest

from mmseg_ddrnet.utils import run_cli

REPO = Path(__file__).resolve().parents[1]


def load_tool(relpath: str):
    """The script ``REPO/relpath`` (e.g. ``'tools/train.py'``) imported as a module, under a name of its own."""
    name = 'cli_' + relpath.replace('/', '_').replace('.', '_')
    spec = importlib.util.spec_from_file_location(name, REPO / relpath)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_line_error(capsys, call) -> str:
    """Run ``call`` through :func:`run_cli`; assert exit status 1 and exactly one ``error:`` line, return it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(call)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error: ')]
    assert exit_info.value.code == 1 and len(lines) == 1, lines
    return lines[0]
