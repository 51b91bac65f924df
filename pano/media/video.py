"""Streaming frame decode: one frame in memory at a time, FFmpeg threads doing the work.

Downscaling happens in swscale during the RGB conversion, so a pass that only needs a small analysis
grid never materialises full-resolution RGB frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from common.errors import InputError


def iter_frames(
    path: str | Path, size: tuple[int, int] | None = None, threads: int = 0
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, time_seconds, rgb)`` for every frame; ``size=(H, W)`` resizes in swscale.

    ``threads=0`` lets FFmpeg pick (frame + slice threading). Times are the frames' presentation times
    on the file's clock (variable frame rate and a late start are kept: a stream made with
    ``-itsoffset 1`` starts at 1.0), falling back to evenly spaced times when a frame has no pts.
    """
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: cannot open the video ({exc}); check the file") from None
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        rate = stream.average_rate or stream.guessed_rate or 30
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        kw = {"format": "rgb24"}
        if size is not None:
            kw.update(height=int(size[0]), width=int(size[1]), interpolation="AREA")
        index = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else start + index / float(rate)
                yield index, t, frame.to_ndarray(**kw)
                index += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: the video stream is damaged at frame {index} ({exc}); re-encode it") from None
    finally:
        container.close()
