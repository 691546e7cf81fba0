"""Fixtures for the config tests: writing small config files into a temporary folder."""
import textwrap
from pathlib import Path
from typing import Callable

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write(name, source)`` writes dedented ``source`` to ``tmp_path/name`` and returns the path."""
    def _write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding='utf-8')
        return path
    return _write
