"""Binaural view audio: the FOA field turned to the camera and decoded for headphones.

``--nfov-audio binaural`` rotates the first-order field so that the view's direction is straight ahead
(yaw and pitch, interpolated per sample like the stereo view audio) and decodes it with fixed FIR
filters, two ears × four channels, derived by magnitude least squares from the measured MIT KEMAR
HRIRs (Gardner & Martin 1994; shipped in the ``slab`` package's wheel, MIT licence; derivation and
terms in ``examples/make_binaural_filters.py``). The filters are a 39 KB file in the package, so
nothing is downloaded at run time. Beside the filters the file holds the set's own horizontal HRIRs
every 30°, the reference that :func:`interaural_differences` compares the decoder with.

Levels: the filters are scaled so that a source straight ahead comes out at W's level in each ear
(the two-cardioid stereo's level too); a source beside the head is louder in the near ear, as it is,
so a safety limiter (:class:`PeakLimiter`) holds peaks under full scale instead of letting AAC clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.signal
import scipy.spatial

from pano.media.probe import MediaInfo
from pano.sphere.ambisonics import fuma_to_ambix
from pano.sphere.geometry import unwrap_yaw, yaw_pitch_to_vec

FILTERS = Path(__file__).with_name("data") / "kemar_foa_binaural.npz"
CEILING = 0.98  # peak level the limiter holds the ears under (AAC overshoots a little near full scale)


@lru_cache(maxsize=1)
def decoder_data() -> dict[str, np.ndarray]:
    """The shipped decoder: ``filters`` (2 ears, 4 channels W Y Z X, taps) at ``rate``, and the
    reference HRIRs (``reference_azimuth`` counter-clockwise degrees, ``reference_hrirs`` (n, 2, taps))."""
    with np.load(FILTERS) as data:
        out = {key: data[key] for key in data.files}
    front = _front_gain(out["filters"])
    out["filters"] = (out["filters"] / front).astype(np.float32)
    out["reference_hrirs"] = (out["reference_hrirs"] / front).astype(np.float32)
    return out


def _front_gain(filters: np.ndarray) -> float:
    """The decoder's broadband (RMS over frequency) gain for a source straight ahead, both ears' mean."""
    front = filters[:, 0] + filters[:, 3]  # W = 1, X = 1
    return float(np.sqrt(np.mean(np.sum(front.astype(np.float64) ** 2, axis=1))))


def rotate_to_view(foa: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """AmbiX ``(4, n)`` in the world frame → in the frame of a listener facing (yaw, pitch) per sample.

    The first-order components (X, Y, Z) are a vector; their new values are its components along the
    view's forward, left and up axes."""
    forward = yaw_pitch_to_vec(yaw, pitch)  # (n, 3)
    left = yaw_pitch_to_vec(np.asarray(yaw) - 90.0, np.zeros_like(np.asarray(yaw, dtype=np.float64)))
    up = np.cross(forward, left)
    vec = np.stack([foa[3], foa[1], foa[2]], axis=1)  # (n, 3): X, Y, Z
    out = np.empty_like(foa)
    out[0] = foa[0]
    out[3] = np.einsum("ni,ni->n", vec, forward)
    out[1] = np.einsum("ni,ni->n", vec, left)
    out[2] = np.einsum("ni,ni->n", vec, up)
    return out


class LinearDecoder:
    """Streaming MagLS FIR decoder: ``(4, n)`` head-frame AmbiX chunks in, ``(2, n)`` ear signals out.

    Order 1 cannot hold a source's interaural time difference this way (measured: 140 µs where KEMAR
    has 590 µs at 60°), so :class:`ParametricDecoder` uses it for the diffuse part only."""

    def __init__(self) -> None:
        self.filters = decoder_data()["filters"].astype(np.float64)
        self.tail = np.zeros((2, self.filters.shape[-1] - 1))

    def __call__(self, foa: np.ndarray) -> np.ndarray:
        n = foa.shape[1]
        full = np.zeros((2, n + self.filters.shape[-1] - 1))
        for ear in range(2):
            full[ear] = scipy.signal.oaconvolve(foa, self.filters[ear], axes=1, mode="full").sum(axis=0)
        full[:, : self.tail.shape[1]] += self.tail
        self.tail = full[:, n:].copy()
        return full[:, :n]


