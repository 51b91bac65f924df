"""360°-video errors; all are ``UserError`` so the CLI reports them in one line."""

from __future__ import annotations

from soundloc.errors import CheckpointError, DownloadError, OutputError, UserError

__all__ = ["UserError", "CheckpointError", "DownloadError", "InputError", "OutputError", "OptionError"]


class InputError(UserError):
    """The input file is missing, unreadable, or not a usable 360° video."""


class OptionError(UserError):
    """An option value that cannot work (bad size, unknown localizer, ...)."""
