"""Errors a user can cause and fix.

Every failure that comes from the user's input (a file, an option, a checkpoint) is raised as a
``UserError`` whose message names the file and says what to do. The CLI prints that one line and
exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input; ``str(err)`` is a complete one-line message."""

    exit_code = 2


class CheckpointError(UserError):
    """A checkpoint file that is missing, corrupt, or built for another configuration."""


class DownloadError(UserError):
    """A remote file that could not be fetched or failed its checksum."""


class InputError(UserError):
    """The input file is missing, unreadable, or not a usable 360° video."""


class OutputError(UserError):
    """An output cannot be written where the user asked (folder not writable, disk full, name taken)."""


class OptionError(UserError):
    """An option value that cannot work (bad size, unknown localizer, out-of-range plugin option, ...)."""
