"""``ambisonic`` saliency: where the sound comes from, read off the FOA track, no learning.

Per frame, the audio window is split into log-spaced bands; in each band the active intensity vector
points at the dominant source and its length is energy × (1 − diffuseness). The map is a histogram of
those band directions, each drawn as a von Mises–Fisher blob weighted by its intensity, so

* two sources with different spectra give two peaks (a first-order beam scan would blur them into one);
* the map has no floor: far from every band direction it is ~0, so the downstream spherical centroid is
  not pulled toward the middle of the sphere;
* diffuse bands carry little weight by construction.

Confidence asks what makes a sound worth looking at: that it is directional and audible above the
ambience, not that it is new, so a source that keeps sounding (music, an engine, a PA) keeps it for as
long as it plays. It multiplies three gates:

* an absolute level gate (digital silence, dither);
* directness over time, ``Σ|⟨I_b⟩| / Σ⟨E_b⟩`` with intensity and energy averaged over ``tau`` seconds
  (DirAC's diffuseness estimator): a diffuse field's intensity averages out, a source's does not, and
  the longer average separates the two far better than one window can; mapped so a diffuse field reads
  0 and a moderately reverberant source already reads 1;
* the direct level against a diffuse-field estimate: the diffuse part of the power (energy minus
  |intensity|), tracked by a floor that falls at once and rises slowly. A directional source adds
  almost nothing to it, so however long it plays it stays above; room tone, wind and reverberant tails
  are diffuse and stay below.

Nothing in these gates learns a steady source as background. A new onset still wins attention: each
band's weight in the map is raised while the band is louder than its own recent average
(``onset_gain``), so a sound that starts next to a steady one takes the peak, and the steady one takes it
back as the novelty fades. Onsets are also where the direct sound dominates its reflections (the
precedence effect), which steadies the direction in a reverberant room.

Maps are scaled so their peak equals the frame's confidence (silence → an all-zero map), which makes
the saliency overlay fade out when nothing is localisable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from common.errors import InputError
from common.options import PluginOptions, option
from pano.localizers.base import AudioSpec, FrameBatch, Localizer, SaliencyBatch
from pano.sphere.ambisonics import band_intensity, fuma_to_ambix, log_band_edges
from pano.sphere.geometry import grid_vectors

if TYPE_CHECKING:
    from pano.run.context import RunContext


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ema_sums(x: np.ndarray, prev: np.ndarray | None, a: float) -> np.ndarray:
    """Running sums ``U_i = a·U_{i−1} + x_i`` along axis 0, continuing from ``prev`` (None: zero).

    One matrix product for a batch (a few dozen frames), so the recursion costs no Python loop.
    """
    n = len(x)
    i = np.arange(n)
    d = i[:, None] - i[None, :]
    m = np.where(d >= 0, a ** np.maximum(d, 0), 0.0)
    flat = m @ x.reshape(n, -1)
    if prev is not None:
        flat += (a ** (i + 1.0))[:, None] * prev.reshape(1, -1)
    return flat.reshape(x.shape)


@dataclass(frozen=True)
class AmbisonicOptions(PluginOptions):
    grid: tuple[int, int] = option((64, 128), "(H, W) of the output map, W = 2H", lo=4, hi=1024)
    audio_window: float = option(0.2, "seconds of audio per frame", lo=0.02, hi=2.0)
    sample_rate: int = option(24000, "analysis sample rate (Hz)", lo=8000, hi=192000)
    band: tuple[float, float] = option((200.0, 8000.0), "(low, high) Hz analysed", lo=1.0, hi=96000.0)
    n_bands: int = option(8, "log-spaced bands, each a blob at its own direction", lo=1, hi=64)
    blob_width: float = option(12.0, "half-width at half maximum of each band's blob (degrees)", lo=0.5, hi=90.0)
    abs_floor_db: float = option(-70.0, "absolute level gate (dBFS of W)", lo=-160.0, hi=0.0)
    tau: float = option(0.5, "seconds over which intensity and energy are averaged for the directness",
                        lo=0.0, hi=10.0)
    residue_margin: float = option(2.0, "times the random residue a diffuse field leaves per band, taken off "
                                   "each band's directness", lo=0.0, hi=10.0)
    full_directness: float = option(0.4, "directness from which confidence is full (a talker in a room "
                                    "reads 0.2–0.5)", lo=0.01, hi=1.0)
    direct_margin_db: float = option(-10.0, "direct level, relative to the diffuse-field estimate, from "
                                     "which it counts fully (dB)", lo=-30.0, hi=20.0)
    diffuse_rise_db_per_s: float = option(6.0, "how fast the diffuse-field estimate may rise (dB/s)",
                                          lo=0.01, hi=100.0)
    onset_gain: float = option(2.0, "extra weight of a band louder than its own recent average (a new "
                               "sound wins attention)", lo=0.0, hi=10.0)
    onset_memory: float = option(2.0, "seconds of that recent average", lo=0.1, hi=60.0)

    def check(self) -> None:
        h, w = self.grid
        if w != 2 * h:
            self.fail(f"grid must be (H, 2H), got {list(self.grid)}")
        low, high = self.band
        if not low < high < self.sample_rate / 2:
            self.fail(f"band must satisfy low < high < {self.sample_rate / 2:g} Hz, got {list(self.band)}")


class AmbisonicLocalizer(Localizer):
    """Direction map from first-order ambisonics by a band-wise intensity-vector histogram.

    The FOA convention (AmbiX or FuMa, converted on the fly) and the frame rate (the averages are in
    seconds) come from the run context; the options are :class:`AmbisonicOptions` (see the module
    docstring for what the confidence gates do).
    """

    name = "ambisonic"
    Options = AmbisonicOptions
    frame_size = None
    batch_size = 32
    _RESIDUE = 0.9  # mean |I|/E of diffuse noise in one Hann window, × √(bins in the band); measured

    def __init__(self, ctx: RunContext | None = None, options: AmbisonicOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        if not self.ctx.is_foa:
            path = self.ctx.media.path if self.ctx.media is not None else "the input"
            channels = self.ctx.media.audio_channels if self.ctx.media is not None else 0
            raise InputError(
                f"{path}: the ambisonic localizer needs first-order ambisonic audio (4 channels), this file "
                f"has {channels} channel(s); use --localizer auto, or --audio-format ambix if it is FOA"
            )
        self.audio_format = self.ctx.audio_format
        self.fps = float(self.ctx.fps)
        self.audio_spec = AudioSpec(sample_rate=o.sample_rate, layout="foa", window=o.audio_window)
        self._edges = log_band_edges(o.band[0], o.band[1], o.n_bands)
        # vMF concentration for the requested half-width: exp(κ(cos θ − 1)) = 1/2 at θ = blob_width.
        self._kappa = np.float32(np.log(2.0) / (1.0 - np.cos(np.radians(o.blob_width))))
        self._grid_vec = grid_vectors(*o.grid).reshape(-1, 3).T.astype(np.float32)  # (3, G)
        self.reset()

    def reset(self) -> None:
        """Forget the running averages (a new track)."""
        self._sums: np.ndarray | None = None  # per band: running sums of intensity x, y, z and energy (K, 4)
        self._weights = np.zeros(2)  # running sums of the averaging weights and of their squares
        self._band_sums: np.ndarray | None = None  # per band: running sum of the level in dB (K,)
        self._band_weight = 0.0
        self._diffuse_db: float | None = None  # the diffuse-field estimate, dB

    def prepare(self, media) -> None:
        """Reset state for a new track."""
        self.reset()

    def describe(self) -> dict:
        return super().describe() | {"audio_format": self.audio_format}

    def _decay(self, seconds: float) -> float:
        return float(np.exp(-1.0 / (seconds * self.fps))) if seconds > 0 else 0.0

    def _band_bins(self, n: int) -> np.ndarray:
        """FFT bins per band for an ``n``-sample window, as ``band_intensity`` groups them."""
        freqs = np.fft.rfftfreq(n, 1.0 / self.audio_spec.sample_rate)
        lo = np.searchsorted(freqs, self._edges[:-1], side="left")
        hi = np.searchsorted(freqs, self._edges[1:], side="left")
        return np.maximum(hi - lo, 1).astype(np.float64)

    def _directness(
        self, inten: np.ndarray, energy: np.ndarray, n_samples: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Direct and total power (B,) from intensity and energy averaged over ``tau`` (DirAC), and how
        much of that directness the frame's own window keeps (B,) in [0, 1].

        Each band's directness ``|⟨I⟩| / ⟨E⟩`` loses the residue a diffuse field would leave after this
        much averaging (expected ``0.9 / √(bins × independent windows)``, times ``residue_margin``), so
        diffuse sound reads 0 in every band, from the first frame on, whatever its spectrum.
        """
        a = self._decay(self.options.tau)
        x = np.concatenate([inten, energy[..., None]], axis=-1)
        sums = _ema_sums(x, self._sums, a)
        ones = np.ones((len(x), 1))
        w = np.concatenate([_ema_sums(ones, self._weights[:1], a), _ema_sums(ones, self._weights[1:], a * a)], 1)
        self._sums, self._weights = sums[-1], w[-1].copy()
        avg = sums / w[:, :1, None]
        # Independent windows in the average: the weights' effective count × hop / (Hann window ≈ L/2).
        n_eff = w[:, 0] ** 2 / w[:, 1]
        m = np.maximum(1.0, n_eff / (self.fps * self.audio_spec.window / 2.0))
        floor = self.options.residue_margin * self._RESIDUE / np.sqrt(self._band_bins(n_samples)[None, :] * m[:, None])
        floor = np.minimum(floor, 0.95)
        e = avg[..., 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(e > 0, np.linalg.norm(avg[..., :3], axis=-1) / e, 0.0)
        excess = np.clip((d - floor) / (1.0 - floor), 0.0, 1.0)
        # A frame that holds only a reverberant tail (a gap between words, after a hit) is far less
        # direct than the average around it: it keeps little of the average's confidence.
        with np.errstate(divide="ignore", invalid="ignore"):
            now = np.linalg.norm(inten, axis=-1).sum(axis=1) / energy.sum(axis=1)
            before = (d * e).sum(axis=1) / e.sum(axis=1)
            ratio = np.where(before > 0, np.nan_to_num(now) / before, 0.0)
        return (excess * e).sum(axis=1), e.sum(axis=1), _smoothstep(ratio, 0.25, 0.75)

    def _diffuse_gate(self, direct_db: np.ndarray, diffuse_db: np.ndarray) -> np.ndarray:
        """Direct level against the diffuse field's floor, which falls at once and rises slowly.

        The floor follows the diffuse part of the sound only, so a directional source, however long it
        plays, never raises it much; it starts at the absolute floor so a source from the first frame
        counts at once.
        """
        out = np.empty_like(direct_db)
        floor = self.options.abs_floor_db if self._diffuse_db is None else self._diffuse_db
        rise = self.options.diffuse_rise_db_per_s / self.fps
        for i, (d, f) in enumerate(zip(direct_db, diffuse_db, strict=True)):
            floor = max(min(float(f), floor + rise), self.options.abs_floor_db - 30.0)
            margin = self.options.direct_margin_db
            out[i] = _smoothstep(np.float64(d - floor), margin - 6.0, margin)
        self._diffuse_db = floor
        return out

    def _novelty(self, band_db: np.ndarray) -> np.ndarray:
        """Per band (B, K): how far the level is above its own average over ``onset_memory``, 0–1."""
        a = self._decay(self.options.onset_memory)
        sums = _ema_sums(band_db, self._band_sums, a)
        w = _ema_sums(np.ones((len(band_db), 1)), np.array([self._band_weight]), a)
        ref = sums / w
        before = band_db[:1] if self._band_sums is None else (self._band_sums / self._band_weight)[None]
        self._band_sums, self._band_weight = sums[-1], float(w[-1, 0])
        return _smoothstep(band_db - np.concatenate([before, ref[:-1]]), 3.0, 12.0)

    def process(self, batch: FrameBatch) -> SaliencyBatch:
        h, w = self.options.grid
        audio = batch.audio
        n = len(batch.indices)
        if audio is None or n == 0:
            return SaliencyBatch(np.zeros((n, h, w), np.float32), np.zeros(n, np.float64))
        x = np.asarray(audio, dtype=np.float32)
        if not np.isfinite(x).all():  # a damaged packet must not poison the whole map
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if x.ndim != 3 or x.shape[1] < 4:
            raise ValueError(f"ambisonic: expected FOA windows (B, 4, S), got shape {x.shape}")
        x = x[:, :4]  # higher-order AmbiX: ACN 0–3 are its first-order part
        if self.audio_format == "fuma":
            x = fuma_to_ambix(x)
        inten, energy, w_power = band_intensity(x, self.audio_spec.sample_rate, self._edges)  # (B,K,3), (B,K)
        inten, energy = inten.astype(np.float64), energy.astype(np.float64)
        weight = np.linalg.norm(inten, axis=-1)  # energy × (1 − diffuseness), per band
        with np.errstate(divide="ignore", invalid="ignore"):
            units = np.where(weight[..., None] > 0, inten / weight[..., None], 0.0).astype(np.float32)

        direct_p, total_p, keeps = self._directness(inten, energy, x.shape[-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = np.where(total_p > 0, direct_p / total_p, 0.0)
        conf_dir = np.clip(direct / self.options.full_directness, 0.0, 1.0) * keeps
        db = lambda p: 10.0 * np.log10(np.maximum(p, 1e-30))  # noqa: E731
        level_db = db(w_power.sum(axis=1))
        gate_abs = _smoothstep(level_db, self.options.abs_floor_db, self.options.abs_floor_db + 10.0)
        gate_diffuse = self._diffuse_gate(db(direct_p), db(total_p - direct_p))
        confidence = np.clip(conf_dir * gate_abs * gate_diffuse, 0.0, 1.0)

        # Onset emphasis: a band louder than its own recent average weighs more in the map.
        weight = weight * (1.0 + self.options.onset_gain * self._novelty(db(energy)))
        wn = (weight / np.maximum(weight.max(axis=1, keepdims=True), 1e-30)).astype(np.float32)
        maps = self._histogram(units, wn)
        peak = maps.max(axis=1, keepdims=True)
        scale = np.where(peak > 0, confidence[:, None] / np.maximum(peak, 1e-30), 0.0).astype(np.float32)
        maps *= scale
        return SaliencyBatch(maps.reshape(n, h, w), confidence.astype(np.float64))

    def _histogram(self, units: np.ndarray, weights: np.ndarray, chunk: int = 4) -> np.ndarray:
        """``Σ_b w_b · exp(κ (u_b·g − 1))`` over the grid, (B, G) float32.

        Done a few frames at a time, in place, so the (chunk, K, G) block stays in cache: 3× faster than
        one big exp over the batch.
        """
        kg = self._grid_vec * self._kappa
        out = np.empty((units.shape[0], kg.shape[1]), np.float32)
        for s in range(0, units.shape[0], chunk):
            block = units[s : s + chunk] @ kg  # (c, K, G) = κ·cos
            block -= self._kappa
            np.exp(block, out=block)
            out[s : s + chunk] = (weights[s : s + chunk, None, :] @ block)[:, 0]
        return out
