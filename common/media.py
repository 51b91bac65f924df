"""The one way pano-pan opens a media file with PyAV, and the one message for each way that fails.

Every reader (the probe, the frame and plane decoders, the audio decoder) opens through
:func:`open_media`, so a missing file, a folder, a non-regular file or an unreadable one reads the same
whichever command hit it.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import InputError
from common.files import require_regular_file


def open_media(path: str | Path, expect: str = "a video", fix: str = "pass an MP4/MOV/MKV 360° video"):
    """An open ``av`` input container for ``path``, or an ``InputError`` naming the file and ``fix``.

    ``expect`` words what the caller needs ("a video", "a media file"). Only regular files are opened:
    every reader opens the file more than once (probe, then decode), which a pipe or a device cannot
    serve, so those are refused here instead of hanging on the second open.
    """
    import av

    path = require_regular_file(path, "file", "check the path", folder_fix="pass a video file")
    try:
        container, errors = _open_logged(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{path}: not {expect} FFmpeg can read ({reason}); {fix}") from None
    if errors:  # FFmpeg opened it but dropped what it could not parse (a stream's header): not "no audio"
        container.close()
        raise InputError(f"{path}: the file is damaged ({errors[0]}); re-encode or copy it again")
    return container


def _open_logged(name: str):
    """``av.open(name)`` and the errors its demuxer reported while reading the header.

    FFmpeg reads past a broken stream header and leaves that stream out, so a file with garbage in
    its ``moov`` opened as a video without sound; those errors are the only sign of the damage.
    """
    import av
    import av.logging

    previous, repeated = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)  # the same damage in a second file (or a second open) is still seen
    try:
        with av.logging.Capture(True) as logs:
            container = av.open(name)
    finally:
        av.logging.set_level(previous)
        av.logging.set_skip_repeated(repeated)
    demuxer = container.format.name
    errors = [msg.strip() for level, source, msg in logs
              if level <= av.logging.ERROR and source == demuxer and msg.strip()]
    return container, errors
