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
