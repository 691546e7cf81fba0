"""The command-line edge: user errors become one line on stderr and a non-zero exit."""
import argparse
import os
import sys
import traceback
from typing import Callable, Optional

from .errors import ConfigError, MMSegDDRNetError

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130
DEBUG_ENV = 'MMSEG_DDRNET_DEBUG'


def debug_requested(argv: Optional[list] = None) -> bool:
    """Whether ``--debug`` is on the command line or ``$MMSEG_DDRNET_DEBUG`` is set (not 0/empty): user errors
    then show their traceback above the one-line message."""
    argv = sys.argv[1:] if argv is None else argv
    return '--debug' in argv or os.environ.get(DEBUG_ENV, '').strip().lower() not in ('', '0', 'false', 'no')


def format_error(err: BaseException) -> str:
    """One line describing ``err`` for a user."""
    msg = str(err).strip().replace('\n', ' ') or type(err).__name__
    if isinstance(err, MMSegDDRNetError):
        return msg
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        return f'no such file or directory: {err.filename}'
    return f'{type(err).__name__}: {msg}'


def run_cli(main: Callable[[], Optional[int]]) -> None:
    """Run ``main`` and exit; user errors print ``error: <message>`` and exit with status 1.

    Errors that are not the user's (bugs) keep their traceback; ``--debug`` or ``$MMSEG_DDRNET_DEBUG=1`` shows it
    for user errors too.
    """
    try:
        code = main()
    except (MMSegDDRNetError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        if debug_requested():
            traceback.print_exc()
        _say(f'error: {format_error(err)}')
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        _say('error: interrupted')
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        _silence_stdout()
        sys.exit(0)
    sys.exit(code or 0)


def _say(line: str) -> None:
    """One line on stderr in one write, so that the lines of ranks sharing a stream never run together."""
    sys.stderr.write(line + '\n')
    sys.stderr.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class ArgumentParser(argparse.ArgumentParser):
    """Bad command lines are user errors: one line and exit status 1 (through :func:`run_cli`)."""

    def error(self, message: str) -> None:
        raise ConfigError(f'{self.prog}: {message} (see --help)')
