"""The one way pano-pan opens a media file with PyAV, and the one message for each way that fails.

Every reader (the probe, the frame and plane decoders, the audio decoder) opens through
:func:`open_media`, so a missing file, a folder, a non-regular file or an unreadable one reads the same
whichever command hit it.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import InputError
from common.files import require_regular_file


def require_media_file(path: str | Path) -> Path:
    """``path`` as a regular file, or the ``InputError`` every reader gives for a missing file, a folder
    or a pipe: :func:`open_media`'s first check, which the CLI makes before importing the pipeline."""
    return require_regular_file(path, "file", "check the path", folder_fix="pass a video file")


def open_media(path: str | Path, expect: str = "a video", fix: str = "pass an MP4/MOV/MKV 360° video"):
    """An open ``av`` input container for ``path``, or an ``InputError`` naming the file and ``fix``.

    ``expect`` words what the caller needs ("a video", "a media file"). Only regular files are opened:
    every reader opens the file more than once (probe, then decode), which a pipe or a device cannot
    serve, so those are refused here instead of hanging on the second open.
    """
    path = require_media_file(path)
    import av  # after the check: a missing file is reported without PyAV's import

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{path}: not {expect} FFmpeg can read ({reason}); {fix}") from None
