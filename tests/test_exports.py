"""Exports: CSV ⇄ JSON agree, the ffmpeg sendcmd script parses (and renders when ffmpeg is here)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from common.errors import InputError, OptionError
from pano.paths.ffmpeg import ffmpeg_filter_escape, write_ffmpeg
from pano.paths.plot import write_plot
from pano.paths.trajectory import Trajectory, read_csv, write_csv
from pano.sphere.views import output_geometry


def make_traj(n=90, fps=30.0, zoom=False):
    t = np.arange(n) / fps
    yaw = ((150 + 40 * t + 180) % 360) - 180  # crosses the seam
    pitch = 10 * np.sin(t)
    hfov = 65.5 + (5 * np.sin(t) if zoom else 0)
    return Trajectory(
        t=t,
        yaw=yaw,
        pitch=pitch,
        hfov=hfov,
        vfov=39.8,
        confidence=np.linspace(0, 1, n),
        source={"path": "in.mp4", "fps": fps, "frame_count": n},
        generator={"name": "pano-pan", "planner": "autocam"},
    )


def test_csv_round_trip_matches_json(tmp_path):
    traj = make_traj()
    traj.cut[[30, 61]] = True
    traj.save(tmp_path / "a.json")
    write_csv(traj, tmp_path / "a.csv")
    from_json = Trajectory.load(tmp_path / "a.json")
    from_csv = read_csv(tmp_path / "a.csv")
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "frame,t,yaw,pitch,roll,hfov,vfov,confidence,cut"
    assert np.nonzero(from_json.cut)[0].tolist() == [30, 61]
    for k in ("frame", "t", "yaw", "pitch", "roll", "hfov", "vfov", "confidence", "cut"):
        np.testing.assert_array_equal(getattr(from_csv, k), getattr(from_json, k), err_msg=k)
    assert not list(tmp_path.glob(".*part*"))  # atomic: no temporaries left


def test_read_csv_errors(tmp_path):
    with pytest.raises(InputError, match="no such"):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="t, yaw and pitch"):
        read_csv(tmp_path / "bad.csv")
    (tmp_path / "nan.csv").write_text("t,yaw,pitch\n0,nan,0\n")
    with pytest.raises(InputError, match="non-finite"):
        read_csv(tmp_path / "nan.csv")
    (tmp_path / "min.csv").write_text("t,yaw,pitch\n0,10,5\n0.04,11,5\n")
    tr = read_csv(tmp_path / "min.csv")
    assert tr.yaw.tolist() == [10, 11] and tr.hfov.tolist() == [65.5, 65.5]


CMD = re.compile(r"^(\d+\.\d+) (.+);$")


def parse_sendcmd(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = CMD.match(line)
        assert m, line
        cmds = {}
        for part in m.group(2).split(", "):
            target, name, value = part.split(" ")
            assert target == "v360"
            cmds[name] = float(value)
        out.append((float(m.group(1)), cmds))
    return out


@pytest.mark.parametrize("zoom", [False, True])
def test_sendcmd_script_parses(tmp_path, zoom):
    traj = make_traj(zoom=zoom)
    paths = write_ffmpeg(traj, tmp_path / "clip", "in put.mp4")
    entries = parse_sendcmd(paths["sendcmd"].read_text())
    times = [t for t, _ in entries]
    assert times == sorted(times) and times[0] == 0.0
    assert len(entries) == len(traj)  # every frame moves here
    for i, (t, cmds) in enumerate(entries):
        assert traj.t[i] - 1 / 30 < t <= traj.t[i]
        assert cmds["yaw"] == pytest.approx(traj.yaw[i], abs=1e-3)
        assert cmds["pitch"] == pytest.approx(traj.pitch[i], abs=1e-3)
        assert ("h_fov" in cmds) == zoom
    script = paths["script"].read_text()
    assert script.startswith("#!/bin/sh")
    assert "v360=e:flat:" in script and "reset_rot=1" in script
    assert shlex.quote(os.path.abspath("in put.mp4")) in script  # absolute: the script runs from anywhere
    w, h = output_geometry(int(traj.source.get("width") or 3840), 65.5, 39.8).size
    assert f":w={w}:h={h}:" in script


def test_sendcmd_skips_still_frames(tmp_path):
    traj = Trajectory(
        t=np.arange(60) / 30, yaw=np.r_[np.zeros(30), np.full(30, 10.0)], pitch=np.zeros(60), hfov=60, vfov=40
    )
    entries = parse_sendcmd(write_ffmpeg(traj, tmp_path / "still", "x.mp4")["sendcmd"].read_text())
    assert len(entries) == 2 and entries[1][1]["yaw"] == 10


def test_filter_escape():
    assert ffmpeg_filter_escape("/a/b.txt") == "/a/b.txt"
    assert ffmpeg_filter_escape("C:/x,y") == "C\\\\:/x\\,y"  # both filtergraph escaping levels


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")
def test_ffmpeg_renders_the_path(tmp_path):
    """Stock ffmpeg follows the script: a red spot at (90°, 30°), then a green one at (−90°, 0°)."""
    w, h = 256, 128
    img = np.full((h, w, 3), 60, np.uint8)

    def px(yaw, pitch):
        return int((yaw / 360 + 0.5) * w - 0.5), int((0.5 - pitch / 180) * h - 0.5)

    cv2.circle(img, px(90, 30), 6, (0, 0, 255), -1)
    cv2.circle(img, px(-90, 0), 6, (0, 255, 0), -1)
    tmp_path = tmp_path / "odd, dir: [x]'s"  # every filtergraph-special character in the path
    tmp_path.mkdir()
    cv2.imwrite(str(tmp_path / "eq.png"), img)
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-loop",
            "1",
            "-i",
            str(tmp_path / "eq.png"),
            "-t",
            "1",
            "-r",
            "10",
            "-pix_fmt",
            "yuv420p",
            str(tmp_path / "eq.mp4"),
        ],
        check=True,
    )
    n = 10
    yaw = np.where(np.arange(n) < 5, 90.0, -90.0)
    pitch = np.where(np.arange(n) < 5, 30.0, 0.0)
    traj = Trajectory(t=np.arange(n) / 10, yaw=yaw, pitch=pitch, hfov=60, vfov=40, source={"fps": 10.0},
                      cut=np.arange(n) == 5)
    paths = write_ffmpeg(traj, tmp_path / "out", str(tmp_path / "eq.mp4"), size=(160, 100))
    lines = paths["sendcmd"].read_text().splitlines()
    at = lines.index("# cut: a new shot at frame 5")
    assert lines[at + 1].startswith("0.450000 v360 yaw -90.000")  # the jump, in one command
    subprocess.run(["sh", str(paths["script"]), "-y", "-loglevel", "error"], check=True, timeout=60)
    import av

    with av.open(str(tmp_path / "out.ffmpeg.mp4")) as c:
        centres = [f.to_ndarray(format="bgr24")[50, 80].astype(int) for f in c.decode(video=0)]
    assert len(centres) == n
    assert all(c[2] > 200 and c[1] < 60 for c in centres[:5])
    assert all(c[1] > 200 and c[2] < 60 for c in centres[5:])


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")
def test_the_ffmpeg_script_of_a_segment_renders_that_segment(tmp_path):
    from clips import foa_clip
    from pano.pipeline import RunOptions, run

    clip = foa_clip(tmp_path / "c.mp4", seconds=3.0, size=(60, 120))
    result = run(clip, tmp_path / "o", RunOptions(start=1.0, end=2.0, exports=("ffmpeg",), saliency_video=False,
                                                  size=(160, 90)))
    sendcmd = (tmp_path / "o" / "c.sendcmd.txt").read_text().splitlines()
    first = next(line for line in sendcmd if not line.startswith("#"))
    assert first.startswith("0.000000 v360 yaw")  # counted from the segment's start, as the output is
    script = (tmp_path / "o" / "c.ffmpeg.sh").read_text()
    assert "-ss 1.000000 -to 2.000000 -i" in script
    subprocess.run(["sh", str(tmp_path / "o" / "c.ffmpeg.sh"), "-y", "-loglevel", "error"], check=True, timeout=60)
    import av

    with av.open(str(tmp_path / "o" / "c.ffmpeg.mp4")) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert abs(frames - result.frames) <= 1 and result.frames == 30


def test_plot_png(tmp_path):
    traj = make_traj()
    strip = np.random.default_rng(0).random((len(traj), 36))
    out = write_plot(tmp_path / "p.png", strip, traj)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] == 1200
    write_plot(tmp_path / "q.png", strip.T, traj)  # (W_yaw, N) accepted too
    write_plot(tmp_path / "r.png", None, traj)
    with pytest.raises(OptionError, match="frames"):
        write_plot(tmp_path / "s.png", strip[:10], traj)


def test_thin_views_holds_a_view_within_the_tolerance_and_starts_one_at_every_cut():
    from pano.paths.ffmpeg import thin_views

    n = 120
    yaw = np.r_[np.full(40, 10.0) + 0.01 * np.sin(np.arange(40)), 10 + 0.1 * np.arange(40), np.full(40, 179.9)]
    yaw[80:] += 0.2 * np.arange(40)  # crossing the ±180° seam slowly
    yaw = (yaw + 180) % 360 - 180
    values = np.stack([yaw, np.zeros(n), np.zeros(n)], axis=1)
    cuts = np.zeros(n, bool)
    cuts[80] = True
    segments = thin_views(values, cuts, 0.25)
    starts = [s for s, _ in segments]
    assert 80 in starts and len(segments) <= 1 + 4 / 0.5 + 1 + 8 / 0.5 + 1  # still, 4° ramp, cut, 8° ramp
    shown = np.empty_like(values)
    for k, (s, view) in enumerate(segments):
        shown[s : starts[k + 1] if k + 1 < len(starts) else n] = view
    diff = (shown[:, 0] - values[:, 0] + 180) % 360 - 180
    assert np.abs(diff).max() <= 0.25 + 1e-9
    assert len(thin_views(values, cuts, 0.0)) == 1 + np.count_nonzero(np.diff(values[:, 0]))  # 0: every change


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")
def test_the_thinned_script_renders_the_views_of_the_exact_one_within_its_tolerance(tmp_path):
    """A slow pan, a still shot with tiny jitter, a cut: the default script (±0.25°; yaw as a sliding
    window over the panorama, no v360 command) sends v360 a fraction of the commands of a
    command-per-frame script, and each frame it renders is the exact script's frame shifted by at most
    the tolerance (measured by phase correlation, in pixels of the view)."""
    import av

    from pano.media.writer import write_video
    from pano.paths.ffmpeg import TOLERANCE

    rng = np.random.default_rng(1)
    w, h = 1024, 512  # a panorama pixel is 0.35°: yaw turns it in pixels (±0.18°), not by v360 commands
    pano = cv2.resize(rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    n, fps = 60, 20
    write_video(tmp_path / "eq.mp4", [pano] * n, fps)
    yaw = np.r_[20 + 0.15 * np.arange(30), np.full(30, -60.0) + 0.02 * rng.standard_normal(30)]
    cut = np.arange(n) == 30
    traj = Trajectory(t=np.arange(n) / fps, yaw=yaw, pitch=np.full(n, 5.0), hfov=60, vfov=40,
                      source={"fps": float(fps), "width": w, "height": h}, cut=cut)
    size = (192, 128)
    exact = write_ffmpeg(traj, tmp_path / "exact", str(tmp_path / "eq.mp4"), size=size, tolerance=0.0)
    thin = write_ffmpeg(traj, tmp_path / "thin", str(tmp_path / "eq.mp4"), size=size)
    n_exact = len(parse_sendcmd(exact["sendcmd"].read_text()))
    v360_thin = sum(line.count("v360 ") > 0 for line in thin["sendcmd"].read_text().splitlines()
                    if not line.startswith("#"))
    assert n_exact >= n - 5 and v360_thin <= 3  # the start, the cut, and at most one more
    assert "crop=w=iw/2" in thin["script"].read_text()
    assert f"within {TOLERANCE:g} degrees" in thin["script"].read_text()
    for p in (exact, thin):
        subprocess.run(["sh", str(p["script"]), "-y", "-loglevel", "error", "-an"], check=True, timeout=120)

    def frames(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="gray").astype(np.float32) for f in c.decode(video=0)]

    a, b = frames(tmp_path / "exact.ffmpeg.mp4"), frames(tmp_path / "thin.ffmpeg.mp4")
    assert len(a) == len(b) == n
    px_per_degree = size[0] / 60
    window = cv2.createHanningWindow(a[0].shape[::-1], cv2.CV_32F)
    shifts = [np.hypot(*cv2.phaseCorrelate(x, y, window)[0]) for x, y in zip(a, b, strict=True)]
    assert max(shifts) <= TOLERANCE * np.sqrt(2) * px_per_degree + 0.5, max(shifts)
    assert np.mean(shifts) > 0.05  # the thinned views do differ a little: the comparison can see it
