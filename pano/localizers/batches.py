"""Pass 1's feed: what a localizer asked for (frames at its size, audio windows), batch by batch.

The run, the viewer's strip and FOA scoring all feed localizers through :func:`frame_batches`, so each
hears and sees exactly what it would in a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from pano.localizers.base import FrameBatch, Localizer
from pano.media.audio import AudioWindows
from pano.media.video import iter_frames_detail, iter_looks

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo


def frame_batches(info: MediaInfo, source: Localizer, times: np.ndarray,
                  frame_size: tuple[int, int] | None = None,
                  detail: tuple[tuple[int, int], float] | None = None,
                  look_every: int = 1) -> Iterator[FrameBatch]:
    """Frames (if the source wants them) and audio windows, batch by batch, in frame order; and
    ``FrameBatch.detail`` frames at the source's ``detail_size`` (else ``detail`` = ((H, W), every
    seconds), the pipeline's own) once every so many seconds, from the same decode. A source that wants
    no frames gets, with ``frame_size`` (H, W) (the pipeline's own look at the picture), ``FrameBatch.looks``
    at that size on every ``look_every``-th frame instead: the frames nobody looks at are not converted,
    and not decoded where the codec allows (``pano.media.video.iter_looks``). The picture and the sound
    are read from one open container (``MediaInfo.reading_together``)."""
    pictures = source.frame_size is not None or frame_size is not None
    with info.reading_together(video=pictures, audio=source.audio_spec is not None) as media:
        yield from _batches(media, source, times, frame_size, detail, look_every)


def _batches(info: MediaInfo, source: Localizer, times: np.ndarray, frame_size: tuple[int, int] | None,
             detail: tuple[tuple[int, int], float] | None, look_every: int) -> Iterator[FrameBatch]:
    """:func:`frame_batches` from ``info``'s readers."""
    spec = source.audio_spec
    windows = AudioWindows(info, spec.layout, spec.sample_rate, spec.window) if spec else None
    bs = max(1, int(source.batch_size))
    if source.detail_size is not None:
        detail = (tuple(source.detail_size), float(source.detail_every))

    def make(indices: list[int], frames: list[np.ndarray] | None,
             details: dict[int, np.ndarray] | None = None,
             looks: dict[int, np.ndarray] | None = None) -> FrameBatch:
        idx = np.asarray(indices)
        ts = times[np.clip(idx, 0, len(times) - 1)]
        return FrameBatch(
            indices=idx,
            times=ts,
            frames=np.stack(frames) if frames else None,
            audio=windows.windows(ts) if windows else None,
            detail=details if detail is not None and (frames or looks is not None) else None,
            looks=looks,
        )

    if source.frame_size is None:
        if frame_size is None:
            for start in range(0, len(times), bs):
                yield make(list(range(start, min(start + bs, len(times)))), None)
            return
        # Frames only for the pipeline's own look: the frame times lead, as without frames, and a batch
        # gets the looks the decoder gave (none where a truncated file or a gap has no frame).
        decoded = iter_looks(info, frame_size, look_every, detail)
        pending = None
        for start in range(0, len(times), bs):
            idx = list(range(start, min(start + bs, len(times))))
            looks: dict[int, np.ndarray] = {}
            big: dict[int, np.ndarray] = {}
            while True:
                if pending is None:
                    pending = next(decoded, None)
                    if pending is None:
                        break
                if pending[0] > idx[-1]:
                    break
                if pending[0] >= start:
                    if pending[2] is not None:
                        looks[pending[0] - start] = pending[2]
                    if pending[3] is not None:
                        big[pending[0] - start] = pending[3]
                pending = None
            yield make(idx, None, big, looks)
        return

    size = source.frame_size
    if detail is None:
        decode = ((index, t, rgb, None) for index, t, rgb in info.frames(size=size))
    else:
        decode = iter_frames_detail(info, size, detail[0], detail[1])
    idx_buf: list[int] = []
    frame_buf: list[np.ndarray] = []
    big_buf: dict[int, np.ndarray] = {}
    for index, _t, rgb, big in decode:
        if index >= len(times):
            break
        if big is not None:
            big_buf[len(idx_buf)] = big
        idx_buf.append(index)
        frame_buf.append(rgb)
        if len(idx_buf) == bs:
            yield make(idx_buf, frame_buf, big_buf)
            idx_buf, frame_buf, big_buf = [], [], {}
    if idx_buf:
        yield make(idx_buf, frame_buf, big_buf)
