"""Timing that used to go silently wrong (issue 14): streams that start late, variable frame rate,
truncated files, trajectories that do not match the video, paths of different clips compared."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from test_hostile_inputs import listing, one_error_line, pano, run_cli

from clips import foa_clip, timed_clip
from pano.media.video import every_seconds, iter_frames
from pano.media.video import read_frame_times as frame_times
from pano.paths.trajectory import Trajectory
from pano.sphere.ambisonics import encode_foa

SR = 48000


def foa_track(seconds: float, yaw: float = 90.0, sounding_from: float = 0.0, seed: int = 0) -> np.ndarray:
    """AmbiX FOA: a tone from ``yaw`` starting at ``sounding_from`` seconds, over faint noise."""
    st = np.arange(int(seconds * SR)) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * st) * (st >= sounding_from)
    noise = 0.01 * np.random.default_rng(seed).standard_normal((4, len(st)))
    return (encode_foa(tone, np.full_like(st, yaw), np.zeros_like(st)) + noise).astype(np.float32)


def stream_times(path: Path) -> np.ndarray:
    """Each decoded video frame's presentation time in seconds."""
    return np.array([t for _, t, _ in iter_frames(path, size=(8, 16))])


# ----------------------------------------------------------------- 7: a stream that starts late
def test_late_video_start_keeps_picture_sound_and_path_in_step(tmp_path, capsys):
    # Video from 1 s to 4 s (as made by ffmpeg -itsoffset 1), sound from 0 s; the source starts at 2 s.
    clip = timed_clip(tmp_path / "late.mp4", 1.0 + np.arange(90) / 30, audio=foa_track(4.0, sounding_from=2.0),
                      audio_layout="quad")
    out = tmp_path / "out"
    code, _ = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36", "--planner", "centroid")
    assert code == 0
    samples = json.loads((out / "late.trajectory.json").read_text())["samples"]
    assert samples[0]["t"] == pytest.approx(1.0) and samples[-1]["t"] == pytest.approx(1.0 + 89 / 30, abs=1e-4)
    confidence = np.array([s["confidence"] for s in samples])
    onset = int(np.argmax(confidence > 0.5))
    assert abs(onset - 30) <= 3  # frame 30 is shown at 2.0 s, when the sound begins (it was frame 60)
    assert samples[onset]["t"] == pytest.approx(2.0, abs=0.1)
    # the NFOV video keeps the picture's times, so it stays in step with its (copied) sound
    np.testing.assert_allclose(stream_times(out / "late.nfov.mp4"), frame_times(clip), atol=1e-3)
    with av.open(str(out / "late.nfov.mp4")) as c:
        assert float(c.streams.audio[0].start_time * c.streams.audio[0].time_base) == pytest.approx(0.0, abs=0.03)


# ------------------------------------------------------------------- 8: variable frame rate
def test_variable_frame_rate_output_keeps_every_frame_time(tmp_path, capsys):
    times = np.concatenate([np.arange(24) / 24, 1.0 + np.arange(30) / 30])  # 24 fps, then 30 fps
    clip = timed_clip(tmp_path / "vfr.mp4", times, audio=foa_track(2.0), audio_layout="quad")
    out = tmp_path / "out"
    code, _ = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36")
    assert code == 0
    t_json = np.array([s["t"] for s in json.loads((out / "vfr.trajectory.json").read_text())["samples"]])
    np.testing.assert_allclose(t_json, times, atol=1e-4)
    np.testing.assert_allclose(stream_times(out / "vfr.nfov.mp4"), times, atol=1e-3)
    # the saliency video (a diagnostic, at most 15 fps) shows the first frame at least 1/15 s after the last
    np.testing.assert_allclose(stream_times(out / "vfr.saliency.mp4"), times[every_seconds(times, 1 / 15)],
                               atol=1e-3)


