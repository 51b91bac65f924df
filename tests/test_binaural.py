"""--nfov-audio binaural: the FOA field turned to the view and rendered for headphones with the
measured KEMAR HRTFs shipped with the project; measured against the set's own HRIRs."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import av
import numpy as np
import pytest
import scipy.signal

from clips import foa_clip
from pano.paths.trajectory import Trajectory
from pano.pipeline import RunOptions, run
from pano.rendering.binaural import (
    CEILING,
    ParametricDecoder,
    binaural_chunks,
    decoder_data,
    interaural_differences,
    rotate_to_view,
)
from pano.rendering.render import render_trajectory
from pano.sphere.ambisonics import encode_foa

RATE = 48000


def _noise(seconds: float = 1.0, seed: int = 0, level: float = 0.1) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(int(seconds * RATE))


def _decode(foa: np.ndarray, view_yaw: float = 0.0, view_pitch: float = 0.0) -> np.ndarray:
    n = foa.shape[1]
    head = rotate_to_view(foa, np.full(n, view_yaw), np.full(n, view_pitch))
    dec = ParametricDecoder(RATE)
    parts = [dec(head[:, k : k + 12000]) for k in range(0, n, 12000)] + [dec.flush()]
    return np.concatenate(parts, axis=1)


def _reference(signal: np.ndarray, azimuth_ccw: float) -> tuple[float, float]:
    """ILD and ITD of KEMAR's own HRIR pair at ``azimuth_ccw`` (horizontal plane) for ``signal``."""
    data = decoder_data()
    i = int(np.argmin(np.abs((data["reference_azimuth"] - azimuth_ccw + 180) % 360 - 180)))
    h = data["reference_hrirs"][i]
    ears = [scipy.signal.fftconvolve(signal, h[e])[: len(signal)] for e in range(2)]
    return interaural_differences(*ears, RATE)


@pytest.mark.parametrize("yaw", [-90, -60, -30, 30, 60, 90])
def test_a_source_keeps_the_hrtf_sets_level_and_time_differences(yaw):
    s = _noise()
    ild, itd = interaural_differences(*_decode(encode_foa(s, yaw, 0.0)), RATE)
    ref_ild, ref_itd = _reference(s, -yaw)  # yaw to the right is azimuth clockwise
    assert abs(ref_ild) > 5 and abs(ref_itd) > 200e-6  # the set's differences are large at these angles
    assert ild == pytest.approx(ref_ild, abs=1.0)
    assert itd == pytest.approx(ref_itd, abs=50e-6)
    assert np.sign(ild) == np.sign(itd) == -np.sign(yaw)  # a source on the right is louder and earlier there


def test_turning_the_view_by_180_degrees_swaps_the_ears():
    s = _noise(seed=1)
    foa = encode_foa(s, 60.0, 0.0)
    ild0, itd0 = interaural_differences(*_decode(foa, 0.0), RATE)
    ild1, itd1 = interaural_differences(*_decode(foa, 180.0), RATE)
    assert ild0 < -5 and ild1 > 5 and itd0 < -200e-6 and itd1 > 200e-6
    # behind the listener now, 120° to the left: KEMAR's differences there
    ref_ild, ref_itd = _reference(s, 120.0)
    assert ild1 == pytest.approx(ref_ild, abs=1.0) and itd1 == pytest.approx(ref_itd, abs=50e-6)


def test_a_diffuse_field_stays_wide_and_centred():
    rng = np.random.default_rng(2)
    n = RATE
    foa = np.stack([rng.standard_normal(n)] + [rng.standard_normal(n) / np.sqrt(3) for _ in range(3)]) * 0.1
    left, right = _decode(foa)
    ild, _ = interaural_differences(left, right, RATE)
    coherence = abs(np.corrcoef(left, right)[0, 1])
    assert abs(ild) < 1.0 and coherence < 0.6  # not collapsed to a mono image in the middle of the head


def _through_the_product(foa: np.ndarray) -> np.ndarray:
    track = SimpleNamespace(audio_format="ambix",
                            audio_chunks=lambda rate, channels, chunk_seconds: iter(np.array_split(foa, 4, axis=1)))
    return np.concatenate(list(binaural_chunks(track, np.array([0.0, 1.0]), np.zeros(2), np.zeros(2))), axis=1)


def test_a_full_scale_source_beside_the_head_does_not_clip():
    s = np.clip(_noise(level=0.5), -1, 1)
    s /= np.abs(s).max()  # W peaks at full scale
    foa = encode_foa(s, -90.0, 0.0).astype(np.float32)
    assert np.abs(_decode(foa)).max() > 1.5  # the near ear gets more than W: it would clip
    out = _through_the_product(foa)
    assert out.shape == foa[:2].shape and np.abs(out).max() <= CEILING + 1e-6
    # a source at a normal level passes the limiter untouched
    quiet = foa * 0.2
    assert np.abs(_decode(quiet)).max() < CEILING
    np.testing.assert_allclose(_through_the_product(quiet), _decode(quiet), atol=1e-6)


def test_a_rendered_video_turns_the_sound_with_the_view(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.5, size=(60, 120), yaw=60.0, noise=0.0)
    result = run(clip, tmp_path / "o", RunOptions(nfov_audio="binaural", saliency_video=False))
    followed = _ears(result.nfov)
    traj = Trajectory.load(result.trajectory)
    front = dataclasses.replace(traj, yaw=np.zeros(len(traj)))
    render_trajectory(clip, front, tmp_path / "front.mp4", audio_mode="binaural")
    fixed = _ears(tmp_path / "front.mp4")
    ild_followed, _ = interaural_differences(*followed, RATE)
    ild_fixed, itd_fixed = interaural_differences(*fixed, RATE)
    assert abs(ild_followed) < 2.0  # the camera faces the source: centred
    assert ild_fixed < -5 and itd_fixed < -200e-6  # the view looks ahead, the source is on the right
    assert np.abs(followed).max() < 1.0 and np.abs(fixed).max() < 1.0


def test_binaural_chunks_cover_the_whole_track(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    from pano.media.probe import probe

    info = probe(clip)
    total = sum(c.shape[1] for c in binaural_chunks(info, np.array([0.0, 1.0]), np.zeros(2), np.zeros(2)))
    assert total == sum(c.shape[1] for c in info.audio_chunks(RATE, channels=None))


def _ears(path) -> np.ndarray:
    with av.open(str(path)) as f:
        frames = [fr.to_ndarray() for fr in f.decode(f.streams.audio[0])]
    out = np.concatenate(frames, axis=1).astype(np.float64)
    return out[:, 4096:]  # past the encoder's priming
