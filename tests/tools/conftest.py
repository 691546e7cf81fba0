"""Fixtures of the tool tests."""
import logging

import pytest


@pytest.fixture
def fresh_logger():
    """The package logger writes to this test's captured streams (capsys), not to a closed earlier one."""
    logger = logging.getLogger('mmseg_ddrnet')
    saved = logger.handlers[:]
    logger.handlers.clear()
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:] = saved
