"""Synchrony saliency on synthetic mono scenes: a blob that pulses with its sound, random distractors,
global flicker and sensor noise; the map must point at the blob, and confidence must stay low when the
sounding thing does not change visibly."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError, OptionError
from pano.localizers.base import FrameBatch
from pano.localizers.synchrony import SynchronyLocalizer, blur_equirect, estimate_yaw_shift, luminance
from pano.run.context import RunContext
from pano.sphere.geometry import angular_distance, grid_angles, spherical_mean

FPS = 30.0
SR = 16000
H, W = 60, 120
SRC = (60.0, 15.0)  # yaw, pitch of the sounding blob
DISTRACTORS = ((-80.0, -10.0), (170.0, 25.0), (-20.0, 40.0))


class Media:
    """Stand-in for pano.media.probe.MediaInfo with only what sources read."""

    def __init__(self, fps: float = FPS, audio_channels: int = 1, frame_count: int = 0, path: str = "t.mp4"):
        self.fps = fps
        self.audio_channels = audio_channels
        self.frame_count = frame_count
        self.duration = frame_count / fps
        self.path = path


def envelope(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """Syllable-like on/off envelope sampled at ``rate``: random segments of 0.1–0.5 s, smoothed."""
    out = np.zeros(n)
    i, on = 0, bool(rng.integers(2))
    while i < n:
        seg = int(rng.uniform(0.1, 0.5) * rate)
        out[i : i + seg] = rng.uniform(0.4, 1.0) if on else 0.0
        i += seg
        on = not on
    k = max(int(0.03 * rate), 1)
    return np.convolve(out, np.ones(k) / k, mode="same")


def bump(yaw: float, pitch: float, width_deg: float) -> np.ndarray:
    gy, gp = grid_angles(H, W)
    d = angular_distance(gy[None, :], gp[:, None], yaw, pitch)
    return np.exp(-0.5 * (d / width_deg) ** 2)


def make_scene(
    seconds: float = 10.0,
    pulsing: bool = True,
    seed: int = 0,
    flicker: float = 0.08,
    amp: float = 70.0,
    mode: str = "brightness",
    pan: float = 0.0,
):
    """Frames (N, H, W, 3) uint8, audio (N, 1, S) windows centred on frames, source envelope per frame.

    ``mode``: how the sounding blob shows its sound: "brightness" (follows the envelope), "size" (a
    disk whose radius follows it), "jitter" (its texture flickers randomly, more when louder, like
    moving lips). ``pan``: camera yaw rotation in
    degrees per second (whole frame, source included; the source's yaw is then SRC yaw + pan·t).
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    ctrl = 1000.0  # envelope control rate, Hz
    t_ctrl = np.arange(int((seconds + 1) * ctrl)) / ctrl
    env_src = envelope(rng, len(t_ctrl), ctrl)
    t_frames = np.arange(n) / FPS
    src_f = np.interp(t_frames, t_ctrl, env_src)
    background = blur_equirect(rng.uniform(60, 180, (1, H, W)).astype(np.float32), 6.0)[0]
    lum = np.repeat(background[None], n, axis=0)
    blob = bump(*SRC, 7.0)
    if not pulsing:
        lum += amp * 0.7 * blob
    elif mode == "brightness":
        lum += amp * src_f[:, None, None] * blob
    elif mode == "size":
        gy, gp = grid_angles(H, W)
        d = angular_distance(gy[None, :], gp[:, None], *SRC)
        radius = 4.0 + 8.0 * src_f  # degrees: a disk that grows with the loudness
        lum += amp * 0.8 / (1.0 + np.exp((d[None] - radius[:, None, None]) / 1.5))
    else:
        lum += amp * (0.5 + src_f[:, None, None] * rng.uniform(-0.5, 0.5, (n, H, W))) * blob
    for k, (yaw, pitch) in enumerate(DISTRACTORS):
        env_d = np.interp(
            t_frames, t_ctrl, envelope(np.random.default_rng(seed + 100 + k), len(t_ctrl), ctrl)
        )
        lum += 70.0 * env_d[:, None, None] * bump(yaw, pitch, 7.0)
    gain = 1.0 + flicker * np.convolve(rng.standard_normal(n), np.ones(3) / 3, mode="same")
    lum = lum * gain[:, None, None]
    if pan:
        shift = pan * t_frames * W / 360.0  # columns, fractional: shift in the Fourier domain
        freqs = np.fft.fftfreq(W)
        phase = np.exp(-2j * np.pi * shift[:, None] * freqs[None, :])
        lum = np.fft.ifft(np.fft.fft(lum, axis=2) * phase[:, None, :], axis=2).real
    lum += rng.normal(0, 2.0, lum.shape)
    rgb = np.clip(np.stack([lum, lum * 0.95, lum * 0.9], axis=-1), 0, 255).astype(np.uint8)

    total = int(seconds * SR) + SR
    t_audio = np.arange(total) / SR
    audio = np.interp(t_audio, t_ctrl, env_src) * rng.standard_normal(total) * 0.3
    half = int(round(2.5 / FPS * SR)) // 2
    padded = np.pad(audio, (half, half + 1))
    centres = np.round(t_frames * SR).astype(int)
    windows = np.stack([padded[c : c + 2 * half] for c in centres])[:, None, :].astype(np.float32)
    return rgb, windows, src_f


def run_source(src: SynchronyLocalizer, frames: np.ndarray, audio: np.ndarray, batch: int = 16):
    maps, conf = [], []
    for s in range(0, len(frames), batch):
        idx = np.arange(s, min(s + batch, len(frames)))
        out = src.process(FrameBatch(indices=idx, times=idx / FPS, frames=frames[idx], audio=audio[idx]))
        assert out.maps.shape == (len(idx), H, W) and out.maps.dtype == np.float32
        maps.append(out.maps)
        conf.append(out.confidence)
    return np.concatenate(maps), np.concatenate(conf)


def errors_deg(maps: np.ndarray, pan: float = 0.0, start: int = 0) -> np.ndarray:
    """Angle between each map's spherical centroid and the source (which moves at ``pan`` °/s)."""
    errs = []
    for k, m in enumerate(maps):
        yaw, pitch, res = spherical_mean(m)
        src_yaw = SRC[0] + pan * (start + k) / FPS
        errs.append(angular_distance(yaw, pitch, src_yaw, SRC[1]) if res > 0 else 180.0)
    return np.array(errs)


def within_20_active(maps: np.ndarray, env: np.ndarray, pan: float = 0.0) -> float:
    """Fraction of active frames (source sounding, after 2 s warm-up) whose centroid is within 20°."""
    active = (np.arange(len(env)) >= int(2 * FPS)) & (env > 0.2)
    assert active.sum() > 50
    return float((errors_deg(maps, pan)[active] <= 20.0).mean())


@pytest.fixture(scope="module")
def pulsing_run():
    frames, audio, env = make_scene(pulsing=True)
    src = SynchronyLocalizer.build(None, frame_size=(H, W))
    src.prepare(Media(frame_count=len(frames)))
    maps, conf = run_source(src, frames, audio)
    return maps, conf, env


@pytest.fixture(scope="module")
def static_run():
    frames, audio, env = make_scene(pulsing=False)
    src = SynchronyLocalizer.build(None, frame_size=(H, W))
    src.prepare(Media(frame_count=len(frames)))
    maps, conf = run_source(src, frames, audio)
    return maps, conf, env


def test_centroid_follows_pulsing_source(pulsing_run):
    maps, conf, env = pulsing_run
    frac = within_20_active(maps, env)
    assert frac >= 0.8, f"only {frac:.2f} of active frames within 20°"


@pytest.mark.parametrize(
    "scene",
    [
        {"mode": "jitter", "amp": 40.0, "seed": 1},  # texture moves while it sounds (lips), no brightness cue
        {"mode": "size", "amp": 40.0, "seed": 3},  # a disk that grows with the loudness
        {"pan": 20.0, "flicker": 0.25, "amp": 40.0, "seed": 2},  # panning camera + strong flicker
    ],
    ids=["jitter", "size", "pan+flicker"],
)
def test_centroid_follows_source_under_harder_conditions(scene):
    frames, audio, env = make_scene(**scene)
    src = SynchronyLocalizer.build(None, frame_size=(H, W))
    src.prepare(Media(frame_count=len(frames)))
    maps, conf = run_source(src, frames, audio)
    frac = within_20_active(maps, env, scene.get("pan", 0.0))
    assert frac >= 0.8, f"only {frac:.2f} of active frames within 20°"
    assert np.median(conf[int(2 * FPS) :]) > 0.6


def test_yaw_shift_estimate():
    frames, _, _ = make_scene(seconds=1.0, pan=45.0, seed=5)
    y = luminance(frames)
    shift, strength = estimate_yaw_shift(y[0], y[1:], max_shift=10.0)
    expected = 45.0 * W / 360.0 / FPS
    assert np.all(strength > 0.9)
    assert abs(float(np.median(shift)) - expected) < 0.05
    assert np.all(np.abs(shift - expected) < 0.3)


def test_confidence_low_for_static_source(pulsing_run, static_run):
    warm = slice(int(2 * FPS), None)
    pulsing_conf = float(np.median(pulsing_run[1][warm]))
    static_conf = float(np.median(static_run[1][warm]))
    assert pulsing_conf > 0.6
    assert static_conf < 0.35
    assert pulsing_conf - static_conf > 0.4


def test_warm_up_gives_empty_maps_and_zero_confidence(pulsing_run):
    maps, conf, _ = pulsing_run
    assert conf[0] == 0.0 and maps[0].sum() == 0.0


def test_batching_does_not_change_results():
    frames, audio, _ = make_scene(seconds=3.0, seed=3)
    a = SynchronyLocalizer.build(None, frame_size=(H, W))
    b = SynchronyLocalizer.build(None, frame_size=(H, W))
    maps_a, conf_a = run_source(a, frames, audio, batch=7)
    maps_b, conf_b = run_source(b, frames, audio, batch=32)
    np.testing.assert_allclose(maps_a, maps_b, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(conf_a, conf_b, rtol=1e-6, atol=1e-6)


def test_silence_gives_no_confidence():
    frames, audio, _ = make_scene(seconds=3.0, seed=4)
    src = SynchronyLocalizer.build(None, frame_size=(H, W))
    maps, conf = run_source(src, frames, np.zeros_like(audio))
    assert np.all(conf == 0.0) and np.all(maps == 0.0)


def test_blur_wraps_at_seam():
    img = np.zeros((1, H, W), np.float32)
    img[0, H // 2, 0] = 1.0
    out = blur_equirect(img, 6.0)[0]
    assert out[H // 2, -1] > 0.5 * out[H // 2, 1] > 0


def test_frame_rate_comes_from_the_run_and_silent_media_is_refused():
    src = SynchronyLocalizer.build(RunContext(fps=25.0))
    src.prepare(Media(fps=25.0))
    assert src.fps == 25.0 and src.audio_spec.window == pytest.approx(0.1)
    assert src.audio_spec.layout == "mono" and src.audio_spec.sample_rate == 16000
    with pytest.raises(InputError, match="no audio"):
        src.prepare(Media(audio_channels=0))


def test_bad_options_are_option_errors():
    for bad in ({"frame_size": (60, 100)}, {"pairs": ("nonsense",)}, {"frame_size": 0}, {"pairs": -1},
                {"evidence_window": float("nan")}, {"blur_deg": 1e9}):
        with pytest.raises(OptionError, match="localizer 'synchrony'"):
            SynchronyLocalizer.build(None, **bad)


def h264_roundtrip(frames: np.ndarray, path, crf: int, scale: int = 4) -> np.ndarray:
    """Encode the scene at ``scale``× size with libx264 (plus fine sensor noise), decode it back to the
    analysis grid with an area downsize, as the pipeline's decoder does."""
    import av
    import cv2

    rng = np.random.default_rng(9)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = W * scale, H * scale, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            big = cv2.resize(f, (W * scale, H * scale), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            big = np.clip(big + rng.normal(0, 3, big.shape[:2])[..., None], 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(big, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(path)) as container:
        return np.stack(
            [
                fr.to_ndarray(format="rgb24", width=W, height=H, interpolation="AREA")
                for fr in container.decode(video=0)
            ]
        )


def test_survives_h264_compression(tmp_path):
    frames, audio, env = make_scene(mode="size", amp=40.0, seed=6)
    decoded = h264_roundtrip(frames, tmp_path / "scene.mp4", crf=30)
    assert decoded.shape == frames.shape
    src = SynchronyLocalizer.build(None, frame_size=(H, W))
    src.prepare(Media(frame_count=len(frames)))
    maps, conf = run_source(src, decoded, audio)
    frac = within_20_active(maps, env)
    assert frac >= 0.8, f"only {frac:.2f} of active frames within 20°"
    assert np.median(conf[int(2 * FPS) :]) > 0.6
