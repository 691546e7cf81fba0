"""Fixtures of the engine tests: the toy data set (generated once) and a clean package logger."""
import logging
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the ``toy`` helper module

import toy  # noqa: E402


@pytest.fixture(scope='session')
def toy_data(tmp_path_factory) -> str:
    return toy.make_toy_data(str(tmp_path_factory.mktemp('toy_data')))


@pytest.fixture(autouse=True)
def _drop_log_files():
    """Runs in this process add file handlers to the package logger; remove them after each test."""
    yield
    logger = logging.getLogger('mmseg_ddrnet')
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()
