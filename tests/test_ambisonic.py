"""FOA helpers and the ``ambisonic`` saliency source, on signals synthesised at known directions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from common.errors import InputError, OptionError
from pano.localizers.ambisonic import AmbisonicLocalizer
from pano.localizers.base import FrameBatch, create_localizer
from pano.run.context import RunContext
from pano.sphere.ambisonics import (
    BEAM_PATTERNS,
    ambix_to_fuma,
    band_intensity,
    diffuse_noise,
    directness,
    encode_foa,
    fuma_to_ambix,
    log_band_edges,
    steer_beam,
)
from pano.sphere.geometry import angular_distance, grid_angles, spherical_mean, yaw_pitch_to_vec

FOA = RunContext(audio_format="ambix")

SR = 24000
WIN = 4800  # 0.2 s, the source's default window


def _windows(track: np.ndarray, times: np.ndarray, length: int = WIN) -> np.ndarray:
    """(B, 4, length) windows centred on ``times``, zero-padded, as the pipeline hands them over."""
    out = np.zeros((len(times), track.shape[0], length), np.float32)
    for i, t in enumerate(times):
        start = int(round(t * SR)) - length // 2
        lo, hi = max(start, 0), min(start + length, track.shape[1])
        if hi > lo:
            out[i, :, lo - start : hi - start] = track[:, lo:hi]
    return out


def _run(src: AmbisonicLocalizer, audio: np.ndarray, t0: float = 0.0):
    n = audio.shape[0]
    return src.process(FrameBatch(np.arange(n), t0 + np.arange(n) / 30.0, audio=audio.astype(np.float32)))


def _point_source(
    yaw: float, pitch: float, n: int, rng: np.random.Generator, noise: float = 0.2
) -> np.ndarray:
    """``n`` windows of a speech-band noise source at (yaw, pitch) with a diffuse bed ``noise`` × its RMS."""
    out = []
    for _ in range(n):
        sig = 0.1 * rng.standard_normal(WIN)
        out.append(encode_foa(sig, yaw, pitch) + 0.1 * noise * diffuse_noise(WIN, rng, n_directions=32))
    return np.stack(out)


def _argmax_dir(m: np.ndarray) -> tuple[float, float]:
    r, c = np.unravel_index(int(np.argmax(m)), m.shape)
    yaw, pitch = grid_angles(*m.shape)
    return float(yaw[c]), float(pitch[r])


# --------------------------------------------------------------------------- FOA helpers


def test_encode_follows_the_convention():
    s = np.linspace(-1, 1, 16)
    right = encode_foa(s, 90.0, 0.0)  # yaw +90 is to the right = azimuth −90 = −y
    np.testing.assert_allclose(right, np.stack([s, -s, 0 * s, 0 * s]), atol=1e-12)
    front = encode_foa(s, 0.0, 0.0)
    np.testing.assert_allclose(front, np.stack([s, 0 * s, 0 * s, s]), atol=1e-12)
    up = encode_foa(s, 0.0, 90.0)
    np.testing.assert_allclose(up, np.stack([s, 0 * s, s, 0 * s]), atol=1e-12)
    assert encode_foa(s.astype(np.float32), 10.0, 5.0).dtype == np.float32


def test_encode_moving_source_per_sample():
    s = np.ones(5)
    yaw = np.array([0.0, 90.0, 180.0, -90.0, 0.0])
    x = encode_foa(s, yaw, np.zeros(5))
    d = yaw_pitch_to_vec(yaw, 0.0)
    np.testing.assert_allclose(x[3], d[:, 0], atol=1e-12)
    np.testing.assert_allclose(x[1], d[:, 1], atol=1e-12)


def test_fuma_ambix_round_trip_and_layout():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 50))
    np.testing.assert_allclose(fuma_to_ambix(ambix_to_fuma(x)), x, atol=1e-12)
    np.testing.assert_allclose(ambix_to_fuma(fuma_to_ambix(x)), x, atol=1e-12)
    s = rng.standard_normal(50)
    fuma = ambix_to_fuma(encode_foa(s, -90.0, 0.0))  # left: FuMa W, X, Y, Z = s/√2, 0, s, 0
    np.testing.assert_allclose(fuma, np.stack([s / np.sqrt(2), 0 * s, s, 0 * s]), atol=1e-12)
    with pytest.raises(ValueError):
        fuma_to_ambix(np.zeros((3, 10)))


@pytest.mark.parametrize("pattern", sorted(BEAM_PATTERNS))
def test_beam_round_trip(pattern):
    """A plane wave encoded and decoded with a beam at its direction comes back unchanged."""
    s = np.random.default_rng(2).standard_normal(64)
    x = encode_foa(s, 120.0, -30.0)
    np.testing.assert_allclose(steer_beam(x, 120.0, -30.0, pattern), s, atol=1e-12)


def test_cardioid_rejects_the_back():
    s = np.random.default_rng(3).standard_normal(64)
    x = encode_foa(s, 30.0, 20.0)
    assert np.abs(steer_beam(x, -150.0, -20.0, "cardioid")).max() < 1e-12


def test_diffuse_noise_is_isotropic():
    x = diffuse_noise(48000, np.random.default_rng(4))
    power = (x.astype(np.float64) ** 2).mean(axis=1)
    assert abs(power[0] - 1.0) < 0.05
    np.testing.assert_allclose(power[1:], 1 / 3, atol=0.04)
    inten, energy, _ = band_intensity(x, SR, log_band_edges(200, 8000, 8))
    assert np.all(directness(inten, energy) < 0.1)


def test_band_intensity_points_at_a_plane_wave():
    rng = np.random.default_rng(5)
    x = encode_foa(rng.standard_normal(WIN), -135.0, 25.0)
    inten, energy, w_power = band_intensity(x, SR, log_band_edges(200, 8000, 4))
    np.testing.assert_allclose(directness(inten, energy), 1.0, atol=1e-6)
    d = yaw_pitch_to_vec(-135.0, 25.0)
    np.testing.assert_allclose(
        inten / np.linalg.norm(inten, axis=-1, keepdims=True), np.tile(d, (4, 1)), atol=1e-6
    )
    # White noise of unit variance: band power ≈ fraction of the spectrum the bands cover.
    assert abs(w_power.sum() - (8000 - 200) / (SR / 2)) < 0.05


# --------------------------------------------------------------------------- the saliency source

DIRECTIONS = [
    (0.0, 0.0),
    (180.0, 0.0),
    (90.0, 0.0),
    (-90.0, 0.0),
    (175.0, 0.0),
    (-175.0, 0.0),
    (40.0, 45.0),
    (-120.0, -45.0),
    (10.0, 80.0),
]


def test_registered_and_needs_no_pixels():
    src = create_localizer("ambisonic", RunContext(audio_format="ambix"))
    assert isinstance(src, AmbisonicLocalizer)
    assert src.frame_size is None
    assert src.audio_spec.layout == "foa" and src.audio_spec.sample_rate == SR
    assert src.describe()["audio_format"] == "ambix"


@pytest.mark.parametrize("audio_format", ["ambix", "fuma"])
@pytest.mark.parametrize(("yaw", "pitch"), DIRECTIONS)
def test_localises_a_point_source(yaw, pitch, audio_format):
    rng = np.random.default_rng(int(abs(yaw * 7 + pitch * 3)) + 1000)
    audio = _point_source(yaw, pitch, 4, rng)
    if audio_format == "fuma":
        audio = ambix_to_fuma(audio)
    out = _run(AmbisonicLocalizer.build(RunContext(audio_format=audio_format)), audio)
    assert out.maps.shape == (4, 64, 128) and out.maps.dtype == np.float32
    for m, c in zip(out.maps, out.confidence, strict=True):
        cy, cp, resultant = spherical_mean(m)
        assert angular_distance(cy, cp, yaw, pitch) < 5.0
        assert angular_distance(*_argmax_dir(m), yaw, pitch) < 5.0
        assert resultant > 0.9  # compact peak, no floor pulling the centroid inward
        assert c > 0.7


def test_fuma_read_as_ambix_goes_wrong():
    """The audio_format option matters: FuMa channels read as AmbiX point somewhere else."""
    audio = ambix_to_fuma(_point_source(90.0, 0.0, 2, np.random.default_rng(6)))
    out = _run(AmbisonicLocalizer.build(RunContext(audio_format="ambix")), audio)
    cy, cp, _ = spherical_mean(out.maps[0])
    assert angular_distance(cy, cp, 90.0, 0.0) > 30.0


def test_silence_has_no_confidence():
    src = AmbisonicLocalizer.build(FOA)
    out = _run(src, np.zeros((8, 4, WIN), np.float32))
    assert np.all(out.confidence == 0.0) and np.all(out.maps == 0.0)
    quiet = _point_source(30.0, 0.0, 4, np.random.default_rng(7)) * 1e-5  # about −100 dBFS
    assert np.all(_run(src, quiet).confidence < 1e-3)


def test_diffuse_noise_has_low_confidence():
    rng = np.random.default_rng(8)
    diffuse = np.stack([0.1 * diffuse_noise(WIN, rng) for _ in range(16)])
    c_diffuse = _run(AmbisonicLocalizer.build(FOA), diffuse).confidence
    c_point = _run(AmbisonicLocalizer.build(FOA), _point_source(60.0, 10.0, 16, rng)).confidence
    assert c_diffuse.max() < 0.1
    assert c_point.min() > c_diffuse.max() + 0.5


def test_confidence_falls_with_diffuse_to_direct_ratio():
    rng = np.random.default_rng(9)
    conf = [
        _run(AmbisonicLocalizer.build(FOA), _point_source(0.0, 0.0, 8, rng, noise=k)).confidence.mean()
        for k in (1, 2, 3)  # direct-to-diffuse 0, −6, −9.5 dB
    ]
    assert conf[0] > conf[1] > conf[2]
    assert conf[0] > 0.9  # a source as loud as the diffuse field steers fully


def test_reverberant_room_still_steers():
    """Bursts with four strong early reflections and a 0.5 s diffuse tail: confident frames stay near the
    source, and enough of them pass the planners' 0.15 confidence threshold to steer."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(15)
    n = 2 * SR
    t = np.arange(n) / SR
    s = 0.1 * rng.standard_normal(n) * (np.sin(2 * np.pi * 4 * t) > 0)
    x = encode_foa(s, 40.0, 10.0)
    for yaw, pitch, gain, delay in [
        (-40, 10, 0.6, 0.006),
        (40, -40, 0.5, 0.009),
        (140, 10, 0.4, 0.015),
        (40, 60, 0.4, 0.012),
    ]:
        d = int(delay * SR)
        x[:, d:] += gain * encode_foa(s[:-d], yaw, pitch)
    tail_len = SR // 2
    tail = (
        diffuse_noise(tail_len, rng, n_directions=64) * np.exp(-6.9 * np.arange(tail_len) / tail_len) * 0.05
    )
    for c in range(4):
        x[c] += fftconvolve(s, tail[c])[:n]
    ft = np.arange(6, 54) / 30.0
    out = _run(AmbisonicLocalizer.build(FOA), _windows(x, ft))
    confident = out.confidence >= 0.15
    assert confident.mean() > 0.5
    errors = [angular_distance(*spherical_mean(m)[:2], 40.0, 10.0) for m in out.maps[confident]]
    assert np.median(errors) < 10.0 and max(errors) < 15.0, errors


