"""Streaming conv8 and window pooling agree with running SoundNet on each window.

Tolerances, stated once:
- chunked conv8 vs one pass over the whole track: max abs difference ≤ 1e-4 × the features' max
  (float32 convolutions over different lengths round differently; nothing else differs);
- a window whose start lies on the conv8 grid and whose receptive field stays inside the track:
  streamed f_s equals the per-window mean to the same 1e-4;
- an arbitrary 20 s window centred on a frame (off the grid, with the per-window run's own zero
  padding at both ends): relative L2 error ≤ 0.2 and cosine ≥ 0.98 on a steady signal.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soundloc.model import scale_waveform
from soundloc.soundnet import HOP, MIN_SAMPLES, RF_LEFT, RF_RIGHT, SoundNet8, conv8_length, fit_min_length
from soundloc.streaming import Conv8Stream, WindowPooler, conv8_track

SR = 22050


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return SoundNet8().eval()


@pytest.fixture(scope="module")
def track():
    """45 s of a modulated tone in noise, ±256 scale."""
    rng = np.random.default_rng(0)
    t = np.arange(45 * SR) / SR
    sig = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    sig += 0.1 * rng.standard_normal(t.size)
    return scale_waveform(sig.astype(np.float32))


@pytest.fixture(scope="module")
def full(net, track):
    with torch.no_grad():
        return net(track[None])[0].T  # (T, 1000)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-4) -> bool:
    return bool((a - b).abs().max() <= rel * b.abs().max())


@pytest.mark.parametrize("chunk_steps,piece", [(2, 7 * SR), (5, 50_000), (64, 10 * SR)])
def test_chunked_conv8_equals_one_pass(net, track, full, chunk_steps, piece):
    feats = conv8_track(net, track.split(piece), chunk_steps=chunk_steps)
    assert feats.shape == full.shape == (conv8_length(track.numel()), 1000)
    assert _close(feats, full)


def test_stream_memory_is_bounded(net, track):
    stream = Conv8Stream(net, chunk_steps=2)
    longest = 0
    for piece in track.split(SR):
        stream.push(piece.numpy())
        longest = max(longest, stream._buf.size)
    stream.finish()
    assert longest <= (2 + 8) * HOP + SR  # a few conv8 steps of audio, not the track


def test_grid_aligned_window_is_exact(net, track, full):
    pool = WindowPooler(full, SR, window=20.0)
    n = pool.n
    assert n == conv8_length(20 * SR) == 4
    left = -(-RF_LEFT // HOP)  # whole conv8 steps of context before the window's first step
    for t0 in (2, 3, 6):
        tau = t0 * HOP / SR + 10.0  # frame whose window starts on conv8 step t0
        got = pool.pooled([tau])[0]
        # SoundNet on only this window's audio plus its receptive field, starting on the grid
        s0 = (t0 - left) * HOP
        seg = track[s0 : (t0 + n - 1) * HOP + RF_RIGHT + 1]
        with torch.no_grad():
            own = net(seg[None])[0]
        ref = own[:, left : left + n].mean(-1)
        assert _close(got, ref)


def test_off_grid_window_matches_per_window_run(net, track, full):
    pool = WindowPooler(full, SR, window=20.0)
    for tau in (12.34, 17.0, 22.5, 31.01):
        w0 = int(round((tau - 10.0) * SR))
        with torch.no_grad():
            ref = net(track[None, w0 : w0 + 20 * SR])[0].mean(-1)
        got = pool.pooled([tau])[0]
        rel = float((got - ref).norm() / ref.norm())
        assert rel <= 0.2, (tau, rel)
        assert float(F.cosine_similarity(got, ref, dim=0)) >= 0.98


def test_pooled_is_cumsum_of_interpolated_steps(full):
    pool = WindowPooler(full, SR, window=20.0)
    times = np.array([0.0, 3.0, 14.9, 20.0, 25.5, 44.9])
    got = pool.pooled(times)
    T, n = full.shape[0], pool.n
    for k, tau in enumerate(times):
        a = float(np.clip((tau - 10.0) * SR / HOP, 0, T - n))
        i = min(int(np.floor(a)), T - n)
        f = a - i
        lo = full[i : i + n].double().mean(0)
        hi = full[min(i + 1, T - n) : min(i + 1, T - n) + n].double().mean(0)
        assert _close(got[k].double(), (1 - f) * lo + f * hi)
    # frames near the ends use the nearest complete window instead of averaging silence
    assert torch.equal(pool.pooled([-5.0]), pool.pooled([0.0]))


def test_short_clip_is_tiled_deterministically(net):
    rng = np.random.default_rng(1)
    clip = scale_waveform(rng.uniform(-0.5, 0.5, 3 * SR).astype(np.float32))
    a = conv8_track(net, clip.split(SR))
    b = conv8_track(net, [clip.numpy()])
    assert a.shape == (1, 1000) and torch.equal(a, b)
    with torch.no_grad():
        ref = net(fit_min_length(clip[None], MIN_SAMPLES))[0].T
    assert _close(a, ref)
    pool = WindowPooler(a, SR, 20.0)
    assert torch.allclose(pool.pooled([0.0, 1.0, 2.9]), a.expand(3, -1))
    empty = conv8_track(net, [])
    assert empty.shape == (1, 1000)


def test_streaming_is_cheaper_than_per_window(track):
    """Not timing: counts conv8 steps computed, streaming vs one 20 s run per 30 fps frame."""
    frames = int(45 * 30)
    per_window = frames * conv8_length(20 * SR)
    streamed = conv8_length(track.numel())
    assert per_window / streamed > 50
