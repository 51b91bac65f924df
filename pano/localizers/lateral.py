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

**When the cue is worth using** (:class:`LateralTracker`): a level difference moves the camera only
where it says something a mono track could not, reliably. Three things must hold, each a factor of the
per-frame ``reliability`` in [0, 1]:

* the channels differ (not dual mono: ``lateral_confidence``);
* the lateral estimate stands out of its own spread: ``z = |s| / spread``, where ``s`` is the
  energy-weighted mean level ratio over the last ``smooth`` seconds and ``spread`` its standard
  deviation over bins *and* windows. One direct source gives the same ratio in every bin and window
  (``z`` ≫ 1); a diffuse field, two channels that are independent signals, or sources on both sides
  scatter the ratio around 0 (``z`` ≈ 0), and a source in the median plane (front, back, above) has
  ``s`` ≈ 0, which says nothing the front prior does not already say. Reliability rises from 0 at
  ``z_lo`` to 1 at ``z_hi``. Simulated cardioid pairs: a diffuse field gives a spread of 0.30 around
  0; a direct source at s = 0.9 gives z ≈ 4 at a direct-to-reverberant ratio of 10, z ≈ 1.1 at 1;
* it holds over time: the per-window ratio's mean over the slower ``hold`` seconds keeps the side
  (the reliability is scaled by how much of that slower mean agrees with the fast one's sign), so one
  loud bang on one side does not swing the camera over.

With reliability 0 the localizer's stereo branch is exactly the mono map (``audiovisual``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from pano.sphere.geometry import grid_vectors

DUAL_MONO = 1e-2  # side/mid energy ratio below which the two channels are one signal (AAC-coded dual
# mono measures ~1e-3; a real FOA room recording decoded to a cardioid pair 0.2-0.8)
USABLE = 0.5  # reliability from which inspect counts a window's lateral cue as usable
USABLE_SHARE = 0.1  # share of usable windows from which inspect says "stereo with usable lateral cues"


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
    """``(kind, words)``: what direction the file's audio offers — ``foa``, ``stereo`` (a lateral cue
    that is reliable for part of the time: :class:`LateralTracker`), ``stereo-no-cue`` (two channels
    that differ, but never reliably to one side: diffuse, incoherent or centred sound, so runs work as
    in mono), ``dual-mono`` (two channels, one signal), ``mono`` or ``none``. Reads at most the first
    ``seconds`` of the track (``pano-pan inspect``)."""
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
    est = LateralTracker(sample_rate, 1.0 / win).update(windows.windows(times))
    if not len(times) or float(np.median(est.differ)) <= 0:
        return "dual-mono", (f"{media.audio_channels} channels carrying one signal (dual mono): no lateral "
                             "cue; treated as mono")
    usable = est.reliability >= USABLE
    share = float(usable.mean())
    if share < USABLE_SHARE:
        return "stereo-no-cue", (f"stereo without a usable lateral cue (the channels differ, but the level "
                                 f"difference is reliable {share:.0%} of the time: diffuse, incoherent or "
                                 "centred sound); runs work as in mono")
    lateral = float(np.mean(est.s[usable]))
    side = "left" if lateral > 0.05 else "right" if lateral < -0.05 else "centre"
    return "stereo", (f"stereo with usable lateral cues {share:.0%} of the time (left/right level difference; "
                      f"mean lateral {lateral:+.2f} there, {side}); front/back from the picture and the front prior")


@dataclass
class LateralEstimate:
    """Per frame (B,): the lateral coordinate ``s`` (+1 left, gain applied), the cone's ``width``,
    ``reliability`` in [0, 1] (module docstring), and ``differ`` (0 for dual mono, 1 once the channels
    clearly differ)."""

    s: np.ndarray
    width: np.ndarray
    reliability: np.ndarray
    differ: np.ndarray


class LateralTracker:
    """Running lateral estimate of a stereo track, window by window (module docstring).

    Feed it the stereo windows (B, 2, S) of consecutive frames with :meth:`update`; the state carries
    over between calls, so batches make one stream. ``fps`` is the rate of the windows."""

    def __init__(self, sample_rate: int, fps: float, smooth: float = 0.5, hold: float = 2.0, onset: float = 2.0,
                 gain: float = 1.5, z_lo: float = 0.75, z_hi: float = 2.0) -> None:
        if not fps > 0:
            raise ValueError(f"LateralTracker needs a positive window rate, got {fps!r}")
        self.sample_rate = int(sample_rate)
        self.onset = float(onset)
        self.gain = float(gain)
        self.z_lo, self.z_hi = float(z_lo), max(float(z_hi), float(z_lo) + 1e-6)
        self._lam_s = float(np.exp(-1.0 / (smooth * fps))) if smooth > 0 else 0.0
        self._lam_h = float(np.exp(-1.0 / (hold * fps))) if hold > 0 else 0.0
        self._lam_level = float(np.exp(-1.0 / (2.0 * fps)))
        self.reset()

    def reset(self) -> None:
        self._fast = np.zeros(4)  # smoothed Σw·r, Σw·r², Σw, Σw·side/mid
        self._slow = np.zeros(2)  # slower Σw·r, Σw
        self._level = 0.0  # recent window energy, for the onset weighting

    def update(self, windows: np.ndarray) -> LateralEstimate:
        wr, wrr, ww, ratio = level_difference(windows, self.sample_rate)
        b = len(wr)
        s, spread, differ, agree = np.zeros(b), np.ones(b), np.zeros(b), np.zeros(b)
        for k in range(b):
            # Energy-weighted running sums: loud windows (the source) count, near-silence does not, and
            # windows louder than the recent level (onsets: the direct sound before the room's tail,
            # which is alike in both channels) count more.
            self._level = self._lam_level * self._level + (1 - self._lam_level) * ww[k]
            boost = (ww[k] / self._level) ** self.onset if self.onset > 0 and self._level > 0 else 1.0
            self._fast = self._lam_s * self._fast + boost * np.array([wr[k], wrr[k], ww[k], ratio[k] * ww[k]])
            self._slow = self._lam_h * self._slow + boost * np.array([wr[k], ww[k]])
            if self._fast[2] > 0:
                mean = self._fast[0] / self._fast[2]
                s[k] = mean
                spread[k] = np.sqrt(max(self._fast[1] / self._fast[2] - mean**2, 0.0))
                differ[k] = float(lateral_confidence(np.array([self._fast[3] / self._fast[2]]))[0])
                slow = self._slow[0] / self._slow[1] if self._slow[1] > 0 else 0.0
                agree[k] = float(np.clip(slow / mean, 0.0, 1.0)) if mean != 0 else 0.0
        z = np.abs(s) / np.maximum(spread, 1e-3)
        rel = differ * np.clip((z - self.z_lo) / (self.z_hi - self.z_lo), 0.0, 1.0) * agree
        return LateralEstimate(np.clip(self.gain * s, -1.0, 1.0), self.gain * spread, rel, differ)


def lateral_likelihood(est: LateralEstimate, h: int, w: int, floor: float = 0.1) -> np.ndarray:
    """(B, h, w) factor to multiply a direction map by: the cone of :func:`cone_maps` over a ``floor``
    (picture evidence off the cone is weakened, not erased: the cue combines with it), raised to the
    frame's reliability, so an unreliable cue is a factor of exactly 1 (the map is left as it was)."""
    cone = floor + (1.0 - floor) * cone_maps(est.s, est.width, h, w)
    rel = np.asarray(est.reliability, np.float32)[:, None, None]
    return np.where(rel > 0, cone ** rel, np.float32(1.0)).astype(np.float32)