def test_tracks_a_moving_source_across_batches_and_the_seam():
    """45°/s through yaw 180, fed in frame order in batches of 16 as the pipeline does."""
    rng = np.random.default_rng(10)
    dur, fps = 4.0, 30.0
    t = np.arange(int(dur * SR)) / SR
    yaw_t = 90.0 + 45.0 * t  # 90 → 270, i.e. crosses ±180 at t = 2 s
    pitch_t = 15.0 * np.sin(2 * np.pi * t / dur)
    track = encode_foa(0.1 * rng.standard_normal(len(t)), yaw_t, pitch_t)
    track += 0.02 * diffuse_noise(len(t), rng)
    src = AmbisonicLocalizer.build(FOA)
    frame_t = np.arange(int(dur * fps)) / fps
    errors = []
    for s in range(0, len(frame_t), 16):
        ft = frame_t[s : s + 16]
        out = src.process(FrameBatch(np.arange(s, s + len(ft)), ft, audio=_windows(track, ft)))
        for m, c, tt in zip(out.maps, out.confidence, ft, strict=True):
            if tt < 0.1 or tt > dur - 0.1:
                continue  # the window runs off the track's end
            cy, cp, _ = spherical_mean(m)
            errors.append(angular_distance(cy, cp, 90.0 + 45.0 * tt, 15.0 * np.sin(2 * np.pi * tt / dur)))
            assert c > 0.7
    assert max(errors) < 5.0, max(errors)


