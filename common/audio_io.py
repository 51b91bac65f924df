"""Decoding audio from any file PyAV reads, resampled by FFmpeg's swresample.

Shared by the datasets, ``localize`` and the 360° pipeline so that every part of the project hears the
same samples for the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from common.errors import UserError
from common.media import SharedInput, open_media

_LAYOUTS = {1: "mono", 2: "stereo", 4: "4.0"}


def _open_audio(path: Path):
    container = open_media(path, "a media file", "pass an audio or video file")
    if not container.streams.audio:
        container.close()
        raise UserError(f"{path}: has no audio stream; pass a file with sound")
    return container


def iter_audio_chunks(
    path: str | Path, sample_rate: int, channels: int | None = None, chunk_seconds: float = 10.0,
    start: float = 0.0, shared: SharedInput | None = None,
) -> Iterator[np.ndarray]:
    """Yield float32 ``(C, S)`` chunks of about ``chunk_seconds`` at ``sample_rate``.

    ``channels=None`` keeps the file's channels untouched (no remixing, so ambisonic channels keep their
    meaning); ``channels=1`` downmixes to mono. Memory stays bounded by one chunk whatever the length.

    Sample ``k`` is at ``k / sample_rate`` seconds on the file's own clock: a track that starts late
    (``ffmpeg -itsoffset``, a camera that starts recording sound after the picture) is preceded by
    silence, and one that starts before zero loses its leading samples, so audio times and video frame
    times (their presentation timestamps) are the same numbers. With ``start`` > 0 the file is sought
    there first (nothing before it is decoded) and sample 0 is at ``start`` seconds. ``shared``: the
    packets come from that input when it can serve them (``common.media.SharedInput``; not with a seek).
    """
    import av

    path = Path(path)
    container, packets, own = _audio_packets(path, shared if start <= 0 else None)
    try:
        stream = container.streams.audio[0]
        n_in = stream.codec_context.channels
        n_out = n_in if channels is None else channels
        # A layout FFmpeg has no downmix matrix for (e.g. "9 channels" of higher-order ambisonics) is
        # decoded as it is and averaged to mono here.
        average = channels == 1 and n_in > 1 and stream.codec_context.layout.name.endswith("channels")
        if average:
            n_out = n_in
        if n_out == n_in:
            layout = stream.codec_context.layout  # keep the source layout: no matrixing
        elif n_out in _LAYOUTS:
            layout = _LAYOUTS[n_out]
        else:
            raise UserError(f"{path}: cannot remix {n_in} audio channels to {n_out}")
        # Planar frames of more than 8 channels crash PyAV's to_ndarray; interleaved ones do not.
        packed = n_out > 8
        resampler = av.AudioResampler(format="flt" if packed else "fltp", layout=layout, rate=sample_rate)
        target = max(1, int(chunk_seconds * sample_rate))
        pending: list[np.ndarray] = []
        have = 0
        begin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        lead = int(round(begin * sample_rate))
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
            lead = 0
        for offset in range(0, max(lead, 0), target):
            yield np.zeros((1 if average else n_out, min(target, lead - offset)), np.float32)
        skip = max(-lead, 0)
        seeking = start > 0  # the first decoded frame says how far before ``start`` the seek landed

        def resampled(frame):
            for out in resampler.resample(frame):
                arr = out.to_ndarray().reshape(-1, n_out).T if packed else out.to_ndarray().reshape(n_out, -1)
                yield arr.mean(axis=0, keepdims=True) if average else arr

        bad: av.error.FFmpegError | None = None  # a packet that did not decode: fatal unless it was the last
        try:
            for packet in packets:
                if bad is not None and packet.size:
                    raise bad
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:  # a file cut short ends in half a packet
                    bad = exc
                    continue
                for frame in frames:
                    if seeking:
                        seeking = False
                        landed = float(frame.pts * frame.time_base) if frame.pts is not None else start
                        skip = max(int(round((start - landed) * sample_rate)), 0)
                    frame.pts = None  # let the resampler count samples; some files have gaps in pts
                    for arr in resampled(frame):
                        if skip:
                            cut = min(skip, arr.shape[1])
                            arr, skip = arr[:, cut:], skip - cut
                        pending.append(arr)
                        have += arr.shape[1]
                        if have >= target:
                            yield np.concatenate(pending, axis=1).astype(np.float32, copy=False)
                            pending, have = [], 0
        except av.error.FFmpegError as exc:
            raise UserError(f"{path}: the audio stream is damaged ({exc}); re-encode the file") from None
        for arr in resampled(None):
            pending.append(arr)
        if pending:
            yield np.concatenate(pending, axis=1).astype(np.float32, copy=False)
    finally:
        packets.close()
        if own:
            container.close()


def _audio_packets(path: Path, shared: SharedInput | None):
    """``(container, packets, own)``: the first audio stream's packets, from ``shared`` when it can
    serve them, else from a container of its own (``own``: the caller closes it)."""
    if shared is not None and shared.container.streams.audio and shared.claim(shared.container.streams.audio[0]):
        return shared.container, shared.packets(shared.container.streams.audio[0]), False
    container = _open_audio(path)
    return container, container.demux(container.streams.audio[0]), True


def read_audio(path: str | Path, sample_rate: int, channels: int | None = 1) -> np.ndarray:
    """Whole audio track as float32 ``(C, S)``; for clips and datasets, not long videos."""
    chunks = list(iter_audio_chunks(path, sample_rate, channels, chunk_seconds=30.0))
    if not chunks:
        n = 1 if channels is None else channels
        return np.zeros((n, 0), np.float32)
    return np.concatenate(chunks, axis=1)


def audio_duration(path: str | Path) -> float | None:
    """The audio track's duration in seconds from the file's header (nothing decoded), or None if unknown."""
    container = _open_audio(Path(path))
    try:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / 1e6 if container.duration is not None else None
    finally:
        container.close()


def read_audio_centre(path: str | Path, sample_rate: int, seconds: float, channels: int | None = 1) -> np.ndarray:
    """The middle ``seconds`` of the track (all of it when shorter), decoding only those: a one-hour file
    costs what its 20 s do."""
    duration = audio_duration(path)
    win = int(round(seconds * sample_rate))
    if duration is None or duration <= seconds:
        wave = read_audio(path, sample_rate, channels)
    else:
        got, chunks = 0, []
        for chunk in iter_audio_chunks(path, sample_rate, channels, chunk_seconds=min(seconds, 10.0),
                                       start=(duration - seconds) / 2):
            chunks.append(chunk)
            got += chunk.shape[1]
            if got >= win:
                break
        wave = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels or 1, 0), np.float32)
    start = max((wave.shape[1] - win) // 2, 0)  # the centre of what was read (a header may understate)
    return wave[:, start : start + win]
