"""Audio windows centred on video frames, streamed from the file with bounded memory.

A saliency source asks for a window of ``w`` seconds around each frame's time; consecutive frames'
windows overlap, so the reader keeps a ring of decoded samples covering the current window and drops
what no later frame can need. Outside the track the window is zero-padded (silence), which sources read
as "nothing to localise".
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from pano.media.probe import MediaInfo


def mono_chunks(info: MediaInfo, sample_rate: int, chunk_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """The track as ``(1, S)`` chunks of what a mono listener hears: W for FOA, else a downmix."""
    return _chunks_for(info, "mono", sample_rate, chunk_seconds)


def _chunks_for(info: MediaInfo, layout: str, sample_rate: int, chunk_seconds: float) -> Iterator[np.ndarray]:
    if layout == "foa":
        for chunk in info.audio_chunks(sample_rate, channels=None, chunk_seconds=chunk_seconds):
            if chunk.shape[0] < 4:
                raise ValueError("FOA audio needs 4 channels")
            yield chunk[:4]
    elif layout == "mono":
        if info.is_foa:
            # W is the omnidirectional pressure signal; a matrix downmix of W,Y,Z,X would be meaningless.
            for chunk in info.audio_chunks(sample_rate, channels=None, chunk_seconds=chunk_seconds):
                yield chunk[:1]
        else:
            yield from info.audio_chunks(sample_rate, channels=1, chunk_seconds=chunk_seconds)
    else:
        raise ValueError(f"unknown audio layout {layout!r}")


class AudioWindows:
    """Hands out ``(C, n)`` windows centred on increasing times, reading the file once."""

    def __init__(self, info: MediaInfo, layout: str, sample_rate: int, window: float, chunk_seconds: float = 2.0):
        self.sample_rate = int(sample_rate)
        self.length = max(1, int(round(window * sample_rate)))
        self.channels = 4 if layout == "foa" else 1
        self._chunks = _chunks_for(info, layout, sample_rate, chunk_seconds)
        self._buf = np.zeros((self.channels, 0), np.float32)
        self._buf_start = 0  # absolute sample index of _buf[:, 0]
        self._exhausted = False

    def _fill_until(self, stop: int) -> None:
        parts = [self._buf]
        end = self._buf_start + self._buf.shape[1]
        while end < stop and not self._exhausted:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._exhausted = True
                break
            parts.append(chunk)
            end += chunk.shape[1]
        if len(parts) > 1:
            self._buf = np.concatenate(parts, axis=1)

    def _drop_before(self, start: int) -> None:
        drop = min(max(0, start - self._buf_start), self._buf.shape[1])
        if drop:
            self._buf = self._buf[:, drop:]
            self._buf_start += drop

    def windows(self, times: np.ndarray) -> np.ndarray:
        """Windows for increasing ``times`` (seconds): float32 ``(B, C, n)``."""
        times = np.asarray(times, dtype=np.float64)
        out = np.zeros((len(times), self.channels, self.length), np.float32)
        starts = np.round(times * self.sample_rate).astype(np.int64) - self.length // 2
        if len(times):
            self._fill_until(int(starts.max()) + self.length)
        for i, s in enumerate(starts):
            lo, hi = s - self._buf_start, s - self._buf_start + self.length
            src_lo, src_hi = max(lo, 0), min(hi, self._buf.shape[1])
            if src_hi > src_lo:
                out[i, :, src_lo - lo : src_hi - lo] = self._buf[:, src_lo:src_hi]
        if len(times):
            self._drop_before(int(starts[-1]))
        return out


def segment_chunks(chunks: Iterator[np.ndarray], sample_rate: int,
                   segment: tuple[float, float] | None) -> Iterator[np.ndarray]:
    """The part of a whole-track chunk stream (sample k at k / rate) inside ``segment`` = [start, end)."""
    if segment is None:
        yield from chunks
        return
    lo = int(round(segment[0] * sample_rate))
    hi = None if np.isinf(segment[1]) else int(round(segment[1] * sample_rate))
    pos = 0
    for chunk in chunks:
        n = chunk.shape[1]
        a, b = max(lo - pos, 0), n if hi is None else min(hi - pos, n)
        if b > a:
            yield chunk[:, a:b]
        pos += n
        if hi is not None and pos >= hi:
            return
