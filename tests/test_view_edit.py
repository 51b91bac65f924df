"""Keyframe editing of a camera path (pano.view.edit) and resolving what `pano-pan view` shows (pano.view.job)."""

import json

import numpy as np
import pytest

from common.errors import InputError, OptionError
from pano.paths.trajectory import Trajectory
from pano.planning.smoothing import path_speed
from pano.sphere.geometry import angular_distance
from pano.view.edit import Keyframe, Limits, apply_keyframes, edited_trajectory, recorded_keyframes
from pano.view.job import open_job

FPS = 30.0


def auto_path(n: int = 300, params: dict | None = None) -> Trajectory:
    t = np.arange(n) / FPS
    return Trajectory(t=t, yaw=np.linspace(-20, 20, n), pitch=np.zeros(n), hfov=65.5, vfov=39.8,
                      source={"fps": FPS, "path": "clip.mp4"},
                      generator={"name": "pano-pan", "params": {"planner": params or {"max_speed": 60.0,
                                                                                       "max_accel": 120.0}}})


def test_a_keyframe_is_reached_on_time_held_and_left_within_the_planner_limits():
    base = auto_path()
    key = Keyframe(t=5.0, yaw=90.0, pitch=10.0, hfov=50.0, hold=2.0)
    path = apply_keyframes(base, [key])
    i, j = 150, 150 + 60
    assert angular_distance(path.yaw[i:j], path.pitch[i:j], 90.0, 10.0).max() < 1e-6  # pinned for the hold
    assert path.hfov[i:j] == pytest.approx(50.0)
    assert path.vfov[i] < base.vfov[i]  # zoomed in with the output's aspect kept
    speed = path_speed(path.yaw, path.pitch, base.t)
    assert speed.max() <= 60.0 * 1.05  # the planner's speed limit, a pan not a jump
    assert not path.cut.any() and path.notes == []
    # Far from the keyframe the automatic path is untouched.
    assert np.abs(path.yaw[:60] - base.yaw[:60]).max() < 1e-6
    assert np.abs(path.yaw[-30:] - base.yaw[-30:]).max() < 0.5


def test_a_keyframe_too_far_to_pan_to_becomes_a_cut_and_says_so():
    base = auto_path(params={"max_speed": 30.0, "max_accel": 60.0})
    path = apply_keyframes(base, [Keyframe(t=0.5, yaw=170.0, pitch=0.0, hfov=65.5)])
    assert path.cut[15] and path.cut.sum() == 1
    assert "too far to pan" in path.notes[0] and "30°/s" in path.notes[0]
    assert path.yaw[15] == pytest.approx(170.0, abs=1e-6)
    assert Limits.of(base).max_speed == 30.0


def test_saved_edit_keeps_unknown_keys_records_keyframes_and_loads(tmp_path):
    doc = auto_path(20).to_dict()
    doc["x_editor_note"] = "keep me"
    for i, sample in enumerate(doc["samples"]):
        sample["x_tag"] = i
    doc["samples"][5]["cut"] = True
    base = Trajectory.from_dict(doc)
    keys = [Keyframe(t=0.2, yaw=-30.0, pitch=5.0, hfov=60.0, hold=0.1)]
    out = edited_trajectory(base, keys, apply_keyframes(base, keys), "clip.trajectory.json").save(
        tmp_path / "clip.edit-1.trajectory.json")
    data = json.loads(out.read_text())
    assert data["schema"] == "pano-pan/trajectory@1" and data["x_editor_note"] == "keep me"
    assert [s["x_tag"] for s in data["samples"]] == list(range(20))
    assert [i for i, s in enumerate(data["samples"]) if s.get("cut")] == [5, 6]  # kept, plus the jump in
    assert data["generator"]["params"]["keyframes"] == [k.to_dict() for k in keys]
    assert data["generator"]["params"]["edited_from"] == "clip.trajectory.json"
    loaded = Trajectory.load(out)
    assert recorded_keyframes(loaded)[0].yaw == -30.0
    assert loaded.yaw[6] == pytest.approx(-30.0, abs=1e-3)


@pytest.mark.parametrize("bad", [{"t": 1}, {"t": 1, "yaw": 0, "pitch": 95, "hfov": 60}, {"t": "x", "yaw": 0,
                                                                                          "pitch": 0, "hfov": 60}])
def test_bad_keyframes_are_refused_with_what_is_wrong(bad):
    with pytest.raises(OptionError, match="keyframe"):
        Keyframe.from_dict(bad)


def test_view_tells_the_user_what_to_pass(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        open_job(tmp_path / "missing")
    with pytest.raises(InputError, match="run 'pano-pan VIDEO -o"):
        open_job(tmp_path)
    auto_path(10).save(tmp_path / "clip.trajectory.json")
    with pytest.raises(InputError, match="its source video clip.mp4 is not beside it.*--trajectory"):
        open_job(tmp_path)
