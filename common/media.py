"""The one way pano-pan opens a media file with PyAV, and the one message for each way that fails.

Every reader (the probe, the frame and plane decoders, the audio decoder) opens through
:func:`open_media`, so a missing file, a folder, a non-regular file or an unreadable one reads the same
whichever command hit it.
"""

from __future__ import annotations

import stat
from pathlib import Path

from common.errors import InputError


def open_media(path: str | Path, expect: str = "a video", fix: str = "pass an MP4/MOV/MKV 360° video"):
    """An open ``av`` input container for ``path``, or an ``InputError`` naming the file and ``fix``.

    ``expect`` words what the caller needs ("a video", "a media file"). Only regular files are opened:
    every reader opens the file more than once (probe, then decode), which a pipe or a device cannot
    serve, so those are refused here instead of hanging on the second open.
    """
    import av

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder; pass a video file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: is not a regular file (a pipe or a device); save the stream to a file and "
                         "pass that")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{path}: not {expect} FFmpeg can read ({reason}); {fix}") from None
