"""Mono audio and no checkpoint: `auto` picks synchrony, and the camera finds the pulsing source."""

import json

import numpy as np

from cli.main import main
from clips import mono_pulse_clip
from pano.geometry import angular_distance, in_view


def test_auto_uses_synchrony_and_finds_the_source(tmp_path, capsys):
    clip = mono_pulse_clip(tmp_path / "mono.mp4", seconds=6.0, yaw=60.0, pitch=15.0)
    assert main([str(clip), "-o", str(tmp_path / "out"), "--no-saliency-video"]) == 0
    assert "localizer synchrony" in capsys.readouterr().err
    traj = json.loads((tmp_path / "out" / "mono.trajectory.json").read_text())
    assert traj["generator"]["localizer"] == "synchrony"
    s = traj["samples"][int(2.5 * 30):]  # after the correlation window has filled
    inside = in_view(60.0, 15.0, np.array([x["yaw"] for x in s]), np.array([x["pitch"] for x in s]), 65.5, 39.8)
    assert inside.mean() >= 0.8
    aim_error = angular_distance(60.0, 15.0, np.array([x["yaw"] for x in s]), np.array([x["pitch"] for x in s]))
    assert np.median(aim_error) < 8.0
    assert np.median([x["confidence"] for x in s]) > 0.3