def test_two_sources_in_different_bands_give_two_peaks():
    rng = np.random.default_rng(11)
    from scipy.signal import butter, sosfilt

    low = sosfilt(butter(4, 800, "low", fs=SR, output="sos"), rng.standard_normal(WIN + 2000))[2000:]
    high = sosfilt(butter(4, 2500, "high", fs=SR, output="sos"), rng.standard_normal(WIN + 2000))[2000:]
    x = encode_foa(low / low.std(), -60.0, 0.0) + encode_foa(high / high.std(), 60.0, 0.0)
    out = _run(AmbisonicLocalizer.build(FOA), 0.1 * x[None])
    m = out.maps[0]
    yaw, pitch = grid_angles(*m.shape)
    left = m[:, yaw < 0]
    right = m[:, yaw >= 0]
    ly, lp = _argmax_dir(np.where(yaw[None, :] < 0, m, 0))
    ry, rp = _argmax_dir(np.where(yaw[None, :] >= 0, m, 0))
    assert angular_distance(ly, lp, -60.0, 0.0) < 8.0 and angular_distance(ry, rp, 60.0, 0.0) < 8.0
    assert min(left.max(), right.max()) > 0.2 * max(left.max(), right.max())
    assert m[:, np.abs(yaw) < 10].max() < 0.05 * m.max()  # nothing in between