class ParametricDecoder:
    """Streaming parametric (DirAC-style) binaural decoder of head-frame AmbiX.

    Per short-time frequency bin (512-sample Hann frames, hop 256, 1024-point FFT so each frame's
    filtering is an exact linear convolution), the active intensity ``Re(W*·(X, Y, Z))`` gives the
    direction of the sound and its length over the energy the directness ψ (1 for one plane wave, 0
    for a diffuse field), both smoothed over about 20 ms. The direct part, √ψ·W, is filtered with the
    measured HRTF of the nearest of the set's 710 directions — so a single source keeps KEMAR's own
    interaural level and time differences — and the diffuse part, √(1−ψ) of the field, goes through
    the MagLS decoder, whose ears are as decorrelated as order 1 allows. Elevations below −40°, where
    KEMAR was not measured, take the −40° ring.
    """

    FRAME, HOP, NFFT = 512, 256, 1024
    SMOOTH_S = 0.02

    def __init__(self, sample_rate: int = 48000) -> None:
        data = decoder_data()
        self.window = np.hanning(self.FRAME + 1)[:-1]  # periodic: frames at 50% overlap sum to 1
        az, el = np.radians(data["directions"][:, 0].astype(np.float64)), np.radians(data["directions"][:, 1])
        self.dirs = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
        self.tree = scipy.spatial.cKDTree(self.dirs)
        self.hrtf = np.fft.rfft(data["hrirs"].astype(np.float64), n=self.NFFT, axis=-1)  # (Q, 2, B)
        self.linear = np.fft.rfft(data["filters"].astype(np.float64), n=self.NFFT, axis=-1)  # (2, 4, B)
        self.alpha = float(np.exp(-self.HOP / (self.SMOOTH_S * sample_rate)))
        bins = self.NFFT // 2 + 1
        self.state_i = np.zeros((3, bins))
        self.state_e = np.zeros(bins)
        self.pending = np.zeros((4, self.HOP))  # a hop of silence first: sample 0 is fully covered
        self.out = np.zeros((2, 0))  # overlap-add buffer from the next frame's start on
        self.taken = 0  # input samples received
        self.given = -self.HOP  # output samples handed out (the first hop is the padding)

    def _frames(self, final: bool) -> np.ndarray:
        """Decode every whole frame in ``pending``; return the output samples that are now final."""
        count = (self.pending.shape[1] - self.FRAME) // self.HOP + 1 if self.pending.shape[1] >= self.FRAME else 0
        if count <= 0:
            return np.zeros((2, 0))
        idx = np.arange(count)[:, None] * self.HOP + np.arange(self.FRAME)[None, :]
        frames = self.pending[:, idx] * self.window  # (4, F, L)
        spec = np.fft.rfft(frames, n=self.NFFT, axis=-1)  # (4, F, B)
        w, vec = spec[0], spec[[3, 1, 2]]  # W; X, Y, Z
        inten = np.real(np.conj(w)[None] * vec)  # (3, F, B)
        energy = 0.5 * (np.abs(w) ** 2 + np.sum(np.abs(vec) ** 2, axis=0))
        a = self.alpha
        inten_s, zi = scipy.signal.lfilter([1 - a], [1, -a], inten, axis=1, zi=a * self.state_i[:, None, :])
        energy_s, ze = scipy.signal.lfilter([1 - a], [1, -a], energy, axis=0, zi=a * self.state_e[None, :])
        self.state_i, self.state_e = inten_s[:, -1], energy_s[-1]
        norm = np.linalg.norm(inten_s, axis=0)
        psi = np.clip(norm / np.maximum(energy_s, 1e-20), 0.0, 1.0)  # directness
        direction = np.moveaxis(inten_s / np.maximum(norm, 1e-20), 0, -1)  # (F, B, 3)
        _, nearest = self.tree.query(direction.reshape(-1, 3))
        nearest = nearest.reshape(psi.shape)  # (F, B)
        bins = np.arange(psi.shape[1])[None, :]
        direct = np.sqrt(psi) * w
        diffuse = np.sqrt(1.0 - psi)
        out_spec = np.empty((2,) + psi.shape, complex)
        for ear in range(2):
            linear = np.einsum("cfb,cb->fb", spec, self.linear[ear])
            out_spec[ear] = direct * self.hrtf[nearest, ear, bins] + diffuse * linear
        blocks = np.fft.irfft(out_spec, n=self.NFFT, axis=-1)  # (2, F, N)
        span = (count - 1) * self.HOP + self.NFFT
        if self.out.shape[1] < span:
            self.out = np.pad(self.out, ((0, 0), (0, span - self.out.shape[1])))
        for k in range(count):
            self.out[:, k * self.HOP : k * self.HOP + self.NFFT] += blocks[:, k]
        done = count * self.HOP  # samples before the next frame's start get nothing more
        self.pending = self.pending[:, done:]
        ready, self.out = self.out[:, :done], self.out[:, done:]
        return ready

    def _hand_out(self, ready: np.ndarray, limit: int | None = None) -> np.ndarray:
        skip = max(0, -self.given)
        ready = ready[:, skip:]
        self.given += skip
        if limit is not None:
            ready = ready[:, : max(0, limit - self.given)]
        self.given += ready.shape[1]
        return ready

    def __call__(self, foa: np.ndarray) -> np.ndarray:
        """Ear signals for ``foa``; they lag the input by one frame until :meth:`flush`."""
        self.pending = np.concatenate([self.pending, np.asarray(foa, np.float64)], axis=1)
        self.taken += foa.shape[1]
        return self._hand_out(self._frames(final=False))

    def flush(self) -> np.ndarray:
        """The rest, up to as many samples as went in."""
        self.pending = np.concatenate([self.pending, np.zeros((4, self.FRAME + self.HOP))], axis=1)
        ready = self._frames(final=True)
        ready = np.concatenate([ready, self.out], axis=1)
        return self._hand_out(ready, limit=self.taken)


