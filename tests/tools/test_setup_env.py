"""``tools/setup_env.sh`` with a stand-in Python that records its pip command lines (nothing is installed)."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FAKE_PYTHON = '''#!/usr/bin/env bash
# no torch here; every pip command line is recorded, one argument per line, then a blank line
if [ "$1" = "-c" ]; then case "$2" in *"import torch"*) exit 1 ;; *) echo fake-ready; exit 0 ;; esac; fi
printf '%s\\n' "$@" >> "$PIP_LOG"; echo >> "$PIP_LOG"
'''


def _run(tmp_path, *args, torch_spec=None):
    fake = tmp_path / 'python'
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / 'pip.log'
    env = dict(os.environ, PYTHON=str(fake), PIP_LOG=str(log))
    env.pop('TORCH_SPEC', None)
    if torch_spec is not None:
        env['TORCH_SPEC'] = torch_spec
    proc = subprocess.run(['bash', str(REPO / 'tools' / 'setup_env.sh'), *args], env=env, capture_output=True,
                          text=True, timeout=60)
    calls = [c.split('\n') for c in log.read_text().strip('\n').split('\n\n')] if log.exists() else []
    return proc, calls


def test_torch_spec_with_an_index_url_is_split_into_pip_arguments(tmp_path):
    proc, calls = _run(tmp_path, torch_spec='torch==2.13.0 --index-url https://example.org/whl/cu128')
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == ['-m', 'pip', 'install', '-q', 'torch==2.13.0', '--index-url', 'https://example.org/whl/cu128']


def test_default_torch_spec_and_the_test_requirements(tmp_path):
    proc, calls = _run(tmp_path, '--tests')
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == ['-m', 'pip', 'install', '-q', 'torch==2.13.0']
    assert ['-m', 'pip', 'install', '-q', '-r', 'requirements/tests.txt'] in calls


def test_unknown_option_is_refused_before_installing_anything(tmp_path):
    proc, calls = _run(tmp_path, '--test')
    assert proc.returncode == 2 and 'unknown option --test' in proc.stderr and calls == []
