"""The one check that a named input is a regular file, and the one way a JSON input is parsed.

A pipe or a device cannot be read twice (every reader probes, then reads), and a folder is not a file;
each gets the same one line whichever command met it. JSON from a user's file or a request can be
hostile (200,000 levels deep, a 5000-digit number): every such failure is one ``InputError``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from common.errors import InputError


def require_regular_file(path: str | Path, what: str = "file", fix: str = "check the path",
                         folder_fix: str | None = None) -> Path:
    """``path`` if it is a regular file (or a symlink to one), else an ``InputError`` naming it.

    ``what`` names the file in "no such …"; ``folder_fix`` is the advice when it is a folder."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}; {fix}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); {fix}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder; {folder_fix or 'pass a ' + what}")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: is not a regular file (a pipe or a device); save the stream to a file and "
                         "pass that")
    return path


def parse_json(text: str | bytes, origin: str, fix: str) -> Any:
    """``json.loads(text)``, with every way hostile text fails as one ``InputError`` naming ``origin``."""
    try:
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{origin}: not valid JSON ({exc}); {fix}") from None
    except RecursionError:
        raise InputError(f"{origin}: JSON nested too deeply to read; {fix}") from None
    except ValueError as exc:  # an integer with more digits than Python converts (int_max_str_digits)
        raise InputError(f"{origin}: JSON holds a number too long to read ({str(exc)[:60]}); {fix}") from None


def read_json(path: str | Path, what: str, fix: str) -> Any:
    """The JSON in the regular file ``path`` (see :func:`parse_json`)."""
    path = require_regular_file(path, what)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None
    return parse_json(text, str(path), fix)
