"""Mono audio and no checkpoint: `auto` picks audiovisual (synchrony inside it), and the camera finds
the pulsing source."""

import json

import numpy as np

from cli.main import main
from clips import mono_pulse_clip
from pano.sphere.geometry import angular_distance, in_view


def test_auto_uses_audiovisual_and_finds_the_source(tmp_path, capsys):
    clip = mono_pulse_clip(tmp_path / "mono.mp4", seconds=6.0, yaw=60.0, pitch=15.0)
    assert main([str(clip), "-o", str(tmp_path / "out"), "--no-saliency-video"]) == 0
    assert "localizer audiovisual" in capsys.readouterr().err
    traj = json.loads((tmp_path / "out" / "mono.trajectory.json").read_text())
    assert traj["generator"]["localizer"] == "audiovisual"
    s = traj["samples"][int(2.5 * 30):]  # after the correlation window has filled
    inside = in_view(60.0, 15.0, np.array([x["yaw"] for x in s]), np.array([x["pitch"] for x in s]), 65.5, 39.8)
    assert inside.mean() >= 0.8
    aim_error = angular_distance(60.0, 15.0, np.array([x["yaw"] for x in s]), np.array([x["pitch"] for x in s]))
    assert np.median(aim_error) < 8.0
    assert np.median([x["confidence"] for x in s]) > 0.3


def test_auto_with_checkpoint_runs_the_network_from_the_cli(tmp_path, capsys):
    """Mono audio + --checkpoint: auto picks the trained network and the three outputs are written."""
    import torch

    from soundloc.checkpoint import save_checkpoint
    from soundloc.model import ModelConfig, SoundLocalizer

    threads = torch.get_num_threads()
    try:
        ckpt = save_checkpoint(tmp_path / "tiny.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32)))
        clip = mono_pulse_clip(tmp_path / "talk.mp4", seconds=2.0, size=(120, 240))
        code = main([str(clip), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt),
                     "--source-option", "inference_height=64"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0, capsys.readouterr().err
    assert "localizer network" in capsys.readouterr().err
    traj = json.loads((tmp_path / "out" / "talk.trajectory.json").read_text())
    assert traj["generator"]["localizer"] == "network" and len(traj["samples"]) == 60
    assert traj["generator"]["params"]["localizer"]["stride"] == 10
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "talk.nfov.mp4", "talk.saliency.mp4", "talk.trajectory.json"}
