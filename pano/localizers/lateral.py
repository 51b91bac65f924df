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
  ``z_lo`` to 1 at ``z_hi`` (``Z_LO``, ``Z_HI``). Simulated cardioid pairs: a diffuse field gives a
  spread of 0.30 around 0; a direct source at s = 0.9 gives z ≈ 4 at a direct-to-reverberant ratio of
  10, z ≈ 1.1 at 1 (below ``Z_LO``: a source in a room that reverberant is left to the picture);
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
SPEED_OF_SOUND = 343.0  # m/s
MIC_SPACING = 0.0  # m: the time difference is off by default: read with a fixed 3 cm, a spaced copy of
# the real ensembles (c07, c09) lost to mono (c07 0.143 against 0.676), while the lateral sources gained
# The cue's reliability rises from 0 at z = Z_LO to 1 at Z_HI (z = |lateral| / its spread). 0.75 and 2.0
# until 2026-12-04: on a real FOA soundscape reduced to two cardioids (g01) the cue then followed passing
# sounds and stereo captured 0.062 less than mono; at 1.5 and 4.0, 0.008 less, and the reverberant
# talker of x06 (a concert hall's response) still counts.
Z_LO = 1.5
Z_HI = 4.0
USABLE = 0.5  # reliability from which inspect counts a window's lateral cue as usable
USABLE_SHARE = 0.1  # share of usable windows from which inspect says "stereo with usable lateral cues"


@functools.lru_cache(maxsize=8)
def _left(h: int, w: int) -> np.ndarray:
    """The left component (ambisonic +y) of each grid cell's direction, (h, w)."""
    return grid_vectors(h, w)[..., 1].astype(np.float32)


BAND = (200.0, 8000.0)  # Hz: below, rumble and handling noise; above, little energy and much aliasing


