"""Odd media and rough messages (issue 23, items 16 and 17): what a user is told must be what is true."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_hostile_inputs import one_error_line, pano

from clips import foa_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=1.0, size=(120, 240))


# ---------------------------------------------------------------- item 16: damaged, not "no audio"
@pytest.mark.parametrize("command", ["run", "inspect"])
def test_a_header_of_garbage_is_reported_as_damage(tmp_path, clip, capsys, command):
    data = clip.read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, len(data) - 1024, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[:1024] + noise)
    args = [bad, "-o", tmp_path / "out"] if command == "run" else ["inspect", bad]
    code, err = pano(capsys, *args)
    assert code == 2
    line = one_error_line(err, str(bad), "damaged")
    assert "no audio" not in line


# ---------------------------------------------------------------- item 17: what users are told is true
def test_a_mono_declared_four_channel_track_is_not_written_as_quad(tmp_path, clip, capsys):
    import av

    code, err = pano(capsys, clip, "-o", tmp_path, "-q", "--audio-format", "mono", "--no-saliency-video")
    assert code == 0, err
    with av.open(str(tmp_path / "clip.nfov.mp4")) as out:
        assert out.streams.audio[0].codec_context.channels == 2


def test_inspect_counts_the_frames_instead_of_estimating(tmp_path, capsys):
    from clips import remux

    mp4 = foa_clip(tmp_path / "ten.mp4", seconds=10.0, size=(60, 120))
    mkv = remux(mp4, tmp_path / "ten.mkv")  # Matroska has no frame count: duration × fps said 301
    code, out, _ = run_cli_out(capsys, "inspect", mkv)
    assert code == 0 and "300 frames" in out


def run_cli_out(capsys, *args):
    from cli.main import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compare_scores_a_run_against_the_bundled_demo_truth(tmp_path, capsys):
    import json

    from pano.paths.trajectory import Trajectory

    truth = Path(__file__).parents[1] / "examples" / "demo360.truth.json"
    frames = json.loads(truth.read_text())["frames"]
    path = Trajectory(t=[f["t"] for f in frames], yaw=[f["yaw"] for f in frames],
                      pitch=[f["pitch"] for f in frames], hfov=65.5, vfov=39.8)
    path.generator = {"name": "pano-pan"}
    path.save(tmp_path / "p.json")
    code, out, err = run_cli_out(capsys, "compare", tmp_path / "p.json", truth, "--json")
    assert code == 0, err
    ref = json.loads(out)["references"][0]
    assert ref["frames"] == 300 and ref["cosine"] == pytest.approx(1.0) and ref["inside"] == 1.0


def test_view_finds_the_video_in_a_folder_beside_the_output_folder(tmp_path, clip, monkeypatch, capsys):
    """The README's demo layout: examples/demo360.mp4, then `pano-pan view out`, from anywhere."""
    import shutil

    from pano.view.job import open_job

    (tmp_path / "examples").mkdir()
    video = shutil.copy(clip, tmp_path / "examples" / "demo.mp4")
    code, err = pano(capsys, video, "-o", tmp_path / "out", "-q", "--no-saliency-video")
    assert code == 0, err
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert open_job(tmp_path / "out").video == tmp_path / "examples" / "demo.mp4"


@pytest.mark.parametrize("args", [["localize", "x.png"], ["render", "--size"], ["run", "x.mp4", "--localizer", "nope"]])
def test_click_errors_are_in_pano_pans_one_line_style(tmp_path, capsys, args):
    code, out, err = run_cli_out(capsys, *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pano-pan: error: ") and "Usage" not in err, err
