"""The floor plan (docs/architecture.md): every import of the package points down a layer.

The ``layers`` contract in ``.importlinter`` is checked with import-linter, which also sees imports inside
functions and under ``TYPE_CHECKING``; ``exhaustive = true`` makes a new sub-package that the contract does not
place fail too.
"""
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prerequisites import missing, under_ci

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / '.importlinter'
LINT = shutil.which('lint-imports') or os.path.join(os.path.dirname(sys.executable), 'lint-imports')


@pytest.fixture(autouse=True)
def _linter_installed():
    """import-linter (requirements/tests.txt): skips without it, fails under CI (tests/prerequisites.py)."""
    if not os.path.exists(LINT):
        missing('import-linter is not installed (pip install -r requirements/tests.txt)', under_ci(), 'CI=true')


def _lint(package_parent: Path, config: Path = CONFIG) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    return subprocess.run([LINT, str(config), '--no-cache', '--no-logo'], cwd=str(package_parent), env=env,
                          capture_output=True, text=True, timeout=300)


def _layers() -> list:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    contract = parser['importlinter:contract:layers']
    assert contract['type'] == 'layers' and contract['exhaustive'] == 'true'
    assert 'ignore_imports' not in contract, 'the floor plan lists no exceptions'
    return [line.strip() for line in contract['layers'].splitlines() if line.strip()]


def test_every_import_points_down():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '1 kept, 0 broken' in result.stdout


def test_every_package_has_a_layer():
    placed = {name.strip() for layer in _layers() for name in layer.split('|')}
    packages = {p.name for p in (REPO / 'mmseg_ddrnet').iterdir()
                if (p / '__init__.py').exists() or (p.suffix == '.py' and p.stem != '__init__')}
    assert placed == {p[:-3] if p.endswith('.py') else p for p in packages}


def test_an_upward_import_fails_naming_both_modules(tmp_path):
    shutil.copytree(REPO / 'mmseg_ddrnet', tmp_path / 'mmseg_ddrnet', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(CONFIG, tmp_path / '.importlinter')
    offender = tmp_path / 'mmseg_ddrnet' / 'metrics' / 'tables.py'
    offender.write_text(offender.read_text() + '\n\ndef _late():\n    from ..engine import runner  # noqa: F401\n')
    result = _lint(tmp_path, tmp_path / '.importlinter')
    assert result.returncode != 0
    assert 'BROKEN' in result.stdout.upper()
    assert 'mmseg_ddrnet.metrics.tables -> mmseg_ddrnet.engine.runner' in result.stdout
