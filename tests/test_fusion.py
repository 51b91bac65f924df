"""Fusion of saliency sources: weights and confidences pull the fused centroid, grids are unified
wrap-aware, and each child gets frames and audio in the form it asked for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from common.errors import OptionError
from common.options import PluginOptions, option
from pano.localizers.base import LOCALIZERS, AudioSpec, FrameBatch, Localizer, SaliencyBatch
from pano.localizers.fusion import FusionLocalizer, derive_audio, resize_equirect, union_audio_spec
from pano.run.context import RunContext
from pano.sphere.geometry import angular_distance, grid_angles, spherical_mean


@dataclass(frozen=True)
class FakeOptions(PluginOptions):
    yaw: float = option(0.0, "peak yaw")
    pitch: float = option(0.0, "peak pitch")
    grid: tuple[int, int] = option((30, 60), "map grid")
    confidence: float = option(1.0, "confidence of every frame")
    scale: float = option(1.0, "map scale")
    frame_size: tuple[int, int] | None = option(None, "frames it asks for")


class FakeSource(Localizer):
    """A map with one Gaussian peak at a fixed direction; records what it was given."""

    name = "fake"
    Options = FakeOptions

    def __init__(self, ctx=None, options=None) -> None:
        super().__init__(ctx, options)
        o = self.options
        self.yaw, self.pitch, self.grid, self.conf, self.scale = o.yaw, o.pitch, o.grid, o.confidence, o.scale
        self.frame_size = o.frame_size
        self.audio_spec = None
        self.seen: list[FrameBatch] = []
        self.prepared = False

    def prepare(self, media) -> None:
        self.prepared = True

    def process(self, batch: FrameBatch) -> SaliencyBatch:
        self.seen.append(batch)
        gy, gp = grid_angles(*self.grid)
        d = angular_distance(gy[None, :], gp[:, None], self.yaw, self.pitch)
        m = self.scale * np.exp(-0.5 * (d / 10.0) ** 2).astype(np.float32)
        b = len(batch.indices)
        return SaliencyBatch(np.repeat(m[None], b, axis=0), np.full(b, self.conf))


def fake(audio_spec: AudioSpec | None = None, **options) -> FakeSource:
    src = FakeSource.build(None, **options)
    src.audio_spec = audio_spec
    return src


def fusion_of(sources, ctx=None, **options) -> FusionLocalizer:
    return FusionLocalizer.build(ctx, sources=sources, **options)


@pytest.fixture(autouse=True, scope="module")
def _fake_source_registered():
    """Register the fake for this module only, so other tests' registry listings stay clean."""
    LOCALIZERS.register("test-fake", FakeSource)
    yield
    LOCALIZERS.unregister("test-fake")


def batch(n: int = 3, frames: np.ndarray | None = None, audio: np.ndarray | None = None) -> FrameBatch:
    idx = np.arange(n)
    return FrameBatch(indices=idx, times=idx / 30.0, frames=frames, audio=audio)


def centroid(fusion: FusionLocalizer) -> tuple[float, float]:
    out = fusion.process(batch())
    yaw, pitch, _ = spherical_mean(out.maps[0])
    return yaw, pitch


def test_registered_under_fusion():
    assert LOCALIZERS.load("fusion") is FusionLocalizer


def test_centroid_moves_toward_heavier_source():
    def fused_yaw(weights):
        a = fake(yaw=-60.0, grid=(30, 60), scale=50.0)  # a different scale must not matter
        b = fake(yaw=60.0, grid=(60, 120))
        return centroid(fusion_of([a, b], weights=weights))[0]

    equal, heavy_b, heavy_a = fused_yaw([1, 1]), fused_yaw([1, 3]), fused_yaw([3, 1])
    assert abs(equal) < 3.0
    assert heavy_b > 15.0 and heavy_a < -15.0
    assert heavy_b == pytest.approx(-heavy_a, abs=2.0)
    assert fused_yaw([0, 1]) == pytest.approx(60.0, abs=2.0)


def test_confidence_weighting():
    a = fake(yaw=-60.0, confidence=0.9)
    b = fake(yaw=60.0, confidence=0.1)
    fusion = fusion_of([a, b])
    out = fusion.process(batch())
    assert spherical_mean(out.maps[0])[0] < -15.0
    assert out.confidence == pytest.approx(np.full(3, 0.5))
    plain = fusion_of(
        [fake(yaw=-60.0, confidence=0.9), fake(yaw=60.0, confidence=0.1)],
        confidence_weighted=False,
    )
    assert abs(centroid(plain)[0]) < 3.0


def test_children_by_name_and_mapping_with_weights():
    fusion = fusion_of(
        [
            ("test-fake", {"yaw": -60.0}),
            {"name": "test-fake", "options": {"yaw": 60.0, "grid": (60, 120)}, "weight": 3.0},
        ]
    )
    assert list(fusion.weights) == [1.0, 3.0]
    assert centroid(fusion)[0] > 15.0
    desc = fusion.describe()
    assert [s["weight"] for s in desc["sources"]] == [1.0, 3.0]


def test_union_of_frame_sizes_and_resized_frames():
    small = fake(frame_size=(30, 60))
    large = fake(frame_size=(60, 120))
    none = fake()
    fusion = fusion_of([small, large, none])
    assert fusion.frame_size == (60, 120)
    fusion.prepare(object())
    assert small.prepared and large.prepared
    frames = np.random.default_rng(0).integers(0, 255, (3, 60, 120, 3), dtype=np.uint8)
    fusion.process(batch(frames=frames))
    assert small.seen[0].frames.shape == (3, 30, 60, 3) and small.seen[0].frames.dtype == np.uint8
    assert large.seen[0].frames is frames
    assert none.seen[0].frames is None and none.seen[0].audio is None


