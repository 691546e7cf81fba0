"""Exceptions caused by user input.

Every error a user can fix (a bad config, a wrong path, a corrupt image, a checkpoint of the
wrong shape) is raised as a subclass of :class:`MMSegDDRNetError`, with a message written for
the user. Command-line tools turn them into one line on stderr and a non-zero exit
(see :func:`mmseg_ddrnet.utils.cli.run_cli`).
"""


class MMSegDDRNetError(Exception):
    """Base class of errors the user can fix; ``str(err)`` is the message shown."""


class ConfigError(MMSegDDRNetError, ValueError):
    """A config file, a config value or a command-line option is invalid."""


class RegistryError(MMSegDDRNetError, KeyError):
    """An unknown ``type`` was asked of a registry, or a module was registered twice."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class CheckpointError(MMSegDDRNetError, RuntimeError):
    """A checkpoint is missing, unreadable or does not fit the model."""


class DataError(MMSegDDRNetError, ValueError):
    """A dataset, an image or a label map is missing, unreadable or inconsistent."""


class NumericalError(MMSegDDRNetError, ArithmeticError):
    """Training produced a non-finite loss or gradient (lower the learning rate, check the data, or set
    ``nan_policy``)."""
