"""The command line as a user meets it: outputs on success, one clear line on every user error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from clips import foa_clip
from pano.media.probe import probe
from pano.media.writer import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return foa_clip(tmp_path_factory.mktemp("cli") / "walk.mp4", seconds=2.0, size=(120, 240), yaw=-60.0)


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_bare_form_writes_three_outputs(clip, tmp_path, capsys):
    code, _, err = run_cli(capsys, clip, "-o", tmp_path, "--planner", "centroid")
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["walk.nfov.mp4", "walk.saliency.mp4", "walk.trajectory.json"]
    assert "localizer ambisonic" in err
    traj = json.loads((tmp_path / "walk.trajectory.json").read_text())
    assert traj["schema"] == "pano-pan/trajectory@1" and len(traj["samples"]) == 60
    assert abs(np.median([s["yaw"] for s in traj["samples"][15:]]) + 60) < 5
    assert probe(tmp_path / "walk.nfov.mp4").has_audio


def test_options_size_fov_no_saliency(clip, tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", clip, "-o", tmp_path, "--size", "320x180", "--fov", "90",
                           "--no-saliency-video", "-q", "--planner", "centroid")
    assert code == 0, err
    assert err == ""
    assert not (tmp_path / "walk.saliency.mp4").exists()
    info = probe(tmp_path / "walk.nfov.mp4")
    assert (info.width, info.height) == (320, 180)
    traj = json.loads((tmp_path / "walk.trajectory.json").read_text())
    assert traj["fov"]["horizontal"] == 90.0


def test_inspect(clip, capsys):
    code, out, _ = run_cli(capsys, "inspect", clip)
    assert code == 0
    assert "equirectangular" in out and "AmbiX" in out and "60 frames" in out


def _assert_clean_failure(code, err, tmp_path, *fragments):
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln and not ln.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("pano-pan: error:"), err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]
    leftovers = [p.name for p in tmp_path.rglob("*") if p.suffix in (".mp4", ".json") and "nfov" in p.name
                 or ".part-" in p.name or p.name.endswith(".trajectory.json")]
    assert leftovers == [], leftovers


def test_missing_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, tmp_path / "nope.mp4", "-o", tmp_path / "out")
    _assert_clean_failure(code, err, tmp_path, "nope.mp4", "no such file")


def test_text_file_named_mp4(tmp_path, capsys):
    bad = tmp_path / "fake.mp4"
    bad.write_text("hello\n" * 100)
    code, _, err = run_cli(capsys, bad, "-o", tmp_path / "out")
    _assert_clean_failure(code, err, tmp_path, "fake.mp4", "not a video")


def test_video_without_audio(tmp_path, capsys):
    silent = write_video(tmp_path / "mute.mp4", [np.zeros((60, 120, 3), np.uint8)] * 5, 30)
    code, _, err = run_cli(capsys, silent, "-o", tmp_path / "out")
    _assert_clean_failure(code, err, tmp_path, "mute.mp4", "no audio stream")


def test_not_equirectangular(tmp_path, capsys):
    sr = 48000
    flat = write_video(tmp_path / "flat.mp4", [np.zeros((90, 160, 3), np.uint8)] * 5, 30,
                       audio=(np.zeros((1, sr // 6), np.float32), sr))
    code, _, err = run_cli(capsys, flat, "-o", tmp_path / "out")
    _assert_clean_failure(code, err, tmp_path, "flat.mp4", "2:1 equirectangular")


def test_unwritable_output_folder(clip, tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through permission bits; a kernel pseudo-filesystem refuses everyone
        locked = "/proc/self/pano-pan-out"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
    code, _, err = run_cli(capsys, clip, "-o", locked)
    _assert_clean_failure(code, err, tmp_path, "pano-pan-out" if os.geteuid() == 0 else "locked", "-o")


def test_output_folder_is_a_file(clip, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, clip, "-o", blocker / "sub")
    _assert_clean_failure(code, err, tmp_path, "taken", "-o")


def test_bad_option_values(clip, tmp_path, capsys):
    code, _, err = run_cli(capsys, clip, "-o", tmp_path, "--size", "641x360")
    _assert_clean_failure(code, err, tmp_path, "--size", "even")
    code, _, err = run_cli(capsys, clip, "-o", tmp_path, "--checkpoint", tmp_path / "none.pt")
    _assert_clean_failure(code, err, tmp_path, "none.pt")


def test_console_script_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cli.main", str(tmp_path / "absent.mp4")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("pano-pan: error:") and "absent.mp4" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "inspect" in proc.stdout


def test_a_missing_input_is_refused_before_the_heavy_imports(tmp_path):
    """``pano-pan missing.mp4`` (and a folder) answers with open_media's own words, without importing
    the pipeline, SciPy, OpenCV, PyAV or torch: a typo costs a fraction of a second, not a second."""
    heavy = ("pano.pipeline", "scipy", "scipy.signal", "scipy.fft", "cv2", "av", "torch")
    code = (
        "import sys\n"
        "from cli.main import main\n"
        "rc = main(sys.argv[1:])\n"
        f"print(rc, sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    (tmp_path / "folder").mkdir()
    for target, words in ((tmp_path / "missing.mp4", "no such file; check the path"),
                          (tmp_path / "folder", "is a folder; pass a video file")):
        proc = subprocess.run([sys.executable, "-c", code, str(target), "-o", str(tmp_path / "out")],
                              capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        assert proc.stdout.split("\n")[0] == "2 []", proc.stdout + proc.stderr
        assert proc.stderr == f"pano-pan: error: {target}: {words}\n"


def test_run_takes_a_checkpoint_url_and_asks_for_its_hash(tmp_path, capsys):
    """``--checkpoint URL`` reaches the verified download (no network: refused before any fetch)."""
    from clips import mono_pulse_clip

    clip = mono_pulse_clip(tmp_path / "m.mp4", seconds=1.0, size=(60, 120))
    code = main([str(clip), "-o", str(tmp_path / "out"), "--checkpoint", "https://example.invalid/model.pt"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("pano-pan: error: https://example.invalid/model.pt: a checkpoint from the web needs")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