def test_audio_union_and_derivation():
    mono = AudioSpec(sample_rate=16000, layout="mono", window=0.1)
    foa = AudioSpec(sample_rate=48000, layout="foa", window=0.2)
    assert union_audio_spec([mono, foa]) == AudioSpec(48000, "foa", 0.2)
    assert union_audio_spec([]) is None
    with pytest.raises(OptionError):
        union_audio_spec([AudioSpec(16000, "stereo", 0.1)])

    a, b = fake(audio_spec=mono), fake(audio_spec=foa)
    fusion = fusion_of([a, b])
    assert fusion.audio_spec == AudioSpec(48000, "foa", 0.2)
    t = np.arange(int(0.2 * 48000)) / 48000
    audio = np.zeros((2, 4, len(t)), np.float32)
    audio[:, 0] = np.sin(2 * np.pi * 1000.0 * t)  # W carries a 1 kHz tone
    audio[:, 3] = 0.5  # X: something else
    fusion.process(batch(n=2, audio=audio))
    got = a.seen[0].audio
    assert got.shape == (2, 1, 1600) and got.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(got[0, 0] * np.hanning(1600)))
    assert np.fft.rfftfreq(1600, 1 / 16000)[spectrum.argmax()] == pytest.approx(1000.0, abs=15.0)
    assert np.abs(got[0, 0, 200:-200]).max() == pytest.approx(1.0, abs=0.05)
    assert b.seen[0].audio is audio


def test_derive_audio_refuses_inventing_directions():
    with pytest.raises(OptionError):
        derive_audio(np.zeros((1, 1, 100)), AudioSpec(1000, "mono", 0.1), AudioSpec(1000, "foa", 0.1))


def test_resize_wraps_at_seam():
    m = np.zeros((1, 30, 60), np.float32)
    m[0, 15, 0] = m[0, 15, -1] = 1.0  # a peak straddling the ±180° seam
    up = resize_equirect(m, (60, 120))[0]
    assert up[:, 0].max() > 0.5 and up[:, -1].max() > 0.5  # both seam columns keep the peak
    yaw, pitch, _ = spherical_mean(up)
    assert abs(abs(yaw) - 180.0) < 2.0 and abs(pitch) < 4.0
    down = resize_equirect(up[None], (15, 30))[0]
    assert abs(abs(spherical_mean(down)[0]) - 180.0) < 3.0


def test_children_built_by_name_share_the_run_context():
    ctx = RunContext(checkpoint="m.pt", device="cuda:1", audio_format="mono")
    fusion = fusion_of(["test-fake", ["test-fake", {"yaw": 30}]], ctx)
    assert all(child.ctx is ctx for child in fusion.children)
    assert fusion.children[1].yaw == 30.0
    with pytest.raises(OptionError, match="localizer 'test-fake' has no option 'yw'"):
        fusion_of([["test-fake", {"yw": 30}]])


def test_default_children_follow_the_input():
    from pano.localizers.fusion import default_children

    assert default_children(RunContext(audio_format="mono")) == ["synchrony"]
    assert default_children(RunContext(checkpoint="m.pt", audio_format="mono")) == ["network", "synchrony"]
    assert default_children(RunContext(checkpoint="m.pt", audio_format="ambix")) == [
        "network", "ambisonic", "synchrony"]


def test_bad_options():
    with pytest.raises(OptionError):
        fusion_of([])
    with pytest.raises(OptionError):
        fusion_of([fake()], weights=[1.0, 2.0])
    with pytest.raises(OptionError):
        fusion_of([fake()], weights=[-1.0])
    with pytest.raises(OptionError):
        fusion_of([42])


def test_fusion_feeds_synchrony_derived_frames_and_audio():
    """End to end with a real child: synchrony (mono 16 kHz, 30×60 frames) inside a fusion that also
    holds an FOA 24 kHz child with 60×120 frames; the pulsing blob must win once synchrony is sure."""
    from pano.localizers.synchrony import SynchronyLocalizer

    rng = np.random.default_rng(0)
    fps, sr, n = 30.0, 24000, 150
    env = np.repeat(rng.uniform(0, 1, n // 5), 5)  # a new loudness every 5 frames
    gy, gp = grid_angles(60, 120)
    blob = np.exp(-0.5 * (angular_distance(gy[None, :], gp[:, None], 90.0, 0.0) / 10.0) ** 2)
    lum = 100.0 + 60.0 * env[:, None, None] * blob + rng.normal(0, 2.0, (n, 60, 120))
    frames = np.repeat(np.clip(lum, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    s = int(0.2 * sr)
    audio = np.zeros((n, 4, s), np.float32)
    audio[:, 0] = env[:, None] * rng.standard_normal((n, s)) * 0.2  # W carries the sound

    syn = SynchronyLocalizer.build(None, frame_size=(30, 60))
    other = fake(
        yaw=-90.0, grid=(60, 120), confidence=0.3, frame_size=(60, 120), audio_spec=AudioSpec(sr, "foa", 0.2)
    )
    fusion = fusion_of([syn, other])

    class Media:
        fps, audio_channels, path = 30.0, 4, "x.mp4"

    fusion.prepare(Media())
    assert fusion.frame_size == (60, 120) and fusion.audio_spec == AudioSpec(sr, "foa", 0.2)
    yaws = []
    for start in range(0, n, fusion.batch_size):
        idx = np.arange(start, min(start + fusion.batch_size, n))
        out = fusion.process(FrameBatch(idx, idx / fps, frames[idx], audio[idx]))
        yaws += [spherical_mean(m)[0] for m in out.maps]
    late = np.array(yaws[int(2 * fps) :])
    assert np.mean(np.abs(late - 90.0) < 20.0) >= 0.8
