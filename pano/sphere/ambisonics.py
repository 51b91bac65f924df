"""First-order ambisonics (FOA) helpers in the project's one convention.

Channels are AmbiX: ACN order W, Y, Z, X with SN3D normalisation, on the second-to-last axis. A plane
wave ``s`` from unit direction ``d = (x, y, z)`` (x forward, y left, z up; see :mod:`pano.sphere.geometry`)
encodes as ``W = s, Y = s·y, Z = s·z, X = s·x``, so ``azimuth = -yaw``. FuMa (W, X, Y, Z, W at −3 dB)
only differs at first order by channel order and W's gain, so conversion is a cheap linear map.

The analysis helpers work per frequency band on the active intensity vector ``Re(W*·(X, Y, Z))``: for
one plane wave it points at the source with length equal to the energy, for a diffuse field it averages
to zero, so ``|I| / E`` is a directness (1 − diffuseness) that needs no calibration.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from pano.sphere.geometry import yaw_pitch_to_vec

ArrayLike = np.ndarray | float

# First-order pattern g(θ) = a + (1 − a)·cos θ, keyed by name -> a.
BEAM_PATTERNS: dict[str, float] = {
    "omni": 1.0,
    "cardioid": 0.5,
    "supercardioid": (np.sqrt(3.0) - 1.0) / 2.0,
    "hypercardioid": 0.25,
    "max_re": 1.0 / (1.0 + np.sqrt(3.0)),  # rE-maximising first-order weights (1, 1/√3), peak-normalised
    "dipole": 0.0,
}

_SQRT2 = np.sqrt(2.0)


def encode_foa(signal: np.ndarray, yaw: ArrayLike, pitch: ArrayLike) -> np.ndarray:
    """Encode a mono signal (S,) arriving from (yaw, pitch) degrees as AmbiX SN3D (4, S).

    ``yaw``/``pitch`` are scalars or per-sample arrays (S,) for a moving source.
    """
    s = np.asarray(signal)
    if s.ndim != 1:
        raise ValueError(f"encode_foa expects a mono signal (S,), got shape {s.shape}")
    dtype = s.dtype if np.issubdtype(s.dtype, np.floating) else np.float64
    d = yaw_pitch_to_vec(yaw, pitch)  # (3,) or (S, 3)
    gains = np.stack([np.ones(d.shape[:-1]), d[..., 1], d[..., 2], d[..., 0]], axis=0)  # (4,) or (4, S)
    if gains.ndim == 1:
        gains = gains[:, None]
    return (gains * s[None, :]).astype(dtype, copy=False)


def rotate_foa_yaw(foa: np.ndarray, degrees: float) -> np.ndarray:
    """AmbiX ``foa`` (..., 4, S) with the sound field turned by ``degrees`` of yaw: a source at yaw ψ is
    then heard at ψ + degrees (the rotation about the vertical axis; W and Z are unchanged).

    An equirectangular frame turned alike is the frame rolled right by ``degrees / 360`` of its width, so
    training can rotate picture and sound together (``pano.foa.dataset``).
    """
    a = np.asarray(foa)
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    out = a.copy()
    y, x = a[..., 1, :], a[..., 3, :]  # Y = −sin ψ, X = cos ψ for a unit source at yaw ψ
    out[..., 1, :] = c * y - s * x
    out[..., 3, :] = c * x + s * y
    return out


def mirror_foa(foa: np.ndarray) -> np.ndarray:
    """AmbiX ``foa`` mirrored left for right (a source at yaw ψ heard at −ψ): Y negated. The
    equirectangular frame mirrored alike is flipped horizontally."""
    out = np.asarray(foa).copy()
    out[..., 1, :] = -out[..., 1, :]
    return out


def fuma_to_ambix(x: np.ndarray) -> np.ndarray:
    """FuMa first order (W, X, Y, Z; W at −3 dB) to AmbiX (W, Y, Z, X; SN3D), channels on axis −2."""
    x = np.asarray(x)
    if x.shape[-2] != 4:
        raise ValueError(f"expected 4 channels on axis -2, got shape {x.shape}")
    w, fx, fy, fz = (x[..., i, :] for i in range(4))
    return np.stack([w * _SQRT2, fy, fz, fx], axis=-2).astype(x.dtype, copy=False)


def ambix_to_fuma(x: np.ndarray) -> np.ndarray:
    """AmbiX (W, Y, Z, X; SN3D) to FuMa first order (W, X, Y, Z; W at −3 dB), channels on axis −2."""
    x = np.asarray(x)
    if x.shape[-2] != 4:
        raise ValueError(f"expected 4 channels on axis -2, got shape {x.shape}")
    w, ay, az, ax = (x[..., i, :] for i in range(4))
    return np.stack([w / _SQRT2, ax, ay, az], axis=-2).astype(x.dtype, copy=False)


def diffuse_noise(
    n_samples: int, rng: np.random.Generator, n_directions: int = 256, dtype: type = np.float32
) -> np.ndarray:
    """Isotropic diffuse white noise as AmbiX (4, n_samples), W at unit RMS.

    Independent noise from random directions, taken in antipodal pairs so the mean intensity is exactly
    zero in expectation even with few directions (a test signal whose "true" diffuseness is 1).
    """
    half = max(1, n_directions // 2)
    v = rng.standard_normal((half, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    dirs = np.concatenate([v, -v], axis=0)  # (N, 3)
    noise = rng.standard_normal((len(dirs), int(n_samples))) / np.sqrt(len(dirs))
    w = noise.sum(axis=0)
    xyz = dirs.T @ noise  # (3, S)
    return np.stack([w, xyz[1], xyz[2], xyz[0]], axis=0).astype(dtype)


def beam_weights(yaw: ArrayLike, pitch: ArrayLike, pattern: str | float = "cardioid") -> np.ndarray:
    """AmbiX weights (..., 4) of a first-order beam steered at (yaw, pitch), unit gain on axis.

    ``pattern`` names a :data:`BEAM_PATTERNS` entry or gives ``a`` in ``a + (1 − a)·cos θ`` directly.
    """
    a = BEAM_PATTERNS[pattern] if isinstance(pattern, str) else float(pattern)
    d = yaw_pitch_to_vec(yaw, pitch)
    b = 1.0 - a
    return np.stack([np.full(d.shape[:-1], a), b * d[..., 1], b * d[..., 2], b * d[..., 0]], axis=-1)


def steer_beam(
    foa: np.ndarray, yaw: ArrayLike, pitch: ArrayLike, pattern: str | float = "cardioid"
) -> np.ndarray:
    """Virtual microphone signal (..., S) of AmbiX ``foa`` (..., 4, S) pointed at (yaw, pitch).

    A plane wave from the steering direction comes out unchanged (the decode half of a round trip).
    """
    w = beam_weights(yaw, pitch, pattern)
    return (
        np.einsum("c,...cs->...s", w, np.asarray(foa))
        if w.ndim == 1
        else np.einsum("...c,...cs->...s", w, foa)
    )


def log_band_edges(low: float, high: float, n_bands: int) -> np.ndarray:
    """``n_bands + 1`` log-spaced band edges in Hz: equal resolution per octave, as hearing has."""
    return np.geomspace(float(low), float(high), int(n_bands) + 1)


def band_intensity(
    foa: np.ndarray, sample_rate: float, edges: np.ndarray, taper: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-band active intensity, energy and omni power of AmbiX windows (..., 4, S).

    Returns ``intensity (..., K, 3)`` (x, y, z; points at the source), ``energy (..., K)`` =
    ``(|W|² + |X|² + |Y|² + |Z|²) / 2`` (equals ``|intensity|`` for one plane wave) and ``w_power
    (..., K)``, the mean-square of band-limited W (the same scale as ``W**2`` averaged over time).
    One FFT per channel; a Hann taper (``taper``) keeps low-frequency leakage out of the bands and
    weights the window's centre, the frame's own time.
    """
    x = np.asarray(foa)
    if x.shape[-2] != 4:
        raise ValueError(f"expected 4 AmbiX channels on axis -2, got shape {x.shape}")
    n = x.shape[-1]
    edges = np.asarray(edges, dtype=np.float64)
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    lo = np.searchsorted(freqs, edges[:-1], side="left")
    hi = np.searchsorted(freqs, edges[1:], side="left")
    hi = np.maximum(hi, lo + 1)  # every band keeps at least one bin
    first, last = int(lo[0]), int(min(hi[-1], len(freqs)))
    win = np.hanning(n).astype(x.dtype) if taper and n > 2 else np.ones(n, x.dtype)
    spec = scipy.fft.rfft(x * win, axis=-1)[..., first:last]  # keeps float32: 4× numpy's speed  # (..., 4, F)
    w = spec[..., 0, :]
    v = spec[..., [3, 1, 2], :]  # x, y, z
    inten = (w.conj()[..., None, :] * v).real  # (..., 3, F)
    wp = w.real**2 + w.imag**2
    vp = (v.real**2 + v.imag**2).sum(axis=-2)
    # Band sums over contiguous bin ranges; reduceat needs in-range, increasing starts.
    starts = np.clip(lo - first, 0, last - first - 1)
    band_i = np.add.reduceat(inten, starts, axis=-1)  # (..., 3, K)
    band_w = np.add.reduceat(wp, starts, axis=-1)
    band_v = np.add.reduceat(vp, starts, axis=-1)
    # Parseval: mean square over the window = 2·Σ|X_k|² / (n·Σwin²) for one-sided bins.
    scale = 2.0 / (n * float(np.sum(win.astype(np.float64) ** 2)))
    intensity = np.moveaxis(band_i, -2, -1) * scale
    energy = 0.5 * (band_w + band_v) * scale
    return intensity, energy, band_w * scale


def directness(intensity: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """``1 − diffuseness`` = ``|I| / E`` in [0, 1] per band (0 where there is no energy)."""
    norm = np.linalg.norm(intensity, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(energy > 0, norm / energy, 0.0)
    return np.clip(out, 0.0, 1.0)
