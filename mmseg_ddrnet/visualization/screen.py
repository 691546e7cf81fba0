"""Whether this process can open windows: checked before ``--show`` tries (a headless machine gets one warning)."""
import os
import sys
from typing import Optional

import cv2

from ..utils import ConfigError, warn_once


def display_problem() -> Optional[str]:
    """Why no window can be opened here (no X11/Wayland display), or None when there is a screen.

    macOS and Windows always have one; elsewhere ``DISPLAY`` or ``WAYLAND_DISPLAY`` must be set.
    """
    if sys.platform in ('darwin', 'win32'):
        return None
    if os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'):
        return None
    return 'no screen (DISPLAY is not set)'


def opencv_window_problem() -> Optional[str]:
    """Why OpenCV cannot open a window here (no screen, or a build without GUI), or None."""
    problem = display_problem()
    if problem is None and _opencv_gui() == 'NONE':
        problem = 'this OpenCV build has no GUI (opencv-python-headless)'
    return problem


def _opencv_gui() -> str:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith('GUI:'):
            return line.split(':', 1)[1].strip()
    return ''


def can_show_images(what: str = 'the painted images are not shown; use --show-dir to write them') -> bool:
    """True when OpenCV can open windows; else one warning per process, ``--show: <why>: <what>``."""
    problem = opencv_window_problem()
    if problem is not None:
        warn_once(f'--show: {problem}: {what}')
    return problem is None


def resolve_show(show: bool, write_option: str, writes_something: bool, opencv: bool = True) -> bool:
    """``show`` of a tool, off where no window can be opened (``opencv``: OpenCV windows, else matplotlib's).

    Then one warning when the tool writes something anyway (``writes_something``), else a ``ConfigError`` asking
    for ``write_option`` (the option that writes the images instead).
    """
    if not show:
        return False
    problem = opencv_window_problem() if opencv else display_problem()
    if problem is None:
        return True
    if not writes_something:
        raise ConfigError(f'--show: {problem}; give {write_option} to write the output to files instead')
    warn_once(f'--show: {problem}: nothing is shown (the other outputs are written as asked)')
    return False
