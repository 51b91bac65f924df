"""The page's sound for FOA sources: the NFOV output's view-following stereo, as a WAV per path.

Browsers would play a 4-channel AmbiX track as "quad" (see :mod:`pano.rendering.view_audio`), so for FOA the
page mutes the video and plays this stereo, decoded by the very function that makes the NFOV output's
sound, for the path on screen (re-made after each edit). 16-bit PCM: no encoder, exact seeking.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from common.outputs import atomic_output
from pano.media.probe import MediaInfo
from pano.rendering.view_audio import VIEW_AUDIO_RATE, view_stereo_chunks


def write_view_audio(info: MediaInfo, times: np.ndarray, yaw: np.ndarray, path: Path) -> Path:
    with atomic_output(path) as tmp, wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(VIEW_AUDIO_RATE)
        for chunk in view_stereo_chunks(info, times, yaw, VIEW_AUDIO_RATE):
            pcm = np.clip(chunk.T * 32767.0, -32768, 32767).astype("<i2")
            wav.writeframes(pcm.tobytes())
    return path
