"""Fixtures of the model tests."""
import pytest

from mmseg_ddrnet.utils import logging as package_logging


@pytest.fixture
def fresh_warnings(monkeypatch):
    """Forget the warnings already logged in this process, so a test sees its own."""
    monkeypatch.setattr(package_logging, '_warned', set())
