"""Training-free audio-visual synchrony saliency for mono audio (Hershey & Movellan 1999; Kidron et al. 2005).

Pixels whose change over time goes with the loudness of the soundtrack are likely where the sound comes
from. Per pixel we keep exponentially weighted running sums (O(pixels) state, streamed across batches)
of a visual change feature, the audio loudness feature and a *global* change regressor, and compute the
partial correlation between pixel change and audio with the global component regressed out, so camera
motion and brightness flicker (which change the whole frame at once, with a per-pixel gain) do not
count as synchrony.

Three feature pairs cover the ways a sound source shows up in pixels; the map takes the strongest:

- ``activity``: |Δ luminance| vs loudness — things move while they sound (lips, hands on strings);
- ``comodulation``: signed Δ luminance vs Δ loudness — brightness or size follow the loudness;
- ``onset``: |Δ luminance| vs |Δ loudness| — visual events at sound onsets (hits, claps).

Correlations are turned into a chance-normalised statistic ``z = ρ² / chance`` (≈ χ²₁ under no
synchrony, ≈ 2·N·MI for Gaussian mutual information). ``chance`` comes from the median ρ² over the frame
(most pixels are not the source), floored by the 1/N of the window's effective length, so temporal
autocorrelation and blur, which inflate chance correlations, are measured rather than assumed. The map
keeps only the excess over a noise floor; the confidence compares the map's peak with the largest ``z``
chance would give over the grid's independent cells.

The change features are pooled *after* differencing (blur of |Δ luminance| and of Δ luminance), not the
luminance before it: pooling the magnitude keeps fine-texture motion (lips, strings) that a pre-blur
would average away, while it still averages out compression noise. The blur is horizontally wider by
1/cos(latitude) so it covers the same solid angle everywhere, and wraps at the ±180° seam (the
horizontal blur is done in the Fourier domain, which is periodic by construction). Frame-wide medians
(the global regressor, the chance level) are taken over pixels spread evenly on the sphere.

Camera yaw rotation (a pan, a vehicle turning) is a circular shift of the equirectangular frame: it is
estimated between consecutive frames and the running sums are kept in scene columns, so a source keeps
accumulating evidence in one place while the camera turns; maps are rotated back to each frame.

Limitations: camera pitch/roll motion and translation are only handled by the global regression (the
source's evidence smears while they last); a scene cut keeps a few seconds of stale evidence; frames are
assumed consecutive (a gap is treated as one frame step); a still sounding object (a static loudspeaker,
a talker whose face is a pixel at this grid) cannot be found and yields low confidence, by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter1d

from common.errors import InputError, OptionError
from common.options import PluginOptions, option
from pano.localizers.base import AudioSpec, FrameBatch, Localizer, SaliencyBatch
from pano.sphere.geometry import area_weights, grid_angles

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo
    from pano.run.context import RunContext

PAIRS = ("activity", "comodulation", "onset")
_VISUAL = {"activity": "mag", "comodulation": "signed", "onset": "mag"}  # visual feature per pair
_MEDIAN_CHI2_1 = 0.4549  # median of a χ²₁ variable: median(ρ²)·N under no synchrony
_EPS = 1e-12


def luminance(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma (B, H, W) float32 in 0..255 from (B, H, W, 3) RGB."""
    f = frames.astype(np.float32, copy=False)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def blur_equirect(
    images: np.ndarray, sigma_deg: float, max_stretch: float = 8.0, shift: np.ndarray | None = None
) -> np.ndarray:
    """Gaussian blur of (B, H, W) equirectangular images covering ~``sigma_deg`` of arc everywhere.

    Horizontal: per-row sigma ``sigma/cos(lat)`` (capped at ``max_stretch`` times), applied as a
    Gaussian transfer function on the row's FFT, so it wraps at the seam. Vertical: a plain Gaussian
    with edge replication at the poles. ``shift`` (B,) columns, optional, rotates each image in yaw
    (content moves to larger x) in the same FFT, at no extra cost.
    """
    if sigma_deg <= 0 and shift is None:
        return images.astype(np.float32, copy=False)
    sigma_deg = max(sigma_deg, 0.0)
    _, h, w = images.shape
    _, pitch = grid_angles(h, w)
    sig_y = sigma_deg * h / 180.0
    stretch = np.minimum(1.0 / np.maximum(np.cos(np.radians(pitch)), 1e-6), max_stretch)
    sig_x = sigma_deg * w / 360.0 * stretch  # (H,) pixels
    freqs = np.fft.rfftfreq(w)  # cycles per pixel
    transfer = np.exp(-2.0 * (np.pi * sig_x[:, None] * freqs[None, :]) ** 2)[None].astype(np.float32)
    if shift is not None:
        phase = np.exp(-2j * np.pi * np.asarray(shift, float)[:, None, None] * freqs).astype(np.complex64)
        transfer = transfer * phase
    spec = np.fft.rfft(np.asarray(images, dtype=np.float32), axis=2)
    out = np.fft.irfft(spec * transfer, n=w, axis=2).astype(np.float32, copy=False)
    if sig_y > 0.25:
        out = gaussian_filter1d(out, sig_y, axis=1, mode="nearest", truncate=3.0)
    return out


