"""What a stereo pair says about direction: the lateral coordinate, from the level difference.

A camera without spatial audio writes two channels. For a coincident pair (two cardioids, or the ±90°
cardioids a stereo decode of FOA gives) a plane wave from a direction whose *left* component is ``s``
(``s = sin(azimuth)·cos(elevation)``, +1 hard left, −1 hard right) arrives with amplitudes ½(1 ± s), so
the level ratio ``(|L| − |R|)/(|L| + |R|)`` is ``s`` in every frequency bin the source dominates. Spaced
omnis show a smaller level difference; the estimate then says "less lateral" than the truth, never the
wrong side. What a pair cannot say is front from back or up from down: every direction with the same
``s`` (a cone around the left-right axis) is equally likely. The map this module makes is that cone;
vision or the front prior chooses on it.

The estimate is energy-weighted over the bins of a band (the loud bins are the source's), smoothed over
time with an exponential window, and its spread across bins becomes the cone's width. A pair whose
channels are the same (dual mono, a mono track copied to two channels) has no lateral information:
then :func:`lateral_confidence` is 0 and the cone is the whole sphere.
"""

from __future__ import annotations

import functools

import numpy as np

from pano.sphere.geometry import grid_vectors

DUAL_MONO = 1e-2  # side/mid energy ratio below which the two channels are one signal (AAC-coded dual
# mono measures ~1e-3; a real FOA room recording decoded to a cardioid pair 0.2-0.8)


@functools.lru_cache(maxsize=8)
def _left(h: int, w: int) -> np.ndarray:
    """The left component (ambisonic +y) of each grid cell's direction, (h, w)."""
    return grid_vectors(h, w)[..., 1].astype(np.float32)


def level_difference(windows: np.ndarray, sample_rate: int, band: tuple[float, float] = (200.0, 8000.0)
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per window (B, 2, S): energy-weighted sums ``Σw·r``, ``Σw·r²``, ``Σw``, and the side/mid energy
    ratio, where ``r`` is the per-bin level ratio (|L| − |R|)/(|L| + |R|) and ``w`` = (|L| + |R|)²."""
    x = np.asarray(windows, np.float32)
    n = x.shape[-1]
    b = x.shape[0]
    if n < 8 or x.shape[1] < 2:
        z = np.zeros(b)
        return z, z, z, z
    spec = np.fft.rfft(x[:, :2] * np.hanning(n).astype(np.float32), axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    keep = (f >= band[0]) & (f <= band[1])
    spec = spec[..., keep] if keep.any() else spec
    mag = np.abs(spec).astype(np.float64)
    total = mag[:, 0] + mag[:, 1]
    r = np.divide(mag[:, 0] - mag[:, 1], total, out=np.zeros_like(total), where=total > 0)
    w = total**2
    side = (np.abs(spec[:, 0] - spec[:, 1]) ** 2).sum(axis=-1)
    mid = (np.abs(spec[:, 0] + spec[:, 1]) ** 2).sum(axis=-1)
    ratio = np.divide(side, mid, out=np.zeros(b), where=mid > 0)
    return (w * r).sum(axis=-1), (w * r * r).sum(axis=-1), w.sum(axis=-1), ratio


def lateral_confidence(side_mid: np.ndarray) -> np.ndarray:
    """0 for dual mono (the channels are one signal), rising to 1 once they clearly differ."""
    return np.clip((np.log10(np.maximum(side_mid, 1e-12)) - np.log10(DUAL_MONO)) / 1.5, 0.0, 1.0)


def cone_maps(s: np.ndarray, spread: np.ndarray, h: int, w: int, min_width: float = 0.08) -> np.ndarray:
    """(B, h, w) likelihood of each direction given lateral ``s`` (B,) with spread (B,): a Gaussian in
    the left component around ``s`` (a cone around the left-right axis)."""
    left = _left(h, w)[None]
    width = np.maximum(np.asarray(spread, np.float32), min_width)[:, None, None]
    return np.exp(-0.5 * ((left - np.asarray(s, np.float32)[:, None, None]) / width) ** 2)


def audio_cues(media, seconds: float = 20.0, sample_rate: int = 16000) -> tuple[str, str]:
    """``(kind, words)``: what direction the file's audio offers — ``foa``, ``stereo`` (two channels
    that differ: lateral cues), ``dual-mono`` (two channels, one signal), ``mono`` or ``none``. Reads
    at most the first ``seconds`` of the track (``pano-pan inspect``)."""
    if not media.has_audio:
        return "none", "no audio"
    if media.is_foa:
        return "foa", "full direction: first-order ambisonics (the ambisonic localizer)"
    if media.audio_channels < 2:
        return "mono", "mono: no direction in the sound; the picture and the front prior decide"
    from pano.media.audio import AudioWindows

    win = 0.25
    windows = AudioWindows(media, "stereo", sample_rate, win)
    times = np.arange(win / 2, max(min(seconds, media.duration), win), win)
    wr, _wrr, ww, ratio = level_difference(windows.windows(times), sample_rate)
    total = float(ww.sum())
    side_mid = float((ratio * ww).sum() / total) if total > 0 else 0.0
    if lateral_confidence(np.array([side_mid]))[0] <= 0:
        return "dual-mono", (f"{media.audio_channels} channels carrying one signal (dual mono): no lateral "
                             "cue; treated as mono")
    lateral = float(wr.sum() / total) if total > 0 else 0.0
    side = "left" if lateral > 0.05 else "right" if lateral < -0.05 else "centre"
    return "stereo", (f"stereo with usable lateral cues (left/right level difference; mean lateral {lateral:+.2f}, "
                      f"{side}); front/back from the picture and the front prior")
