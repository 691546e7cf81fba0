"""setup.py: a failed build of mmcv_ext warns and installs anyway, unless MMCV_EXT_REQUIRED=1."""
import os
import shutil
import subprocess
import sys

import pytest

REPO_FILES = ['setup.py', 'requirements.txt', 'requirements', 'mmseg_ddrnet/version.py', 'mmcv_ext/__init__.py',
              'mmcv_ext/csrc']


@pytest.fixture
def checkout(repo_root, tmp_path):
    """A copy of the files setup.py needs, without any built extension."""
    for name in REPO_FILES:
        src, dst = repo_root / name, tmp_path / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    (tmp_path / 'mmseg_ddrnet' / '__init__.py').touch()
    return tmp_path


def build(checkout, **env):
    """Run ``setup.py build_ext`` in ``checkout`` with a compiler that does not exist."""
    env = dict(os.environ, CC='/nonexistent/gcc', CXX='/nonexistent/g++', **env)
    return subprocess.run([sys.executable, 'setup.py', 'build_ext', '--inplace'], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=300)


def test_failed_build_warns_and_succeeds(checkout):
    out = build(checkout, MMCV_EXT_REQUIRED='0')
    assert out.returncode == 0, out.stderr[-2000:]
    assert '[mmcv_ext] WARNING: building the compiled extension failed' in out.stdout
    assert not list((checkout / 'mmcv_ext').glob('_C*.so'))


def test_failed_build_is_an_error_when_required(checkout):
    out = build(checkout, MMCV_EXT_REQUIRED='1')
    assert out.returncode != 0
    assert 'WARNING: building the compiled extension failed' not in out.stdout