def _stream(src: AmbisonicLocalizer, track: np.ndarray, fps: float, batch: int = 32):
    """Feed a whole track frame by frame in batches, as the pipeline does; (confidences, maps peak yaw)."""
    times = np.arange(int(track.shape[1] / SR * fps)) / fps
    conf, peak_yaw = [], []
    for s in range(0, len(times), batch):
        ft = times[s : s + batch]
        out = src.process(FrameBatch(np.arange(s, s + len(ft)), ft, audio=_windows(track, ft)))
        conf.append(out.confidence)
        peak_yaw += [_argmax_dir(m)[0] for m in out.maps]
    return times, np.concatenate(conf), np.array(peak_yaw)


@pytest.mark.parametrize("kind", ["tone", "noise", "engine"])
def test_sustained_source_stays_salient_for_a_minute(kind):
    """The defect of issue 10: a sound that keeps going was learnt as background within ~15 s."""
    rng = np.random.default_rng(20)
    t = np.arange(60 * SR) / SR
    sig = {
        "tone": 0.1 * np.sin(2 * np.pi * 440 * t),
        "noise": 0.05 * rng.standard_normal(len(t)),
        "engine": sum(0.05 / k * np.sin(2 * np.pi * 95 * k * t + k) for k in range(1, 12))
        * (1 + 0.3 * np.sin(2 * np.pi * 24 * t)),
    }[kind]
    track = encode_foa(sig, 20.0 * t, 0.0) + 0.01 * diffuse_noise(len(t), rng, n_directions=16)  # circling at 20°/s
    times, conf, peak_yaw = _stream(AmbisonicLocalizer.build(replace(FOA, fps=10.0)), track.astype(np.float32), 10.0)
    inner = (times > 0.2) & (times < 59.8)
    assert conf[inner].min() > 0.5, (kind, np.round(conf[inner][::50], 2))
    err = np.abs((peak_yaw - 20.0 * times + 180) % 360 - 180)[inner]
    assert np.median(err) < 6.0


def test_diffuse_noise_alone_stays_unconfident_for_a_minute():
    rng = np.random.default_rng(21)
    track = (0.05 * diffuse_noise(60 * SR, rng, n_directions=32)).astype(np.float32)
    _, conf, _ = _stream(AmbisonicLocalizer.build(replace(FOA, fps=10.0)), track, 10.0)
    assert conf.max() < 0.05