class PeakLimiter:
    """Holds peaks under :data:`CEILING`: gain drops at once where a block would exceed it and comes
    back over about 50 ms; untouched (gain 1) for anything that stays under the ceiling."""

    def __init__(self, sample_rate: int, block: int = 64, release_s: float = 0.05) -> None:
        self.block, self.gain = block, 1.0
        self.release = np.exp(-block / (release_s * sample_rate))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = x.copy()
        for start in range(0, x.shape[1], self.block):
            seg = out[:, start : start + self.block]
            peak = float(np.max(np.abs(seg))) if seg.size else 0.0
            need = CEILING / peak if peak > CEILING else 1.0
            target = min(need, 1.0)
            self.gain = target if target < self.gain else 1.0 - (1.0 - self.gain) * self.release
            self.gain = min(self.gain, need)
            seg *= self.gain
        return out


def binaural_chunks(info: MediaInfo, times: np.ndarray, yaw: np.ndarray, pitch: np.ndarray,
                    sample_rate: int = 48000, chunk_seconds: float = 0.5) -> Iterator[np.ndarray]:
    """Float32 ``(2, n)`` chunks of the whole track, for headphones, turned with the camera path."""
    rate = int(decoder_data()["rate"])
    if sample_rate != rate:
        raise ValueError(f"the binaural filters are for {rate} Hz, not {sample_rate}")
    t = np.asarray(times, dtype=np.float64)
    yaw_track = unwrap_yaw(np.asarray(yaw, dtype=np.float64))
    pitch_track = np.asarray(pitch, dtype=np.float64)
    decode, limit = ParametricDecoder(sample_rate), PeakLimiter(sample_rate)
    start = 0
    for chunk in info.audio_chunks(sample_rate, channels=None, chunk_seconds=chunk_seconds):
        foa = chunk[:4].astype(np.float64)
        if info.audio_format == "fuma":
            foa = fuma_to_ambix(foa)
        n = foa.shape[1]
        st = (start + np.arange(n)) / sample_rate
        head = rotate_to_view(foa, np.interp(st, t, yaw_track), np.interp(st, t, pitch_track))
        start += n
        ears = decode(head)
        if ears.shape[1]:
            yield limit(ears).astype(np.float32)
    rest = decode.flush()
    if rest.shape[1]:
        yield limit(rest).astype(np.float32)


def interaural_differences(left: np.ndarray, right: np.ndarray, sample_rate: int,
                           itd_band_hz: float = 1500.0) -> tuple[float, float]:
    """(ILD in dB, ITD in seconds) of an ear pair, both positive when the left ear gets the sound louder
    and earlier. ILD: the broadband energy ratio; ITD: the lag of the peak of the interaural
    cross-correlation below ``itd_band_hz`` (where the ear uses time differences), within ±1 ms,
    refined to a fraction of a sample."""
    left, right = np.asarray(left, np.float64), np.asarray(right, np.float64)
    ild = 10 * np.log10(np.sum(left**2) / max(np.sum(right**2), 1e-30))
    sos = scipy.signal.butter(4, itd_band_hz, fs=sample_rate, output="sos")
    lo_l, lo_r = scipy.signal.sosfiltfilt(sos, left), scipy.signal.sosfiltfilt(sos, right)
    xc = scipy.signal.correlate(lo_r, lo_l, mode="full", method="fft")
    lags = np.arange(-len(lo_l) + 1, len(lo_r))
    keep = np.abs(lags) <= int(0.001 * sample_rate)
    xc, lags = xc[keep], lags[keep]
    k = int(np.argmax(xc))
    shift = 0.0
    if 0 < k < len(xc) - 1:
        a, b, c = xc[k - 1], xc[k], xc[k + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float(ild), float((lags[k] + shift) / sample_rate)
