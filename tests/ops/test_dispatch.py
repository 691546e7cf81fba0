"""Choosing between the kernels and the reference: switches, fallbacks, logging, build info."""
import logging
import os
import subprocess
import sys

import pytest
import torch

import mmcv_ext
from mmseg_ddrnet import ops
from mmseg_ddrnet.ops import compiled, dispatch, reference as ref
from mmseg_ddrnet.utils import ConfigError, DataError
from prerequisites import require_ext


@pytest.fixture
def calls(monkeypatch):
    """Records which implementation (``'ref'`` or ``'ext'``) each op call ran."""
    seen = []
    for module, tag in ((ref, 'ref'), (compiled, 'ext')):
        for name in ('resize_argmax', 'seg_cross_entropy', 'confusion_matrix'):
            original = getattr(module, name)

            def spy(*args, _original=original, _tag=tag, **kwargs):
                seen.append(_tag)
                return _original(*args, **kwargs)
            monkeypatch.setattr(module, name, spy)
    return seen


@pytest.fixture
def log(monkeypatch):
    """Messages of the package logger during the test (the per-op 'logged once' memory reset)."""
    class Collect(logging.Handler):
        records = []

        def emit(self, record):
            self.records.append((record.levelname, record.getMessage()))
    handler = Collect()
    logger = logging.getLogger('mmseg_ddrnet')
    logger.addHandler(handler)
    monkeypatch.setattr(dispatch, '_logged', set())
    yield handler.records
    logger.removeHandler(handler)


def run_all_ops():
    logits = torch.randn(1, 3, 4, 4)
    label = torch.randint(0, 3, (1, 8, 8))
    ops.resize_argmax(logits, (8, 8))
    ops.seg_cross_entropy(logits, label)
    ops.confusion_matrix(label, label, 3)


@pytest.fixture
def built():
    """The compiled extension loaded: skips where it is not built, fails under CI or MMCV_EXT_REQUIRED=1."""
    return require_ext()


def test_default_uses_the_extension_when_built(built, calls, monkeypatch):
    monkeypatch.delenv(ops.DISABLE_ENV, raising=False)
    run_all_ops()
    assert calls == ['ext'] * 3


@pytest.mark.parametrize('value,tag', [('1', 'ref'), ('0', 'ext'), ('', 'ext')])
def test_environment_variable_forces_the_reference(built, calls, monkeypatch, value, tag):
    monkeypatch.setenv(ops.DISABLE_ENV, value)
    run_all_ops()
    assert calls == [tag] * 3


def test_set_use_ext_and_context_manager(calls, monkeypatch):
    monkeypatch.delenv(ops.DISABLE_ENV, raising=False)
    assert ops.get_use_ext()
    with ops.use_ext(False):
        assert not ops.get_use_ext()
        run_all_ops()
    assert ops.get_use_ext()
    ops.set_use_ext(False)
    try:
        run_all_ops()
    finally:
        ops.set_use_ext(True)
    assert calls == ['ref'] * 6


def test_configure_from_ops_cfg():
    try:
        ops.configure(dict(use_ext=False))
        assert not ops.get_use_ext()
        ops.configure(None)  # no ops_cfg: unchanged
        assert not ops.get_use_ext()
    finally:
        ops.configure(dict(use_ext=True))
    assert ops.get_use_ext()
    with pytest.raises(ConfigError, match='use_ext'):
        ops.configure(dict(use_extension=False))


def test_missing_extension_falls_back_with_one_warning(calls, monkeypatch, log):
    monkeypatch.delenv(ops.DISABLE_ENV, raising=False)
    monkeypatch.setattr(dispatch, 'loaded_ext', lambda: (None, 'mmcv_ext._C is not built'))
    run_all_ops()
    run_all_ops()
    assert calls == ['ref'] * 6
    assert log == [('WARNING', 'mmseg_ddrnet.ops: using the reference implementations: '
                               'mmcv_ext._C is not built')]


def test_choice_is_logged_once_per_op(built, monkeypatch, log):
    monkeypatch.delenv(ops.DISABLE_ENV, raising=False)
    run_all_ops()
    run_all_ops()
    with ops.use_ext(False):
        run_all_ops()
    messages = [msg for _, msg in log]
    for op in ('resize_argmax', 'seg_cross_entropy', 'confusion_matrix'):
        assert sum(msg.startswith(f'mmseg_ddrnet.ops.{op}: using the compiled') for msg in messages) \
            == 1
        assert messages.count(f'mmseg_ddrnet.ops.{op}: using the reference implementation '
                              '(use_ext=False)') == 1


def test_unsupported_inputs_use_the_reference():
    meta = torch.empty(1, 2, 3, 3, device='meta')
    assert 'device meta' in compiled.unsupported_reason(None, meta)
    assert 'dtype' in compiled.unsupported_reason(None, torch.zeros(1, 2, 3, 3, dtype=torch.int32))
    assert compiled.unsupported_reason(None, torch.zeros(1, 2, 3, 3)) == ''
    with pytest.raises(DataError, match='floating'):
        ops.resize_argmax(torch.zeros(1, 2, 3, 3, dtype=torch.int32), (4, 4))


def test_availability_and_build_info_agree(built):
    assert ops.ext_available() and mmcv_ext.is_loaded() and ops.ext_unavailable_reason() == ''
    info = mmcv_ext.build_info()
    assert info['loaded'] is True
    assert set(info) >= {'compiler', 'torch', 'cuda', 'cuda_version', 'openmp', 'ops'}
    assert info['torch'] == torch.__version__.split('+')[0]
    assert info['ops'] == ('resize_argmax', 'seg_cross_entropy', 'confusion_matrix', 'resize_crop', 'png_unfilter')


def test_a_broken_extension_is_reported_not_raised():
    code = ("import sys; sys.modules['mmcv_ext._C'] = None\n"
            "import mmcv_ext; from mmseg_ddrnet import ops\n"
            "assert not mmcv_ext.is_loaded() and not ops.ext_available()\n"
            "print(mmcv_ext.build_info()['error'])\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MMSEG_DDRNET_DISABLE_EXT='0'))
    assert out.returncode == 0, out.stderr
    assert 'pip install --no-build-isolation -e .' in out.stdout