def estimate_yaw_shift(
    prev: np.ndarray, frames: np.ndarray, max_shift: float, lowpass_px: float = 2.0, min_peak: float = 0.6,
    zero_margin: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal (yaw) shift in columns (B,) of each of ``frames`` (B, H, W) from its predecessor.

    A camera yaw rotation is an exact circular shift of the equirectangular frame, so a correlation over
    the rows (weighted by cos(latitude), row means removed) finds it; sub-pixel by a parabola through the
    peak. The cross-spectrum is half-whitened (|X|^-0.5) and low-passed: full phase correlation
    whitens sensor noise up to the Nyquist rate and gave ~0.5 px errors on noisy frames, this ~0.05 px.
    Returns the shifts (0 where the peak is weak, e.g. a flat scene or a cut, or beyond ``max_shift``)
    and the peak strength in [0, 1]. ``frames[k](x) ≈ frames[k-1](x - shift[k])``, ``prev`` standing in
    for ``frames[-1]``.
    """
    seq = np.concatenate([prev[None], frames], axis=0).astype(np.float64)
    seq -= seq.mean(axis=2, keepdims=True)
    w = seq.shape[2]
    spec = np.fft.rfft(seq, axis=2)
    weights = area_weights(seq.shape[1])[None]  # (1, H, 1)
    cross = (weights * spec[1:] * np.conj(spec[:-1])).sum(axis=1)  # (B, F)
    lowpass = np.exp(-2.0 * (np.pi * lowpass_px * np.fft.rfftfreq(w)) ** 2)
    cross = cross / np.sqrt(np.abs(cross) + 1e-9) * lowpass
    corr = np.fft.irfft(cross, n=w, axis=1)  # (B, W), peak at the shift
    best = np.fft.irfft(np.abs(cross), n=w, axis=1)[:, 0]  # the peak if every frequency agreed
    k = corr.argmax(axis=1)
    rows = np.arange(len(k))
    c0 = corr[rows, k]
    cm, cp = corr[rows, (k - 1) % w], corr[rows, (k + 1) % w]
    denom = cm - 2.0 * c0 + cp
    frac = np.where(np.abs(denom) > 1e-12, 0.5 * (cm - cp) / np.where(denom == 0, 1, denom), 0.0)
    shift = ((k + np.clip(frac, -0.5, 0.5) + w / 2) % w) - w / 2
    strength = np.clip(c0 / np.maximum(best, 1e-12), 0.0, 1.0) * (best > 1e-9)
    # A still camera over a repetitive texture (fences, tiles, a grid) has near-equal peaks a period
    # apart, and any local change (the sounding object itself) can tip the argmax to a wrong one; so a
    # shift must beat "no shift" clearly before it is believed.
    beats_still = (c0 - corr[:, 0]) > zero_margin * np.maximum(best, 1e-12)
    keep = (strength >= min_peak) & (np.abs(shift) <= max_shift) & ((np.abs(shift) < 1.5) | beats_still)
    return np.where(keep, shift, 0.0), strength


def audio_loudness(
    windows: np.ndarray, sample_rate: int, band: tuple[float, float] | None, exponent: float
) -> np.ndarray:
    """Per-window loudness (B,): band-limited mean power of a Hann-weighted window, ``** exponent``.

    A power law (Stevens: loudness ~ energy^0.3) rather than a log keeps silence finite and, like a log,
    makes the correlation independent of the track's gain.
    """
    x = np.asarray(windows, dtype=np.float32)
    if x.ndim == 3:
        x = x.mean(axis=1)  # (B, S): a stray multi-channel input is downmixed
    n = x.shape[-1]
    if n < 2:
        return np.zeros(x.shape[0])
    spec = np.fft.rfft(x * np.hanning(n).astype(np.float32), axis=-1)
    power = spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2
    if band is not None:
        f = np.fft.rfftfreq(n, 1.0 / sample_rate)
        keep = (f >= band[0]) & (f <= band[1])
        if keep.any():
            power = power[:, keep]
    energy = power.mean(axis=-1) / n
    return np.power(np.maximum(energy, 0.0), exponent)


def _chi2_1_tail_max(cells: float) -> float:
    """About the largest of ``cells`` independent χ²₁ values (Gumbel location for the max)."""
    k = max(cells, 2.0)
    return float(max(2.0 * np.log(k) - np.log(np.log(k)) - np.log(np.pi), 1.0))


@dataclass(frozen=True)
class SynchronyOptions(PluginOptions):
    frame_size: tuple[int, int] = option((60, 120), "(H, W = 2H) grid decoded for it; the map has the same size",
                                         lo=4, hi=1024)
    evidence_window: float = option(3.0, "seconds, time constant of the exponential evidence window",
                                    lo=0.1, hi=60.0)
    blur_deg: float = option(3.0, "pooling of the change features, degrees of arc", lo=0.0, hi=30.0)
    prefilter_deg: float = option(0.0, "luminance blur before differencing, degrees (0: none)", lo=0.0, hi=30.0)
    track_yaw: bool = option(True, "follow camera yaw rotation so a panning camera does not smear evidence")
    max_yaw_speed: float = option(720.0, "degrees per second beyond which a frame-to-frame shift is not believed",
                                  lo=0.0, hi=10000.0)
    noise_floor: float = option(0.25, "|Δ luminance| below this (0..255) counts as no change", lo=0.0, hi=255.0)
    band: tuple[float, float] | None = option((100.0, 6000.0), "audio band (Hz) for loudness; none = full band",
                                              lo=0.0, hi=96000.0)
    loudness_exponent: float = option(0.3, "power applied to band energy", lo=0.01, hi=4.0)
    pairs: tuple[str, ...] = option(PAIRS, "feature pairs used", choices=PAIRS)
    map_floor: float = option(9.0, "chance-normalised statistic subtracted from the map (χ²₁ units)",
                              lo=0.0, hi=1000.0)
    min_seconds: float = option(0.5, "evidence needed before a frame gets a map", lo=0.0, hi=60.0)
    sample_rate: int = option(16000, "audio analysis rate (Hz)", lo=4000, hi=96000)
    audio_window: float | None = option(None, "seconds of audio per frame; default 2.5 frame periods",
                                        lo=0.005, hi=2.0)
    batch_size: int = option(32, "frames per batch", lo=1, hi=1024)

    def check(self) -> None:
        h, w = self.frame_size
        if w != 2 * h:
            self.fail(f"frame_size must be (H, 2H), got {list(self.frame_size)}")
        if not self.pairs:
            self.fail(f"pairs must be a non-empty subset of {', '.join(PAIRS)}")
        if self.band is not None and not self.band[0] < self.band[1]:
            self.fail(f"band must be (low, high) Hz with low < high, got {list(self.band)}")


class SynchronyLocalizer(Localizer):
    """Per-pixel audio-visual synchrony over a sliding window; see the module docstring for why.

    Frames before ``min_seconds`` of evidence get an empty map and confidence 0; ``map_floor`` of 9 χ²₁
    units is p ≈ 0.003. The frame rate comes from the run context (the windows are in seconds).
    """

    name = "synchrony"
    Options = SynchronyOptions

    def __init__(self, ctx: RunContext | None = None, options: SynchronyOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        self.frame_size = o.frame_size
        self.window = o.evidence_window
        self.pairs = tuple(p for p in PAIRS if p in o.pairs)
        self.batch_size = o.batch_size
        self._set_fps(self.ctx.fps)
        self.reset()

    # -- setup -------------------------------------------------------------------------------------
    def _set_fps(self, fps: float) -> None:
        if not fps > 0:
            raise OptionError(f"synchrony needs a positive frame rate, got {fps!r}")
        self.fps = float(fps)
        self._lam = float(np.exp(-1.0 / (self.window * self.fps)))
        # 2.5 frame periods: the Hann-weighted window's effective length is about one frame period.
        win = self.options.audio_window or 2.5 / self.fps
        self.audio_spec = AudioSpec(sample_rate=self.options.sample_rate, layout="mono", window=float(win))

    def prepare(self, media: MediaInfo) -> None:
        """Refuse a file without audio; start from no evidence."""
        channels = getattr(media, "audio_channels", None)
        if channels is not None and channels <= 0:
            raise InputError(
                f"{getattr(media, 'path', 'input')}: has no audio stream, which the synchrony localizer "
                "needs; pass a video with its audio track"
            )
        self.reset()

    def reset(self) -> None:
        """Forget all evidence (a new video)."""
        self._prev_y: np.ndarray | None = None
        self._prev_a: float | None = None
        self._sums: dict[str, np.ndarray] = {}  # running sums; O(pixels) each, a dozen in all
        self._yaw_offset = 0.0  # camera yaw rotation since the first frame, in columns
        self._raw_steps: list[float] = []  # recent frame-to-frame shift estimates, for the median
        self._sample_key: tuple[int, int] | None = None
        self._sample_idx = np.zeros(0, dtype=np.intp)

    def describe(self) -> dict:
        return super().describe() | {"audio_window": self.audio_spec.window}

    # -- features ----------------------------------------------------------------------------------
    def _steady_steps(self, raw: np.ndarray, span: int = 9, deadband: float = 0.05) -> np.ndarray:
        """Camera rotation is smooth, estimation jitter is not: a running median of the last ``span``
        estimates, and nothing below ``deadband`` columns per frame. Without this a still camera's
        ±0.1 px jitter re-sampled every frame smears every edge into "change" that drowns the source."""
        out = np.empty(len(raw))
        for k, r in enumerate(raw):
            self._raw_steps.append(float(r))
            del self._raw_steps[:-span]
            m = float(np.median(self._raw_steps))
            out[k] = m if abs(m) >= deadband else 0.0
        return out

    def _features(
        self, y: np.ndarray, loud: np.ndarray, step: np.ndarray, offset: np.ndarray
    ) -> tuple[dict, dict, np.ndarray]:
        """Visual change features (with their global regressor) and per-pair audio features per frame.

        ``step`` (B,) is each frame's yaw shift from its predecessor and ``offset`` (B,) the total since
        the stream's start, in columns: differences are taken after undoing ``step`` and the features
        are returned rotated back by ``offset``, i.e. in scene ("world") columns.
        Returns ``visual`` {kind: (v (B, P), g (B,))}, ``audio`` {pair: a (B,)} and ``valid`` (B,),
        0 for the stream's first frame, which has no predecessor to differ from.
        """
        b = y.shape[0]
        prev_y = y[:1] if self._prev_y is None else self._prev_y[None]
        before = np.concatenate([prev_y, y[:-1]], axis=0)
        if np.any(step):
            before = blur_equirect(before, 0.0, shift=step)
        dy = (y - before).reshape(b, -1)  # (B, P)
        world = -offset if np.any(offset) else None
        prev_a = loud[0] if self._prev_a is None else self._prev_a
        a_prev = np.concatenate([[prev_a], loud[:-1]])
        valid = np.ones(b)
        if self._prev_y is None:
            valid[0] = 0.0
        mag = np.maximum(np.abs(dy) - self.options.noise_floor, 0.0)
        h, w = y.shape[1:]
        visual = {}
        for kind in dict.fromkeys(_VISUAL[p] for p in self.pairs):
            v = mag if kind == "mag" else np.sign(dy) * mag
            v = blur_equirect(v.reshape(b, h, w), self.options.blur_deg, shift=world).reshape(b, -1)
            # Global component: the median pixel is not the source, but sees flicker and camera motion.
            visual[kind] = (v, np.median(v[:, self._sample(h, w)], axis=1).astype(np.float64))
        da = loud - a_prev
        audio_of = {"activity": 0.5 * (loud + a_prev), "comodulation": da, "onset": np.abs(da)}
        return visual, {p: audio_of[p] for p in self.pairs}, valid

    def _sample(self, h: int, w: int) -> np.ndarray:
        """Flat indices of pixels spread evenly over the *sphere* (column stride ~ 2/cos(latitude)), for
        the frame-wide medians: a plain pixel median would over-count the stretched polar rows, and
        a level needs no more than a few thousand pixels."""
        if self._sample_key != (h, w):
            _, pitch = grid_angles(h, w)
            idx = []
            for row, p in enumerate(pitch):
                stride = max(1, int(round(2.0 / max(np.cos(np.radians(p)), 1e-3))))
                idx.append(row * w + np.arange(row % stride, w, stride))
            self._sample_idx = np.concatenate(idx)
            self._sample_key = (h, w)
        return self._sample_idx

    # -- streaming statistics ----------------------------------------------------------------------
    def _leaky(self, key: str, x: np.ndarray, lam: float | None = None) -> np.ndarray:
        """Exponentially weighted running sum of ``x`` (B, ...) along frames, continuing the stored
        state under ``key``: ``S[k] = λ·S[k-1] + x[k]``; returns every ``S[k]`` and keeps the last."""
        lam = self._lam if lam is None else lam
        out = np.array(x, dtype=np.float64)  # a row loop: scipy's lfilter along axis 0 is 5x slower here
        prev = self._sums.get(key)
        if prev is not None:
            out[0] += lam * prev
        for k in range(1, len(out)):
            out[k] += lam * out[k - 1]
        self._sums[key] = out[-1].copy()
        return out

    def process(self, batch: FrameBatch) -> SaliencyBatch:
        if batch.frames is None:
            raise OptionError("synchrony needs frames; the pipeline did not pass any")
        frames = np.asarray(batch.frames)
        b, h, w = frames.shape[:3]
        if b == 0:
            return SaliencyBatch(np.zeros((0, h, w), np.float32), np.zeros(0))
        if batch.audio is None:
            loud = np.zeros(b)
        else:
            o = self.options
            loud = audio_loudness(batch.audio, self.audio_spec.sample_rate, o.band, o.loudness_exponent)
        y = blur_equirect(luminance(frames), self.options.prefilter_deg)
        if self._prev_y is not None and self._prev_y.shape != (h, w):
            self.reset()
        step = np.zeros(b)
        if self.options.track_yaw:
            prev = y[0] if self._prev_y is None else self._prev_y
            raw, _ = estimate_yaw_shift(prev, y, self.options.max_yaw_speed / self.fps * w / 360.0, w / 60.0)
            step = self._steady_steps(raw)
        offset = self._yaw_offset + np.cumsum(step)
        visual, audio, valid = self._features(y, loud, step, offset)
        self._yaw_offset = float(offset[-1]) % w

        sw = self._leaky("w", valid)
        sw2 = self._leaky("w2", valid, self._lam**2)
        safe_sw = np.maximum(sw, _EPS)
        n_eff = sw**2 / np.maximum(sw2, _EPS)
        stats = {}
        for kind, (v, g) in visual.items():
            v = v * valid[:, None]
            g = g * valid
            moments = {
                "v": self._leaky(kind + ".v", v),
                "vv": self._leaky(kind + ".vv", v * v),
                "vg": self._leaky(kind + ".vg", v * g[:, None]),
                "g": self._leaky(kind + ".g", g),
                "gg": self._leaky(kind + ".gg", g * g),
            }
            stats[kind] = self._visual_stats(moments, safe_sw)
        z_best = np.zeros((b, h * w), np.float32)
        for pair, a in audio.items():
            kind = _VISUAL[pair]
            v, g = visual[kind]
            a = a * valid
            m = {
                "va": self._leaky(pair + ".va", v * a[:, None]),
                "a": self._leaky(pair + ".a", a),
                "aa": self._leaky(pair + ".aa", a * a),
                "ag": self._leaky(pair + ".ag", a * g),
            }
            np.maximum(z_best, self._pair_z(pair, m, stats[kind], safe_sw, n_eff), out=z_best)

        self._prev_y = y[-1].copy()
        self._prev_a = float(loud[-1])
        warm = n_eff >= max(3.0, self.options.min_seconds * self.fps)
        maps = (np.maximum(z_best - self.options.map_floor, 0.0) * warm[:, None]).reshape(b, h, w)
        if np.any(offset):  # scene columns back to this frame's columns
            cols = np.round(offset).astype(int)
            maps = np.stack([np.roll(m, c, axis=1) for m, c in zip(maps, cols, strict=True)])
        peak = z_best.max(axis=1)
        conf = np.where(warm, self._confidence(peak, h, w), 0.0)
        return SaliencyBatch(maps.astype(np.float32), conf.astype(np.float64))

    @staticmethod
    def _visual_stats(m: dict, sw: np.ndarray) -> dict:
        """Per-pixel mean, 1/sd and correlation with the global regressor, shared by a kind's pairs."""
        swc = sw[:, None]
        mv = m["v"] / swc
        mg = m["g"] / sw
        # Centred moments in float64 (they cancel); the rest in float32, which is plenty for ρ.
        var_v = (m["vv"] / swc - mv**2).astype(np.float32)
        cov_vg = (m["vg"] / swc - mv * mg[:, None]).astype(np.float32)
        var_g = m["gg"] / sw - mg**2
        ok_v = var_v > 1e-6
        inv_sd_v = np.where(ok_v, 1.0 / np.sqrt(np.maximum(var_v, 1e-6)), 0.0).astype(np.float32)
        inv_sd_g = np.where(var_g > 1e-9, 1.0 / np.sqrt(np.maximum(var_g, _EPS)), 0.0)
        r_vg = np.clip(cov_vg * inv_sd_v * inv_sd_g[:, None].astype(np.float32), -0.999, 0.999)
        return {
            "mv": mv,
            "mg": mg,
            "ok": ok_v,
            "inv_sd_v": inv_sd_v,
            "inv_sd_g": inv_sd_g,
            "r_vg": r_vg,
            "one_minus_r_vg2": 1.0 - r_vg * r_vg,
        }

    def _pair_z(self, pair: str, m: dict, vs: dict, sw: np.ndarray, n_eff: np.ndarray) -> np.ndarray:
        """Chance-normalised squared partial correlation (B, P) of pixel change and audio given global."""
        ma = m["a"] / sw
        var_a = m["aa"] / sw - ma**2
        cov_ag = m["ag"] / sw - ma * vs["mg"]
        cov_va = (m["va"] / sw[:, None] - vs["mv"] * ma[:, None]).astype(np.float32)
        inv_sd_a = np.where(var_a > 1e-12, 1.0 / np.sqrt(np.maximum(var_a, _EPS)), 0.0)
        r_va = cov_va * (vs["inv_sd_v"] * inv_sd_a[:, None].astype(np.float32))
        r_ag = np.clip(cov_ag * inv_sd_a * vs["inv_sd_g"], -0.999, 0.999).astype(np.float32)[:, None]
        r = (r_va - vs["r_vg"] * r_ag) / np.sqrt(vs["one_minus_r_vg2"] * (1.0 - r_ag**2))
        np.clip(r, -1.0, 1.0, out=r)
        r2 = r * r  # pixels without variance have r = 0
        sample = self._sample_idx
        med = self._median_valid(r2[:, sample], vs["ok"][:, sample])
        chance = np.maximum(med / _MEDIAN_CHI2_1, 1.0 / np.maximum(n_eff, 1.0))
        if pair != "comodulation":
            r2[r <= 0] = 0.0  # moving *less* while it sounds is not a source
        r2 /= chance[:, None].astype(np.float32)
        return r2

    @staticmethod
    def _median_valid(r2: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Per-row median of ``r2`` (B, n) over valid pixels. Invalid pixels hold 0 and sort first, so
        the median sits past them."""
        sub = np.sort(np.where(ok, r2, 0.0), axis=1)
        n_bad = (~ok).sum(axis=1)
        n = sub.shape[1]
        k = np.minimum(n_bad + (n - n_bad) // 2, n - 1)
        med = np.take_along_axis(sub, k[:, None], axis=1)[:, 0]
        return np.where(n_bad < n, med, 0.0)

    def _confidence(self, peak: np.ndarray, h: int, w: int) -> np.ndarray:
        """Map the peak statistic to [0, 1] against the largest one chance gives over the grid."""
        sig_px = max(self.options.blur_deg * h / 180.0, 0.5)
        area_px = float(area_weights(h).sum() * w)  # solid angle in equator-pixel units
        cells = area_px / (2.0 * np.pi * sig_px**2 + 1.0) * len(self.pairs)
        z0 = _chi2_1_tail_max(cells)
        excess = np.maximum(peak / z0 - 1.0, 0.0)
        return 1.0 - np.exp(-excess)
