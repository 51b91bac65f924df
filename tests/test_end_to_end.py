"""The README's main command on the bundled demo clip, judged against the clip's ground truth."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from common.audio_io import read_audio
from pano.media.probe import probe
from pano.media.video import iter_frames
from pano.sphere.geometry import angular_distance, in_view

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo360.mp4"
TRUTH = DEMO.with_suffix(".truth.json")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    messages = io.StringIO()
    with contextlib.redirect_stderr(messages):
        assert main([str(DEMO), "-o", str(out)]) == 0
    (out.parent / "demo-messages.txt").write_text(messages.getvalue())
    return out


def test_three_outputs_exist_and_decode(demo_run):
    src = probe(DEMO)
    nfov = probe(demo_run / "demo360.nfov.mp4")
    sal = probe(demo_run / "demo360.saliency.mp4")
    assert nfov.frame_count == src.frame_count == 300
    assert sal.frame_count == 150 and sal.fps == pytest.approx(15)  # the diagnostic: every other frame
    assert sum(1 for _ in iter_frames(demo_run / "demo360.nfov.mp4")) == 300
    assert nfov.width % 2 == 0 and nfov.height >= 240
    audio = read_audio(demo_run / "demo360.nfov.mp4", 48000, channels=None)
    assert audio.shape[1] / 48000 == pytest.approx(src.duration, abs=0.1)  # the sound is kept, whole
    assert np.abs(audio).max() > 0.01
    names = {p.name for p in demo_run.iterdir()}
    assert names == {"demo360.nfov.mp4", "demo360.saliency.mp4", "demo360.trajectory.json"}
    assert (nfov.width, nfov.height) == (1280, 720)  # the default: a standard 16:9 size


def test_demo_declares_its_spatial_audio_and_a_first_run_prints_no_note(demo_run):
    """The demo carries SA3D, so the newcomer's first run does not warn about unlabelled 4-channel audio;
    the saliency video is declared equirectangular so 360° players show it as 360°."""
    src = probe(DEMO)
    assert src.spherical["spatial_audio"]["order"] == 1 and src.is_foa and not src.notices
    err = (demo_run.parent / "demo-messages.txt").read_text()
    assert "localizer ambisonic" in err and "note:" not in err and "spatial-audio metadata" not in err
    assert probe(demo_run / "demo360.saliency.mp4").spherical["projection"] == "equirectangular"


def test_camera_finds_the_sound_and_moves_calmly(demo_run):
    traj = json.loads((demo_run / "demo360.trajectory.json").read_text())
    truth = json.loads(TRUTH.read_text())["frames"]
    assert traj["schema"] == "pano-pan/trajectory@1"
    assert traj["generator"]["localizer"] == "ambisonic"
    samples = traj["samples"]
    assert len(samples) == len(truth) == 300
    assert [s["frame"] for s in samples] == list(range(300))
    vy = np.array([s["yaw"] for s in samples])
    vp = np.array([s["pitch"] for s in samples])
    ty = np.array([f["yaw"] for f in truth])
    tp = np.array([f["pitch"] for f in truth])
    sounding = np.array([f["sounding"] for f in truth])
    inside = in_view(ty, tp, vy, vp, traj["fov"]["horizontal"], traj["fov"]["vertical"])
    assert inside[sounding].mean() >= 0.9
    # Never faster than the planner's default limit (60°/s), with a little slack for rounding.
    speed = angular_distance(vy[1:], vp[1:], vy[:-1], vp[:-1]) * 30
    assert speed.max() <= 61.0
    assert np.all((vy >= -180) & (vy < 180))


def test_interrupted_run_leaves_nothing_under_final_names(tmp_path, monkeypatch, capsys):
    import pano.rendering.nfov

    calls = {"n": 0}
    original = pano.rendering.nfov.NFOVRenderer.render_yuv

    def flaky(self, *a, **k):
        calls["n"] += 1
        if calls["n"] > 40:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(pano.rendering.nfov.NFOVRenderer, "render_yuv", flaky)
    code = main([str(DEMO), "-o", str(tmp_path)])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