def band_spectra(windows: np.ndarray, sample_rate: int, band: tuple[float, float] = BAND
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Hann-windowed spectra (B, 2, F) of the first two channels of windows (B, C, S) within ``band``,
    and their frequencies (F,); None when the windows are too short or have one channel."""
    x = np.asarray(windows, np.float32)
    n = x.shape[-1]
    if n < 8 or x.ndim != 3 or x.shape[1] < 2:
        return None
    spec = np.fft.rfft(x[:, :2] * np.hanning(n).astype(np.float32), axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    keep = (f >= band[0]) & (f <= band[1])
    return (spec[..., keep], f[keep]) if keep.any() else (spec, f)


def level_difference(windows: np.ndarray, sample_rate: int, band: tuple[float, float] = BAND,
                     spectra: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per window (B, 2, S): energy-weighted sums ``Σw·r``, ``Σw·r²``, ``Σw``, and the side/mid energy
    ratio, where ``r`` is the per-bin level ratio (|L| − |R|)/(|L| + |R|) and ``w`` = (|L| + |R|)².
    ``spectra`` (from :func:`band_spectra`) saves computing them again."""
    b = len(windows)
    got = spectra if spectra is not None else band_spectra(windows, sample_rate, band)
    if got is None:
        z = np.zeros(b)
        return z, z, z, z
    spec = got[0]
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
                 gain: float = 1.5, z_lo: float = Z_LO, z_hi: float = Z_HI, spacing: float = MIC_SPACING) -> None:
        if not fps > 0:
            raise ValueError(f"LateralTracker needs a positive window rate, got {fps!r}")
        self.sample_rate = int(sample_rate)
        self.spacing = max(float(spacing), 0.0)
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
        self._cross: np.ndarray | None = None  # smoothed cross-spectrum L·R*, per bin (time difference)
        self._slow_itd = 0.0  # slower mean of the time-difference lateral, for its hold

    def update(self, windows: np.ndarray) -> LateralEstimate:
        spectra = band_spectra(windows, self.sample_rate)
        wr, wrr, ww, ratio = level_difference(windows, self.sample_rate, spectra=spectra)
        b = len(wr)
        boosts = np.ones(b)
        s, spread, differ, agree = np.zeros(b), np.ones(b), np.zeros(b), np.zeros(b)
        for k in range(b):
            # Energy-weighted running sums: loud windows (the source) count, near-silence does not, and
            # windows louder than the recent level (onsets: the direct sound before the room's tail,
            # which is alike in both channels) count more.
            self._level = self._lam_level * self._level + (1 - self._lam_level) * ww[k]
            boost = (ww[k] / self._level) ** self.onset if self.onset > 0 and self._level > 0 else 1.0
            boosts[k] = boost
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
        s, width = np.clip(self.gain * s, -1.0, 1.0), self.gain * spread
        if self.spacing > 0 and spectra is not None and b:
            s, width, rel = self._with_time_difference(spectra, boosts, s, width, rel)
        return LateralEstimate(s, width, rel, differ)

    def _with_time_difference(self, spectra: tuple[np.ndarray, np.ndarray], boosts: np.ndarray, s: np.ndarray,
                              width: np.ndarray, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spaced pairs: the lateral from the arrival-time difference, merged with the level difference.

        GCC-PHAT on the smoothed cross-spectrum: every bin's phase, whitened, voted over candidate
        delays up to ``spacing``/c (and a quarter beyond, so a source on the axis is not clipped); the
        peak's delay over the largest gives the lateral (+1 left: the left channel leads), the peak's
        height the phase coherence (1: one delay in every bin; a diffuse field or two independent
        channels ≈ 0). A coincident pair has no delay whatever the direction (its lateral is 0 and adds
        nothing); two omnis a few centimetres apart have the delay and almost no level difference."""
        spec, f = spectra
        cross = (spec[:, 0] * np.conj(spec[:, 1])).astype(np.complex128)
        tau_max = self.spacing / SPEED_OF_SOUND
        taus = np.linspace(-1.25 * tau_max, 1.25 * tau_max, 41)
        steer = np.exp(-2j * np.pi * np.outer(f, taus))  # (F, T)
        b = len(cross)
        s_t, coh, agree = np.zeros(b), np.zeros(b), np.zeros(b)
        for k in range(b):
            prev = 0.0 if self._cross is None else self._lam_s * self._cross
            self._cross = prev + boosts[k] * cross[k]
            mag = np.abs(self._cross)
            if not np.any(mag > 0):
                continue
            phat = np.divide(self._cross, mag, out=np.zeros_like(self._cross), where=mag > 0)
            gcc = (phat @ steer).real / max(int((mag > 0).sum()), 1)
            j = int(np.argmax(gcc))
            s_t[k] = float(np.clip(taus[j] / tau_max, -1.0, 1.0))
            coh[k] = float(gcc[j])
            self._slow_itd = self._lam_h * self._slow_itd + (1 - self._lam_h) * s_t[k]
            agree[k] = float(np.clip(self._slow_itd / s_t[k], 0.0, 1.0)) if s_t[k] != 0 else 0.0
        rel_t = (np.clip((coh - 0.2) / 0.3, 0.0, 1.0) * np.clip((np.abs(s_t) - 0.15) / 0.25, 0.0, 1.0) * agree)
        width_t = np.maximum(0.1, 0.6 * (1.0 - coh))
        total = rel + rel_t
        both = total > 0
        mixed = np.divide(rel * s + rel_t * s_t, total, out=s.copy(), where=both)
        # Two cues on opposite sides cancel; on one side the more reliable one leads.
        consistent = np.divide(np.abs(rel * s + rel_t * s_t), rel * np.abs(s) + rel_t * np.abs(s_t),
                               out=np.zeros(b), where=(rel * np.abs(s) + rel_t * np.abs(s_t)) > 0)
        out_rel = np.where(both, np.maximum(rel, rel_t) * consistent, 0.0)
        out_width = np.where(both, np.divide(rel * width + rel_t * width_t, total, out=width.copy(), where=both), width)
        return np.where(rel_t > 0, mixed, s), out_width, out_rel


def lateral_likelihood(est: LateralEstimate, h: int, w: int, floor: float = 0.1) -> np.ndarray:
    """(B, h, w) factor to multiply a direction map by: the cone of :func:`cone_maps` over a ``floor``
    (picture evidence off the cone is weakened, not erased: the cue combines with it), raised to the
    frame's reliability, so an unreliable cue is a factor of exactly 1 (the map is left as it was)."""
    cone = floor + (1.0 - floor) * cone_maps(est.s, est.width, h, w)
    rel = np.asarray(est.reliability, np.float32)[:, None, None]
    return np.where(rel > 0, cone ** rel, np.float32(1.0)).astype(np.float32)
