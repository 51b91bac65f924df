"""Sound embeddings for every frame of a long track at O(1) cost per frame.

Running SoundNet on each frame's own 20 s window repeats the same convolutions hundreds of times
(30 fps × 20 s). Instead conv8 is computed once over the whole track, in chunks whose overlap covers
the receptive field so that memory stays bounded and every conv8 step equals what one pass over the
whole track would give. A frame's f_s is then the mean of the conv8 steps its own window run would
produce, read from cumulative sums with linear interpolation between the full-track grid (conv8
steps are 65,536 samples ≈ 3 s apart): two look-ups per frame whatever the window length.

Agreement with per-window runs: when a window starts on the conv8 grid the interpolation weights
vanish and f_s is the per-window mean exactly, except that the per-window run sees zero padding at
its two ends where the streaming pass sees the neighbouring audio. Off the grid, f_s is interpolated.
``tests/test_soundloc_streaming.py`` bounds both effects.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from soundloc.soundnet import (
    HOP,
    MIN_SAMPLES,
    RF_LEFT,
    RF_RIGHT,
    SAMPLE_RATE,
    SoundNet8,
    conv8_length,
    fit_min_length,
)

_LEFT_STEPS = -(-RF_LEFT // HOP)  # conv8 steps of audio kept to the left of the next step to compute


class Conv8Stream:
    """Feed a mono waveform (±256 scale) piece by piece; get the track's conv8 features at the end.

    Equivalent to ``soundnet(whole_track)`` (up to float rounding) while holding only about
    ``chunk_steps + 6`` conv8 steps (~3 s each) of audio at a time.
    """

    def __init__(self, soundnet: SoundNet8, chunk_steps: int = 32, device: str | torch.device = "cpu") -> None:
        if chunk_steps < 1:
            raise ValueError("chunk_steps must be >= 1")
        self.soundnet = soundnet
        self.chunk_steps = int(chunk_steps)
        self.device = torch.device(device)
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # absolute sample index of _buf[0]; a multiple of HOP
        self._total = 0
        self._next = 0  # next conv8 step to compute
        self._out: list[Tensor] = []

    @torch.inference_mode()
    def _run(self, s0: int, s1: int) -> Tensor:
        seg = torch.from_numpy(np.ascontiguousarray(self._buf[s0 - self._buf_start : s1 - self._buf_start]))
        return self.soundnet(seg.to(self.device)[None])[0].float().cpu()  # (1000, T_chunk)

    def _emit(self, t1: int, s1: int) -> None:
        s0 = max(0, self._next - _LEFT_STEPS) * HOP
        out = self._run(s0, s1)
        first = self._next - s0 // HOP
        block = out[:, first : first + (t1 - self._next)]
        if block.shape[1] != t1 - self._next:  # receptive-field arithmetic broken: a bug, not user error
            raise RuntimeError(f"conv8 chunk gave {block.shape[1]} steps, expected {t1 - self._next}")
        self._out.append(block.T.contiguous())
        self._next = t1
        keep = max(0, self._next - _LEFT_STEPS) * HOP
        self._buf = self._buf[keep - self._buf_start :]
        self._buf_start = keep

    def push(self, samples: np.ndarray) -> None:
        """Append mono samples ``(S,)`` or ``(1, S)``; computes every chunk that is complete."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        self._buf = np.concatenate([self._buf, samples]) if self._buf.size else samples.copy()
        self._total += samples.size
        while True:
            t1 = self._next + self.chunk_steps
            s1 = (t1 - 1) * HOP + RF_RIGHT + 1  # samples conv8 step t1-1 reads, right padding excluded
            if self._total < s1:
                return
            self._emit(t1, s1)

    def finish(self) -> Tensor:
        """All conv8 features ``(T, 1000)``; a track shorter than ~9.5 s is tiled to that length first."""
        n = self._total
        if n < MIN_SAMPLES:  # nothing emitted yet, the whole track is in the buffer
            wave = fit_min_length(torch.from_numpy(self._buf[None]), MIN_SAMPLES)
            with torch.inference_mode():
                return self.soundnet(wave.to(self.device))[0].float().cpu().T.contiguous()
        t_total = conv8_length(n)
        if self._next < t_total:
            self._emit(t_total, n)
        return torch.cat(self._out, dim=0) if self._out else torch.zeros(0, self.soundnet_dim)

    @property
    def soundnet_dim(self) -> int:
        return self.soundnet.layers[-1].out_channels


def conv8_track(
    soundnet: SoundNet8, chunks: Iterable[np.ndarray], chunk_steps: int = 32, device: str = "cpu"
) -> Tensor:
    """conv8 features ``(T, 1000)`` of a track given as an iterable of mono chunks (already ±256)."""
    stream = Conv8Stream(soundnet, chunk_steps, device)
    for chunk in chunks:
        stream.push(chunk)
    return stream.finish()


class WindowPooler:
    """f_s for any frame time from a track's conv8 features, O(1) per frame via cumulative sums.

    A frame at time τ stands for the per-window run on audio ``[τ − W/2, τ + W/2)``: that run yields
    ``n = conv8_length(W)`` steps (4 for 20 s) whose positions on the track's conv8 grid are
    ``a, a+1, …, a+n−1`` with ``a = (τ − W/2)·sr / 65536``, generally fractional. Each is read by linear
    interpolation between neighbouring grid steps, and their mean is two windowed sums. Windows that
    would reach past either end of the track are moved inside it (no silence is averaged in); a track
    with fewer than ``n`` steps gives the mean of all of them.
    """

    def __init__(self, features: Tensor, sample_rate: int = SAMPLE_RATE, window: float = 20.0) -> None:
        feats = torch.as_tensor(features, dtype=torch.float64)
        if feats.dim() != 2 or feats.shape[0] == 0:
            raise ValueError("features must be (T, C) with T >= 1")
        self.n_steps_total = feats.shape[0]
        self.sample_rate = sample_rate
        self.window = float(window)
        self.n = max(1, conv8_length(round(self.window * sample_rate)))
        self._csum = torch.cat([feats.new_zeros(1, feats.shape[1]), feats.cumsum(0)])  # (T+1, C)

    def _mean(self, start: np.ndarray, n: int) -> Tensor:
        idx = torch.from_numpy(start)
        return (self._csum[idx + n] - self._csum[idx]) / n

    def pooled(self, times: np.ndarray | Iterable[float]) -> Tensor:
        """f_s ``(B, C)`` float32 for frame times in seconds."""
        t = np.asarray(times, np.float64).reshape(-1)
        total, n = self.n_steps_total, self.n
        if total <= n:
            return (self._csum[-1] / total).float().expand(t.size, -1).clone()
        a = (t - self.window / 2) * self.sample_rate / HOP
        a = np.clip(a, 0.0, total - n)
        i = np.minimum(np.floor(a).astype(np.int64), total - n)
        f = torch.from_numpy(a - i)[:, None]
        lo = self._mean(i, n)
        hi = self._mean(np.minimum(i + 1, total - n), n)
        return ((1 - f) * lo + f * hi).float()
