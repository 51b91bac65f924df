"""Stereo for the flat video, decoded from the FOA track and turned with the camera.

A 4-channel AmbiX track copied into a flat video plays as "quad" on ordinary players (W, Y, Z, X on
four speakers), which sounds wrong; and a fixed stereo decode would put a source on the left while the
picture shows it in front. So for FOA input the NFOV video gets two virtual cardioid microphones at
±90° from the camera's yaw, following the planned path sample by sample: what is on screen is centred,
what is to the right of the view is heard on the right.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from pano.media.audio import segment_chunks
from pano.media.probe import MediaInfo
from pano.sphere.ambisonics import beam_weights, fuma_to_ambix
from pano.sphere.geometry import unwrap_yaw

VIEW_AUDIO_RATE = 48000  # the NFOV video's generated stereo, and the viewer's WAV


def view_stereo_chunks(
    info: MediaInfo,
    times: np.ndarray,
    yaw: np.ndarray,
    sample_rate: int = 48000,
    spread: float = 90.0,
    pattern: str = "cardioid",
    chunk_seconds: float = 0.5,
) -> Iterator[np.ndarray]:
    """Yield float32 ``(2, n)`` chunks of the whole track: left and right virtual microphones.

    ``times``/``yaw`` are the camera path (one sample per frame); between frames the yaw is interpolated
    (unwrapped, so a turn across the seam goes the short way).
    """
    t = np.asarray(times, dtype=np.float64)
    track = unwrap_yaw(np.asarray(yaw, dtype=np.float64))
    start = 0
    for chunk in info.audio_chunks(sample_rate, channels=None, chunk_seconds=chunk_seconds):
        foa = chunk[:4]
        if info.audio_format == "fuma":
            foa = fuma_to_ambix(foa)
        n = foa.shape[1]
        st = (start + np.arange(n)) / sample_rate
        cam = np.interp(st, t, track)
        out = np.empty((2, n), np.float32)
        for k, side in enumerate((-spread, spread)):
            w = beam_weights(cam + side, np.zeros(n), pattern)  # (n, 4), ears level
            out[k] = np.einsum("sc,cs->s", w, foa)
        start += n
        yield out


def segment_stereo_chunks(info: MediaInfo, times: np.ndarray, yaw: np.ndarray,
                          sample_rate: int = VIEW_AUDIO_RATE) -> Iterator[np.ndarray]:
    """:func:`view_stereo_chunks` of ``info``'s segment only (the whole track without one)."""
    return segment_chunks(view_stereo_chunks(info, times, yaw, sample_rate), sample_rate, info.segment)
