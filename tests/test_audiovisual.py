"""The default without ambisonics (``audiovisual``): front-and-horizon prior, motion while sounding,
the stereo pair's lateral cue, and what ``inspect`` says the audio offers; on clips the tests make."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import main
from clips import disk_frame
from pano.media.writer import write_video
from pano.sphere.geometry import grid_angles, in_view

FPS = 30.0
SR = 48000
SIZE = (120, 240)


def _background(seed: int = 0) -> np.ndarray:
    """A still textured panorama (blocks of random grey), so a still camera's codec noise is realistic."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(60, 160, (SIZE[0] // 8, SIZE[1] // 8, 1))
    return np.repeat(np.kron(small, np.ones((8, 8, 1))), 3, axis=2).astype(np.uint8)


def _tone(seconds: float, seed: int = 0, envelope: np.ndarray | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    st = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * 330 * st) + 0.05 * rng.standard_normal(len(st))
    if envelope is not None:
        x = x * envelope[np.minimum((st * FPS).astype(int), len(envelope) - 1)]
    return x.astype(np.float32)


def _diffuse_pair(seconds: float, seed: int) -> np.ndarray:
    """Two ±90° cardioids in a diffuse field (what a reverberant room's tail or wind gives a stereo decode
    of FOA): W and Y independent noises of power 1 and 1/3, left/right = ½(W ± Y)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    w, y = 0.1 * rng.standard_normal(n), 0.1 * rng.standard_normal(n) / np.sqrt(3.0)
    return np.stack([0.5 * (w + y), 0.5 * (w - y)]).astype(np.float32)


def _spaced_pair(x: np.ndarray, yaw: float, spacing: float = 0.03) -> np.ndarray:
    """(2, n) what two omnis ``spacing`` apart on the left-right axis hear of ``x`` from ``yaw`` (far
    field): one level, the near one earlier by spacing·sin/c (a fractional delay, done in frequency)."""
    x = np.asarray(x, np.float64)
    tau = spacing * -np.sin(np.radians(yaw)) / 343.0  # > 0: the source is left, the left channel leads
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    spec = np.fft.rfft(x)
    pair = [np.fft.irfft(spec * np.exp(-2j * np.pi * f * d), len(x)) for d in (-tau / 2, tau / 2)]
    return np.stack(pair).astype(np.float32)


def _run(tmp_path, clip, *extra) -> dict:
    out = tmp_path / "out"
    assert main([str(clip), "-o", str(out), "--no-saliency-video", *extra]) == 0
    return json.loads((out / (clip.stem + ".trajectory.json")).read_text())


def _path(traj: dict, after: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    s = [x for x in traj["samples"] if x["t"] >= after]
    return np.array([x["yaw"] for x in s]), np.array([x["pitch"] for x in s])


def test_weak_synchrony_cue_keeps_the_camera_at_the_front_and_horizon(tmp_path):
    """A still disk high up (pitch 50°, behind-right) flickers a little with a continuous sound: a weak
    cue. The camera stays at the front and the horizon instead of turning to the sky."""
    seconds = 6.0
    n = int(seconds * FPS)
    rng = np.random.default_rng(1)
    env = np.clip(np.convolve(rng.uniform(0, 1, n), np.ones(5) / 5, mode="same"), 0, 1)
    bg = _background(1)
    frames = [disk_frame(*SIZE, 150.0, 50.0, radius=8, color=(int(120 + 6 * e),) * 3, background=bg) for e in env]
    clip = write_video(tmp_path / "weak.mp4", frames, FPS, audio=(_tone(seconds, 1, 0.6 + 0.4 * env)[None], SR))
    traj = _run(tmp_path, clip)
    assert traj["generator"]["localizer"] == "audiovisual"
    yaw, pitch = _path(traj)
    assert np.all(np.abs(yaw) <= 10.0) and np.all(np.abs(pitch) <= 10.0), (yaw.min(), yaw.max(), pitch.max())


def test_a_source_that_moves_while_it_sounds_is_followed_in_mono(tmp_path):
    """A disk circles the camera at 25°/s over a still panorama while a steady engine-like tone plays
    (no rhythm for synchrony to match): the camera follows it."""
    seconds = 7.0
    n = int(seconds * FPS)
    ts = np.arange(n) / FPS
    yaw = ((25.0 * ts + 60.0 + 180.0) % 360.0) - 180.0
    bg = _background(2)
    frames = [disk_frame(*SIZE, float(y), 0.0, radius=10, color=(230, 200, 40), background=bg) for y in yaw]
    clip = write_video(tmp_path / "moving.mp4", frames, FPS, audio=(_tone(seconds, 2)[None], SR))
    traj = _run(tmp_path, clip)
    cam_yaw, cam_pitch = _path(traj)
    inside = in_view(yaw[: len(cam_yaw)], 0.0, cam_yaw, cam_pitch, 65.5, 36.8)
    assert inside[int(1.5 * FPS):].mean() >= 0.6, inside.mean()
    # Without the motion part the same clip leaves the camera at the front: the part is what follows it.
    traj_off = _run(tmp_path, clip, "--overwrite", "--source-option", 'parts=["synchrony"]')
    off_yaw, off_pitch = _path(traj_off)
    assert in_view(yaw[: len(off_yaw)], 0.0, off_yaw, off_pitch, 65.5, 36.8).mean() < 0.5


@pytest.mark.parametrize(("gains", "side"), [((0.9, 0.1), -1), ((0.1, 0.9), 1)])
def test_a_source_panned_in_a_stereo_track_gets_its_side(tmp_path, gains, side):
    """Nothing moves; the sound is panned hard left (or right) in a stereo track: the camera turns to
    that side (yaw −90° is left), which mono could never tell."""
    seconds = 5.0
    n = int(seconds * FPS)
    bg = _background(3)
    frames = [bg] * n
    x = _tone(seconds, 3)
    clip = write_video(tmp_path / "panned.mp4", frames, FPS, audio=(np.stack([gains[0] * x, gains[1] * x]), SR))
    traj = _run(tmp_path, clip)
    assert traj["generator"]["params"]["localizer"]["stereo_used"] is True
    yaw, _pitch = _path(traj, after=2.0)
    assert np.median(side * yaw) > 45.0, np.median(yaw)


def test_dual_mono_is_not_a_side(tmp_path):
    seconds = 4.0
    x = _tone(seconds, 4)
    clip = write_video(tmp_path / "dual.mp4", [_background(4)] * int(seconds * FPS), FPS,
                       audio=(np.stack([x, x]), SR))
    yaw, pitch = _path(_run(tmp_path, clip))
    assert np.all(np.abs(yaw) <= 10.0) and np.all(np.abs(pitch) <= 10.0)


def test_a_mono_run_records_the_prior_options(tmp_path):
    seconds = 3.0
    clip = write_video(tmp_path / "rec.mp4", [_background(5)] * int(seconds * FPS), FPS,
                       audio=(_tone(seconds, 5)[None], SR))
    traj = _run(tmp_path, clip, "--source-option", "prior_strength=0.2")
    params = traj["generator"]["params"]["localizer"]
    assert params["prior_strength"] == 0.2
    assert {"prior_yaw_sigma", "prior_pitch_sigma", "parts"} <= set(params)
    assert "front" in traj["generator"]["params"]["reason"]


def test_inspect_reports_what_the_audio_offers(tmp_path, capsys):
    seconds = 2.0
    x = _tone(seconds, 6)
    frames = [_background(6)] * int(seconds * FPS)
    stereo = write_video(tmp_path / "st.mp4", frames, FPS, audio=(np.stack([0.9 * x, 0.2 * x]), SR))
    dual = write_video(tmp_path / "dm.mp4", frames, FPS, audio=(np.stack([x, x]), SR))
    mono = write_video(tmp_path / "mo.mp4", frames, FPS, audio=(x[None], SR))
    diffuse = write_video(tmp_path / "df.mp4", frames, FPS, audio=(_diffuse_pair(seconds, 6), SR))
    spaced = write_video(tmp_path / "sp.mp4", frames, FPS, audio=(_spaced_pair(x, 80.0), SR))
    found = {}
    for clip in (stereo, dual, mono, diffuse, spaced):
        assert main(["inspect", str(clip)]) == 0
        out = capsys.readouterr().out
        found[clip.stem] = next(line for line in out.splitlines() if line.startswith("direction "))
        assert main(["inspect", "--json", str(clip)]) == 0
        found[clip.stem + ".kind"] = json.loads(capsys.readouterr().out)["direction_cues"]["kind"]
    assert "usable lateral cues" in found["st"] and "left" in found["st"] and found["st.kind"] == "stereo"
    assert "dual mono" in found["dm"] and found["dm.kind"] == "dual-mono"
    assert "mono: no direction" in found["mo"] and found["mo.kind"] == "mono"
    # Two channels that differ but place nothing (a diffuse field): not "usable lateral cues".
    assert "without a usable lateral cue" in found["df"] and found["df.kind"] == "stereo-no-cue"
    # A spaced pair has no level difference, and the default reads no time difference: runs are mono.
    assert found["sp.kind"] == "stereo-no-cue", found["sp"]


def test_prior_is_a_distribution_peaked_at_the_front():
    from pano.localizers.prior import blend_prior, front_prior
    from pano.sphere.geometry import area_weights

    p = front_prior(32, 64, 30.0, 15.0)
    assert abs(float((p * area_weights(32)).sum()) - 1.0) < 1e-5
    yaw, pitch = grid_angles(32, 64)
    r, c = np.unravel_index(p.argmax(), p.shape)
    assert abs(yaw[c]) < 6 and abs(pitch[r]) < 6
    # Confident, concentrated evidence keeps its place; none at all leaves only the prior.
    ev = np.zeros((2, 32, 64), np.float32)
    ev[:, 8, 50] = 1.0
    maps, conf = blend_prior(ev, np.array([1.0, 0.0]), 0.5, 30.0, 15.0)
    assert np.unravel_index(maps[0].argmax(), p.shape) == (8, 50)
    assert np.unravel_index(maps[1].argmax(), p.shape) == (r, c) and conf[1] == pytest.approx(0.5)


@pytest.mark.parametrize("kind", ["identical", "incoherent", "diffuse"])
def test_a_stereo_track_without_a_usable_lateral_cue_gives_the_mono_path(tmp_path, kind):
    """A disk circles the camera while a steady sound plays; the stereo track carries no usable side
    (both channels one signal, two independent signals of one level, or a diffuse field): the camera
    path is the one the same clip gives with its mono downmix: it follows the mover, and the pair's
    noise around "centre" neither holds it to the median plane nor swings it to a side."""
    seconds = 7.0
    n = int(seconds * FPS)
    ts = np.arange(n) / FPS
    yaw = ((25.0 * ts + 60.0 + 180.0) % 360.0) - 180.0
    bg = _background(7)
    frames = [disk_frame(*SIZE, float(y), 0.0, radius=10, color=(230, 200, 40), background=bg) for y in yaw]
    if kind == "identical":
        x = _tone(seconds, 7)
        pair = np.stack([x, x])
    elif kind == "incoherent":
        pair = np.stack([_tone(seconds, 8), _tone(seconds, 9)])
    else:
        pair = _diffuse_pair(seconds, 10)
    stereo = write_video(tmp_path / "pair.mp4", frames, FPS, audio=(pair, SR))
    mono = write_video(tmp_path / "down.mp4", frames, FPS, audio=(pair.mean(axis=0, keepdims=True), SR))
    traj_st = _run(tmp_path, stereo)
    assert traj_st["generator"]["params"]["localizer"]["stereo_used"] is True
    st_yaw, st_pitch = _path(traj_st)
    mo_yaw, mo_pitch = _path(_run(tmp_path, mono, "--overwrite"))
    inside = in_view(yaw[: len(mo_yaw)], 0.0, mo_yaw, mo_pitch, 65.5, 36.8)
    assert inside[int(1.5 * FPS):].mean() >= 0.6, inside.mean()  # mono follows the mover
    # The same map, frame by frame; what is left is the audio codec's stereo-vs-mono coding moving the
    # loudness a little, which shifts a planned pan by a few degrees at most — except that a pan towards
    # the mover late in the clip (the new-motion rule lets it count only after motion_delay) may start
    # a few frames apart, so the last seconds may differ by a pan's few frames of travel (≤ 15°).
    dy = np.abs((st_yaw - mo_yaw + 180.0) % 360.0 - 180.0)
    dp = np.abs(st_pitch - mo_pitch)
    print(kind, "yaw diff median/max", np.median(dy), dy.max(), "pitch max", dp.max())
    early = dy[: int(4.5 * FPS)]
    assert np.median(dy) <= 1.0 and early.max() <= 6.0 and dy.max() <= 15.0 and dp.max() <= 3.0, (
        np.median(dy), early.max(), dy.max(), dp.max())


def test_a_panned_source_combines_with_the_picture_to_choose_front_or_back(tmp_path):
    """The pair places a steady sound at the side-back (yaw 120°, panned as two ±90° cardioids); a disk
    there pulses with it, and the front is empty: the camera goes to the disk, not to the front-side
    point of the cone (yaw 60°) the prior alone would choose."""
    seconds = 6.0
    n = int(seconds * FPS)
    rng = np.random.default_rng(11)
    env = np.zeros(n)
    i, on = 0, True
    while i < n:
        k = int(rng.integers(6, 20))
        env[i:i + k] = 1.0 if on else 0.3
        i, on = i + k, not on
    bg = _background(11)
    frames = [disk_frame(*SIZE, 120.0, 0.0, radius=10, color=(int(60 + 180 * e),) * 3, background=bg) for e in env]
    x = _tone(seconds, 11, env)
    s = -np.sin(np.radians(120.0))  # the left component of yaw 120° (right-back)
    clip = write_video(tmp_path / "back.mp4", frames, FPS, audio=(np.stack([0.5 * (1 + s) * x, 0.5 * (1 - s) * x]), SR))
    yaw, _pitch = _path(_run(tmp_path, clip), after=3.0)
    assert np.median(np.abs(((yaw - 120.0) + 180.0) % 360.0 - 180.0)) <= 25.0, np.median(yaw)


@pytest.mark.parametrize(("yaw", "side"), [(-80.0, -1), (70.0, 1)])
def test_a_source_beside_a_spaced_pair_gets_its_side(tmp_path, yaw, side):
    """Two omnis 3 cm apart (a camera's stereo microphones): a source at the side reaches them at one
    level, the near one ~80 µs first. Nothing moves in the picture; told the spacing, the camera turns
    to that side from the arrival-time difference alone."""
    seconds = 5.0
    clip = write_video(tmp_path / "spaced.mp4", [_background(12)] * int(seconds * FPS), FPS,
                       audio=(_spaced_pair(_tone(seconds, 12), yaw), SR))
    yaw_path, _pitch = _path(_run(tmp_path, clip, "--source-option", "mic_spacing=0.03"), after=2.0)
    assert np.median(side * yaw_path) > 40.0, np.median(yaw_path)
    # Read as level difference only (mic_spacing=0, the default), the same pair does not reach the side:
    # the camera stays near the front (the codec leaves a trace of level difference).
    still, _ = _path(_run(tmp_path, clip, "--overwrite"))
    assert np.all(np.abs(still) <= 20.0), (still.min(), still.max())
