"""compare metrics on hand-computed cases, and the ``compare`` / ``render`` commands via CliRunner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from common.errors import InputError
from pano.paths.compare import angular_velocity, compare, format_table, view_overlap, view_solid_angle
from pano.paths.trajectory import Trajectory


def path(yaw, pitch=0.0, n=30, fps=30.0, hfov=65.5, vfov=39.8, frame0=0):
    t = (frame0 + np.arange(n)) / fps  # samples are matched by time, so frame numbers and times agree
    yaw = np.broadcast_to(np.asarray(yaw, float), (n,)).copy()
    pitch = np.broadcast_to(np.asarray(pitch, float), (n,)).copy()
    return Trajectory(t=t, yaw=yaw, pitch=pitch, hfov=hfov, vfov=vfov, frame=np.arange(frame0, frame0 + n))


def test_identical_paths_score_perfectly():
    a = path(((np.linspace(170, 200, 30) + 180) % 360) - 180, 10)  # crosses the seam
    r = compare(a, [a])["references"][0]
    assert r["cosine"] == pytest.approx(1.0)
    assert r["overlap"] == pytest.approx(1.0)
    assert r["velocity_diff"] == pytest.approx(0.0, abs=1e-9)
    assert r["inside"] == 1.0 and r["frames"] == 30


def test_opposite_and_perpendicular():
    r = compare(path(0.0), [path(-180.0)])["references"][0]
    assert r["cosine"] == pytest.approx(-1.0) and r["overlap"] == 0.0 and r["inside"] == 0.0
    r = compare(path(0.0), [path(90.0)])["references"][0]
    assert r["cosine"] == pytest.approx(0.0, abs=1e-12) and r["overlap"] == 0.0
    # 30° up: cos 30°, reference (pitch 30) outside a 39.8°-tall view centred on the horizon
    r = compare(path(0.0), [path(0.0, 30.0)])["references"][0]
    assert r["cosine"] == pytest.approx(np.cos(np.radians(30)))
    assert r["inside"] == 0.0


def test_overlap_small_views_offset_by_half():
    """Two 10°×10° views 5° apart in yaw: nearly planar, so IoU ≈ (5·10)/(15·10) = 1/3."""
    iou = view_overlap(np.zeros(1), np.zeros(1), 10, 10, np.full(1, 5.0), np.zeros(1), 10, 10)
    assert iou[0] == pytest.approx(1 / 3, abs=0.01)
    # across the seam it is the same
    iou = view_overlap(np.full(1, 177.5), np.zeros(1), 10, 10, np.full(1, -177.5), np.zeros(1), 10, 10)
    assert iou[0] == pytest.approx(1 / 3, abs=0.01)
    # a view inside a bigger one: IoU = small area / big area
    iou = view_overlap(np.zeros(1), np.zeros(1), 20, 20, np.zeros(1), np.zeros(1), 60, 60)
    assert iou[0] == pytest.approx(view_solid_angle(20, 20) / view_solid_angle(60, 60), rel=0.02)


def test_velocity_difference():
    moving = path(np.arange(30) * (10 / 30.0))  # 10°/s to the right
    r = compare(moving, [path(0.0)])["references"][0]
    assert r["velocity_diff"] == pytest.approx(10.0)
    # at pitch 60 the same yaw rate is half the angular speed
    v = angular_velocity(np.arange(30) * (10 / 30.0), np.full(30, 60.0), np.arange(30) / 30)
    assert v[5, 0] == pytest.approx(5.0) and v[5, 1] == 0
    # the seam is not a jump
    v = angular_velocity(np.array([179.0, -179.0]), np.zeros(2), np.array([0.0, 1.0]))
    assert v[1, 0] == pytest.approx(2.0)


def test_multiple_references_and_alignment():
    a = path(0.0, n=40)
    refs = [path(0.0, n=30), path(30.0, n=30, frame0=10)]  # second one covers frames 10..39
    res = compare(a, refs, names=["same", "off"])
    assert res["references"][0]["frames"] == 30 and res["references"][1]["frames"] == 30
    assert res["best"]["frames"] == 20  # frames both references have
    assert res["best"]["cosine"] == pytest.approx(1.0)
    assert res["mean"]["cosine"] == pytest.approx((1 + np.cos(np.radians(30))) / 2)
    assert "best per frame" in format_table(res)
    with pytest.raises(InputError, match="no frame"):
        compare(a, [path(0.0, n=5, frame0=100)])


def test_compare_command(tmp_path):
    from cli.compare import compare as compare_cmd

    path(0.0).save(tmp_path / "a.json")
    path(90.0).save(tmp_path / "b.json")
    path(0.0).save(tmp_path / "c.json")
    runner = CliRunner()
    res = runner.invoke(
        compare_cmd, [str(tmp_path / "a.json"), str(tmp_path / "b.json"), str(tmp_path / "c.json")]
    )
    assert res.exit_code == 0, res.output
    assert "cosine" in res.output and "mean" in res.output
    res = runner.invoke(compare_cmd, [str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["references"][0]["cosine"] == pytest.approx(0.0, abs=1e-9)
    res = runner.invoke(compare_cmd, [str(tmp_path / "a.json")])
    assert res.exit_code != 0  # a reference is required
    res = runner.invoke(compare_cmd, [str(tmp_path / "a.json"), str(tmp_path / "missing.json")])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)


def test_render_command(tmp_path):
    import av

    from cli.render import render as render_cmd

    w, h, n = 128, 64, 6
    src = tmp_path / "in.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for _ in range(n):
            img = np.full((h, w, 3), 40, np.uint8)
            img[:, 3 * w // 4 - 4 : 3 * w // 4 + 4] = (255, 0, 0)  # red stripe at yaw +90
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    traj = Trajectory(t=np.arange(n) / 10, yaw=np.full(n, 90.0), pitch=np.zeros(n), hfov=60, vfov=40)
    traj.save(tmp_path / "t.json")
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(
        render_cmd, [str(src), str(tmp_path / "t.json"), "-o", str(out), "--size", "64x40", "-q"]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == n and frames[0].shape == (40, 64, 3)
    centre = frames[0][20, 32].astype(int)
    assert centre[0] > 180 and centre[1] < 80  # looking at the red stripe
