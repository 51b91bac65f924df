"""``ambisonic`` saliency: where the sound comes from, read off the FOA track, no learning.

Per frame, the audio window is split into log-spaced bands; in each band the active intensity vector
points at the dominant source and its length is energy × (1 − diffuseness). The map is a histogram of
those band directions, each drawn as a von Mises–Fisher blob weighted by its intensity, so

* two sources with different spectra give two peaks (a first-order beam scan would blur them into one);
* the map has no floor: far from every band direction it is ~0, so the downstream spherical centroid is
  not pulled toward the middle of the sphere;
* diffuse bands carry little weight by construction.

Confidence multiplies three gates: an absolute level gate (digital silence, dither), a level gate
relative to a running noise floor (room tone), and directness ``Σ|I_b| / ΣE_b`` mapped so a diffuse field
reads 0 and a moderately reverberant source already reads 1. Maps are scaled so their peak equals the
frame's confidence (silence → an all-zero map), which makes the saliency overlay fade out when nothing
is localisable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from common.errors import InputError
from common.options import PluginOptions, option
from pano.ambisonics import band_intensity, fuma_to_ambix, log_band_edges
from pano.geometry import grid_vectors
from pano.saliency.base import AudioSpec, FrameBatch, SaliencyBatch, SaliencySource

if TYPE_CHECKING:
    from pano.context import RunContext


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class AmbisonicOptions(PluginOptions):
    grid: tuple[int, int] = option((64, 128), "(H, W) of the output map, W = 2H", lo=4, hi=1024)
    audio_window: float = option(0.2, "seconds of audio per frame", lo=0.02, hi=2.0)
    sample_rate: int = option(24000, "analysis sample rate (Hz)", lo=8000, hi=192000)
    band: tuple[float, float] = option((200.0, 8000.0), "(low, high) Hz analysed", lo=1.0, hi=96000.0)
    n_bands: int = option(8, "log-spaced bands, each a blob at its own direction", lo=1, hi=64)
    blob_width: float = option(12.0, "half-width at half maximum of each band's blob (degrees)", lo=0.5, hi=90.0)
    abs_floor_db: float = option(-70.0, "absolute level gate (dBFS of W)", lo=-160.0, hi=0.0)
    floor_rise_db_per_s: float = option(3.0, "how fast the running noise floor may rise (dB/s)", lo=0.0, hi=100.0)
    diffuse_floor: float | None = option(
        None, "directness a diffuse field reads at this window (mapped to 0); default scales with 1/√window",
        lo=0.0, hi=1.0)
    full_directness: float = option(0.6, "directness from which confidence is full", lo=0.0, hi=1.0)

    def check(self) -> None:
        h, w = self.grid
        if w != 2 * h:
            self.fail(f"grid must be (H, 2H), got {list(self.grid)}")
        low, high = self.band
        if not low < high < self.sample_rate / 2:
            self.fail(f"band must satisfy low < high < {self.sample_rate / 2:g} Hz, got {list(self.band)}")
        if self.diffuse_floor is not None and not self.diffuse_floor < self.full_directness:
            self.fail(f"need diffuse_floor < full_directness, got {self.diffuse_floor} and {self.full_directness}")


class AmbisonicSource(SaliencySource):
    """Direction map from first-order ambisonics by a band-wise intensity-vector histogram.

    The FOA convention (AmbiX or FuMa, converted on the fly) comes from the run context. Level gates:
    ``abs_floor_db`` and a running noise floor; ``diffuse_floor`` is the directness a diffuse field
    reads at this window length (mapped to 0) and ``full_directness`` the directness from which it is
    1: a talker in a room often reads only 0.3–0.5 (direct-to-reverberant ratio around 0 dB) and should
    still steer the camera.
    """

    name = "ambisonic"
    Options = AmbisonicOptions
    frame_size = None
    batch_size = 32

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
        diffuse_floor = o.diffuse_floor
        if diffuse_floor is None:
            # A finite window sees a diffuse field as slightly directional (the intensity's random
            # residue shrinks as 1/√bins): 0.2 at 0.2 s covers white to brown noise, scaled for others.
            diffuse_floor = min(0.45, 0.2 * float(np.sqrt(0.2 / o.audio_window)), o.full_directness * 0.75)
        self.audio_format = self.ctx.audio_format
        self.grid = o.grid
        self.band = o.band
        self.n_bands = o.n_bands
        self.blob_width = o.blob_width
        self.abs_floor_db = o.abs_floor_db
        self.floor_rise_db_per_s = o.floor_rise_db_per_s
        self.diffuse_floor = float(diffuse_floor)
        self.full_directness = o.full_directness
        self.fps = float(self.ctx.fps)
        self.audio_spec = AudioSpec(sample_rate=o.sample_rate, layout="foa", window=o.audio_window)
        self._edges = log_band_edges(o.band[0], o.band[1], self.n_bands)
        # vMF concentration for the requested half-width: exp(κ(cos θ − 1)) = 1/2 at θ = blob_width.
        self._kappa = np.float32(np.log(2.0) / (1.0 - np.cos(np.radians(self.blob_width))))
        self._grid_vec = grid_vectors(*self.grid).reshape(-1, 3).T.astype(np.float32)  # (3, G)
        self._noise_floor_db: float | None = None
        self._last_time: float | None = None

    def prepare(self, media) -> None:
        """Reset state for a new track."""
        self._noise_floor_db = None
        self._last_time = None

    def describe(self) -> dict:
        return super().describe() | {"audio_format": self.audio_format, "diffuse_floor": self.diffuse_floor}

    def _level_gate(self, level_db: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Relative gate against a noise floor that falls at once and rises slowly, frame by frame.

        The floor starts at the absolute floor, so a source sounding from the first frame is not taken
        for background; it then rises at most ``floor_rise_db_per_s`` so room tone is learnt within
        seconds while a sustained source keeps its confidence for a long while.
        """
        out = np.empty_like(level_db)
        floor = self.abs_floor_db if self._noise_floor_db is None else self._noise_floor_db
        last = self._last_time
        for i, (lvl, t) in enumerate(zip(level_db, times, strict=True)):
            dt = 1.0 / self.fps if last is None else float(np.clip(t - last, 0.0, 1.0))
            last = float(t)
            floor = min(float(lvl), floor + self.floor_rise_db_per_s * dt)
            floor = max(floor, self.abs_floor_db - 30.0)  # digital silence must not drag it to −inf
            out[i] = _smoothstep(lvl - floor, 3.0, 12.0)
        self._noise_floor_db, self._last_time = floor, last
        return out

    def process(self, batch: FrameBatch) -> SaliencyBatch:
        h, w = self.grid
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
        weight = np.linalg.norm(inten, axis=-1)  # energy × (1 − diffuseness), per band
        total_e = energy.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = np.where(total_e > 0, weight.sum(axis=1) / total_e, 0.0)
            units = np.where(weight[..., None] > 0, inten / weight[..., None], 0.0).astype(np.float32)
        span = self.full_directness - self.diffuse_floor
        conf_dir = np.clip((direct - self.diffuse_floor) / span, 0.0, 1.0)

        level_db = 10.0 * np.log10(np.maximum(w_power.sum(axis=1), 1e-30))
        gate_abs = _smoothstep(level_db, self.abs_floor_db, self.abs_floor_db + 10.0)
        gate_rel = self._level_gate(level_db, np.asarray(batch.times, dtype=np.float64))
        confidence = np.clip(conf_dir * gate_abs * gate_rel, 0.0, 1.0)

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