# ----------------------------------------------------------------------- 9: truncated file
@pytest.mark.parametrize("decoder_threads", [None, "1", "2"])  # a plain run; batch jobs' thread budgets
def test_truncated_file_is_processed_with_a_warning(tmp_path, capsys, monkeypatch, decoder_threads):
    if decoder_threads:  # with 1–2 frame threads the half packet's error surfaces while decoding
        monkeypatch.setenv("PANO_PAN_THREADS", decoder_threads)
    else:
        monkeypatch.delenv("PANO_PAN_THREADS", raising=False)
    whole = foa_clip(tmp_path / "whole.mp4", seconds=4.0, size=(120, 240))  # moov at the front
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "out"
    code, err = pano(capsys, "run", cut, "-o", out, "--size", "64x36")
    assert code == 0, err
    warnings = [line for line in err if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "cut.mp4 ends early" in warnings[0] and "of the 120 frames" in warnings[0]
    processed = int(warnings[0].split("processed ")[1].split()[0])
    assert 0 < processed < 120
    samples = json.loads((out / "cut.trajectory.json").read_text())["samples"]
    assert len(samples) == processed
    assert listing(out) == ["cut.nfov.mp4", "cut.saliency.mp4", "cut.trajectory.json"]


# ------------------------------------------------- 12: render matches samples to frames by time
@pytest.fixture(scope="module")
def clip4(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("c4") / "clip.mp4", seconds=4.0, size=(120, 240))


def turning(n: int, fps: float = 30.0) -> Trajectory:
    t = np.arange(n) / fps
    return Trajectory(t=t, yaw=np.linspace(-150, 150, n), pitch=np.zeros(n), hfov=65.5, vfov=39.8,
                      generator={"name": "pano-pan"})


def test_render_refuses_a_path_that_stops_early(tmp_path, clip4, capsys):
    turning(30).save(tmp_path / "short.json")  # 1 s of path for a 4 s video
    code, err = pano(capsys, "render", clip4, tmp_path / "short.json", "-o", tmp_path / "v.mp4", "-q")
    assert code == 2
    one_error_line(err, "short.json", "covers 0.00–0.97 s", "runs 0.00–3.97 s")
    assert listing(tmp_path) == ["short.json"]


def test_render_uses_samples_by_time_whatever_their_order(tmp_path, clip4, capsys):
    good = turning(120)
    good.save(tmp_path / "good.json")
    reverse = np.arange(119, -1, -1)
    Trajectory(t=good.t[reverse], yaw=good.yaw[reverse], pitch=good.pitch[reverse], hfov=65.5, vfov=39.8,
               frame=good.frame[reverse]).save(tmp_path / "reversed.json")
    long = turning(300)  # 10 s of path: the first 4 s are this video's
    long.save(tmp_path / "long.json")
    assert pano(capsys, "render", clip4, tmp_path / "good.json", "-o", tmp_path / "good.mp4", "--size", "64x36")[0] == 0
    code, err = pano(capsys, "render", clip4, tmp_path / "reversed.json", "-o", tmp_path / "rev.mp4", "--size", "64x36")
    assert code == 0 and any("not in time order" in line for line in err), err
    code, err = pano(capsys, "render", clip4, tmp_path / "long.json", "-o", tmp_path / "long.mp4", "--size", "64x36")
    assert code == 0 and any("beyond the video" in line for line in err), err

    def frames(name):
        return np.stack([rgb.astype(float) for _, _, rgb in iter_frames(tmp_path / name)])

    reference = frames("good.mp4")
    assert np.abs(frames("rev.mp4") - reference).mean() < 2.0  # the same views, in time order
    far = frames("long.mp4")  # its sample at t is another yaw: a different (slower) turn
    assert np.abs(far - reference).mean() > 5.0
    assert np.abs(far[0] - reference[0]).mean() < 2.0  # ... that starts at the same view


# ------------------------------------------------------- 13: compare aligns by time
def moving(fps: float, seconds: float = 4.0, source_fps: float | None = None) -> Trajectory:
    t = np.arange(int(seconds * fps)) / fps
    source = {"fps": source_fps, "duration": seconds} if source_fps else {}
    return Trajectory(t=t, yaw=60.0 * t - 120, pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8, source=source,
                      generator={"name": "pano-pan"})


def test_compare_matches_samples_by_time(tmp_path, capsys):
    moving(30.0).save(tmp_path / "path.json")
    moving(15.0).save(tmp_path / "ref.json")  # the same motion, sampled every other frame
    code, out, _ = run_cli(capsys, "compare", tmp_path / "path.json", tmp_path / "ref.json", "--json")
    assert code == 0
    scores = json.loads(out)["references"][0]
    assert scores["cosine"] == pytest.approx(1.0, abs=1e-6) and scores["frames"] == 60


def test_compare_refuses_paths_of_different_clips_unless_forced(tmp_path, capsys):
    moving(30.0, source_fps=30.0).save(tmp_path / "a.json")
    moving(25.0, source_fps=25.0).save(tmp_path / "b.json")
    code, err = pano(capsys, "compare", tmp_path / "a.json", tmp_path / "b.json")
    assert code == 2
    one_error_line(err, "b.json", "30 fps vs 25 fps", "--force")
    code, err = pano(capsys, "compare", tmp_path / "a.json", tmp_path / "b.json", "--force")
    assert code == 0, err


def test_file_cut_inside_an_audio_packet_ends_early_but_damage_inside_still_fails(tmp_path, capsys):
    """A download cut off mid-packet leaves half an AAC packet at the end, which the decoder refuses: that is
    the file ending early (one warning, the frames before it kept), while a garbled packet with more after
    it is still damage, reported in one line."""
    from common.audio_io import read_audio
    from common.errors import UserError

    whole = foa_clip(tmp_path / "whole.mp4", seconds=4.0, size=(120, 240))
    data = whole.read_bytes()
    with av.open(str(whole)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.audio[0]) if p.size]
    pos, size = packets[len(packets) // 2]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: pos + size // 2])
    assert read_audio(cut, 48000, 4).shape[1] > 48000 * 1.5
    out = tmp_path / "out"
    code, err = pano(capsys, "run", cut, "-o", out, "--size", "64x36")
    assert code == 0, err
    warnings = [line for line in err if line.startswith("warning:")]
    assert len(warnings) == 1 and "cut.mp4 ends early" in warnings[0], err
    garbled = bytearray(data)
    for p, n in packets[len(packets) // 3 : len(packets) // 3 + 3]:
        garbled[p : p + n] = b"\xff" * n
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(garbled))
    with pytest.raises(UserError, match="bad.mp4: the audio stream is damaged"):
        read_audio(bad, 48000, 4)