def test_a_new_onset_wins_attention_over_a_steady_source():
    """A steady hum keeps its confidence, but a new sound of the same level takes the map's peak."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(12)
    n = 16 * SR
    t = np.arange(n) / SR
    low = sosfilt(butter(4, 800, "low", fs=SR, output="sos"), rng.standard_normal(n))
    high = sosfilt(butter(4, 2500, "high", fs=SR, output="sos"), rng.standard_normal(n))
    low, high = 0.05 * low / low.std(), 0.05 * high / high.std() * (t >= 12.0)
    track = encode_foa(low, 90.0, 0.0) + encode_foa(high, -90.0, 0.0) + 0.01 * diffuse_noise(
        n, rng, n_directions=32
    )
    times, conf, peak_yaw = _stream(AmbisonicLocalizer.build(replace(FOA, fps=10.0)), track.astype(np.float32), 10.0)
    assert conf[(times > 0.5) & (times < 15.8)].min() > 0.5
    hum = (times > 1.0) & (times < 12.0)
    assert np.all(np.abs(peak_yaw[hum] - 90.0) < 10.0)
    onset = (times > 12.1) & (times < 13.0)
    assert np.all(np.abs(peak_yaw[onset] + 90.0) < 10.0), peak_yaw[onset]


def test_sustained_source_from_the_first_frame_keeps_confidence():
    rng = np.random.default_rng(13)
    src = AmbisonicLocalizer.build(FOA)
    conf = []
    for k in range(0, 150, 30):
        ft = np.arange(k, k + 30) / 30.0
        conf.append(
            src.process(FrameBatch(np.arange(k, k + 30), ft, audio=_point_source(0, 0, 30, rng))).confidence
        )
    assert np.concatenate(conf).min() > 0.7


def test_odd_window_lengths_nan_and_empty_batches():
    rng = np.random.default_rng(14)
    src = AmbisonicLocalizer.build(FOA, grid=(45, 90))
    audio = _point_source(-30.0, 20.0, 2, rng)[:, :, :4001]
    audio[0, 2, 100] = np.nan
    out = _run(src, audio)
    assert out.maps.shape == (2, 45, 90) and np.all(np.isfinite(out.maps))
    cy, cp, _ = spherical_mean(out.maps[1])
    assert angular_distance(cy, cp, -30.0, 20.0) < 5.0
    empty = src.process(FrameBatch(np.arange(0), np.zeros(0), audio=np.zeros((0, 4, WIN), np.float32)))
    assert empty.maps.shape == (0, 45, 90)


@pytest.mark.parametrize(
    "options",
    [
        {"grid": (64, 100)},
        {"band": (100, 20000)},
        {"audio_window": 5.0},
        {"audio_window": float("nan")},
        {"blob_width": 0},
        {"blob_width": 1e9},
        {"grid": 0},
        {"windw": 0.2},
    ],
)
def test_bad_options_are_user_errors(options):
    with pytest.raises(OptionError, match="localizer 'ambisonic'"):
        AmbisonicLocalizer.build(RunContext(audio_format="ambix"), **options)


def test_needs_foa_audio_from_the_run():
    with pytest.raises(InputError, match="first-order ambisonic"):
        AmbisonicLocalizer.build(RunContext(audio_format="mono"))


def test_prepare_resets_the_running_averages_and_the_frame_rate_comes_from_the_run():
    class Media:
        fps = 25.0

    src = AmbisonicLocalizer.build(replace(FOA, fps=25.0))
    _run(src, _point_source(0, 0, 4, np.random.default_rng(16)) * 0.01)
    assert src._sums is not None and src._diffuse_db is not None
    src.prepare(Media())
    assert src._sums is None and src._diffuse_db is None and src.fps == 25.0


def test_higher_order_ambix_uses_its_first_order_part():
    rng = np.random.default_rng(17)
    foa = _point_source(-60.0, 20.0, 2, rng)
    hoa = np.concatenate([foa, 0.05 * rng.standard_normal((2, 5, WIN))], axis=1)  # ACN 4..8 of 2nd order
    out = _run(AmbisonicLocalizer.build(FOA), hoa)
    cy, cp, _ = spherical_mean(out.maps[0])
    assert angular_distance(cy, cp, -60.0, 20.0) < 5.0


def test_demo_audio_matches_its_truth():
    """The demo script's audio puts the source where its truth file says (2 s of it, no video)."""
    import importlib.util
    from pathlib import Path

    from scipy.signal import resample_poly

    path = Path(__file__).resolve().parents[1] / "examples" / "make_demo.py"
    spec = importlib.util.spec_from_file_location("make_demo", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    audio = demo.make_audio(2.0, np.random.default_rng(demo.SEED))
    assert audio.shape == (4, 2 * demo.AUDIO_RATE) and np.abs(audio).max() <= 1.0
    truth = demo.frame_truth(60)
    track = resample_poly(audio.astype(np.float64), SR, demo.AUDIO_RATE, axis=1)
    ft = np.array([r["t"] for r in truth[6:54]])
    out = _run(AmbisonicLocalizer.build(FOA), _windows(track, ft), t0=0.0)
    for m, r in zip(out.maps, truth[6:54], strict=True):
        cy, cp, _ = spherical_mean(m)
        assert angular_distance(cy, cp, r["yaw"], r["pitch"]) < 5.0


@pytest.mark.parametrize("speed", [30.0, -30.0])
def test_an_orbit_through_a_file_is_read_on_time(tmp_path, speed):
    """A drum-like pulse train orbiting at 30°/s (either way) at pitch +19°, written as an AmbiX MP4 (AAC
    48 kHz) and read back through pass 1's own feed (probe, frame_batches, the centroid): the direction at
    frame t is the source's at t, neither ahead nor behind (a window off the frame's time, or smoothing that
    looks ahead, would show as a lead in both directions), and its elevation is unbiased; the autocam path
    planned on it follows without a lead either."""
    from scipy.signal import resample_poly

    from pano import pipeline
    from pano.localizers.batches import frame_batches
    from pano.localizers.importance import batch_centroids
    from pano.media.probe import probe
    from pano.media.writer import write_video
    from pano.planning.base import Observation, create_planner
    from pano.planning.motion import MotionStyle

    rng = np.random.default_rng(21)
    seconds, fps = 8.0, 30.0
    st = np.arange(int(seconds * SR)) / SR
    hits = np.zeros(len(st))
    for k, start in enumerate(range(0, len(st), SR // 4)):  # 4 hits a second, accented every fourth
        m = min(SR // 8, len(st) - start)
        burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.03 * SR))
        hits[start : start + len(burst)] = burst * (1.0 if k % 4 == 0 else 0.5)
    truth = lambda t: (speed * np.asarray(t, float) - 90.0 + 180.0) % 360.0 - 180.0  # noqa: E731
    foa = encode_foa(hits, truth(st), 19.0) + 0.01 * diffuse_noise(len(st), rng)
    audio = resample_poly(0.8 * foa / np.abs(foa).max(), 2, 1, axis=1).astype(np.float32)
    clip = tmp_path / "orbit.mp4"
    write_video(clip, (np.full((32, 64, 3), 90, np.uint8) for _ in range(int(seconds * fps))), fps,
                audio=(audio, 2 * SR), crf=30, preset="ultrafast")
    info = probe(clip)
    ctx = pipeline.run_context(info, pipeline.RunOptions())
    src = create_localizer("ambisonic", ctx, None)
    planner = create_planner("autocam", ctx, {"subject": "off"})
    times = info.frame_times()
    src.prepare(info)
    yaw, pitch, conf = [], [], []
    for batch in frame_batches(info, src, times):
        out = src.process(batch)
        y, p, r = batch_centroids(out.maps)
        planner.observe(Observation(batch.times, out.maps, y, p, out.confidence * r))
        yaw.append(y), pitch.append(p), conf.append(out.confidence * r)
    yaw, pitch, conf = np.concatenate(yaw), np.concatenate(pitch), np.concatenate(conf)
    keep = (times > 1.0) & (times < seconds - 0.5) & (conf > 0.3)
    assert keep.mean() > 0.6
    err = (yaw - truth(times) + 180.0) % 360.0 - 180.0
    lead = np.sign(speed) * err[keep]
    assert abs(np.median(lead)) < 2.0 and np.percentile(np.abs(err[keep]), 90) < 5.0, (np.median(lead), err[keep])
    assert abs(np.median(pitch[keep] - 19.0)) < 2.0, np.median(pitch[keep])
    path = planner.plan()
    cam = (path.yaw[: len(times)] - truth(times) + 180.0) % 360.0 - 180.0
    # The camera may sit a little ahead of a mover by design (room ahead: MotionStyle.lead of the view),
    # never more, and never behind it by more than its trail.
    style, hfov = MotionStyle(), float(path.hfov[0])
    cam_lead = float(np.median(np.sign(speed) * cam[keep]))
    assert -style.trail * hfov - 0.5 < cam_lead < style.lead * hfov and np.mean(np.abs(cam[keep])) < 5.0, cam[keep]
