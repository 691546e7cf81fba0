"""When a test whose prerequisite is missing skips, and when it fails instead.

A developer's machine may lack the compiled extension or the mmsegmentation reference: those tests skip there.
Under CI (``CI=true``) a missing prerequisite is a failure, so that a broken build or reference install cannot turn
a third of the suite silently green: ``MMCV_EXT_REQUIRED=1`` does the same for the extension alone, and
``CI_SKIP_REFERENCE=1`` is the explicit opt-out for the reference.
"""
import os

import pytest


def _flag(name: str) -> bool:
    return os.environ.get(name, '').strip().lower() in ('1', 'true', 'yes', 'on')


def under_ci() -> bool:
    """Whether the suite runs under CI (``CI=true``, as CI services and ``.ci/run`` set it)."""
    return _flag('CI')


def ext_required() -> bool:
    """A missing compiled extension fails the tests that need it (CI or ``MMCV_EXT_REQUIRED=1``)."""
    return under_ci() or _flag('MMCV_EXT_REQUIRED')


def reference_required() -> bool:
    """A missing mmsegmentation reference fails its parity tests (CI, unless ``CI_SKIP_REFERENCE=1``)."""
    return under_ci() and not _flag('CI_SKIP_REFERENCE')


def missing(reason: str, required: bool, why_required: str) -> None:
    """Fail with ``reason`` when the prerequisite is ``required``, otherwise skip."""
    if required:
        pytest.fail(f'{reason} (required: {why_required})', pytrace=False)
    pytest.skip(reason)


def require_ext():
    """The loaded ``mmcv_ext._C`` module; skips or fails (see :func:`ext_required`) when it did not load."""
    from mmseg_ddrnet import ops
    from mmseg_ddrnet.ops import dispatch
    if not ops.ext_available():
        missing(f'mmcv_ext not available: {ops.ext_unavailable_reason()}', ext_required(),
                'CI=true or MMCV_EXT_REQUIRED=1')
    return dispatch.loaded_ext()[0]


def require_reference() -> str:
    """The python of the mmsegmentation 1.2.2 reference (``MMSEG_REFERENCE_PYTHON``); skips or fails when absent."""
    py = os.environ.get('MMSEG_REFERENCE_PYTHON')
    if not py or not os.path.exists(py):
        missing(f'MMSEG_REFERENCE_PYTHON not set or missing ({py!r}): mmsegmentation 1.2.2 parity not checked live',
                reference_required(), 'CI=true without CI_SKIP_REFERENCE=1')
    return py
