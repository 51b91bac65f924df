"""Hostile but realistic use (issue 14): outputs that would replace a user's file, full disks, view
values out of range, misspelled commands, exported scripts run from elsewhere.

Every test builds its input itself and checks what a user would see: the exit code, the one-line
message, and the state of the output folder (nothing left behind, nothing of the user's replaced).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from clips import foa_clip
from pano.paths.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *args) -> tuple[int, str, list[str]]:
    """Run the CLI in-process; return its exit code, its stdout and its stderr lines."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def pano(capsys, *args) -> tuple[int, list[str]]:
    """Run the CLI in-process; return its exit code and its stderr lines."""
    code, _, err = run_cli(capsys, *args)
    return code, err


def one_error_line(lines: list[str], *words: str) -> str:
    assert len(lines) == 1, lines
    assert lines[0].startswith("pano-pan: error: ") and "Traceback" not in lines[0], lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=1.0, size=(120, 240))


def path_for(clip: Path, **over) -> Trajectory:
    """A trajectory with a sample at every frame time of ``clip``, optionally with one value changed."""
    from pano.media.video import read_frame_times as frame_times

    t = frame_times(clip)
    traj = Trajectory(t=t, yaw=np.linspace(-60, 60, len(t)), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    for key, (index, value) in over.items():
        getattr(traj, key)[index] = value
    traj.generator = {"name": "pano-pan"}
    return traj


# ---------------------------------------------------------------- 1: no output replaces an input
def test_render_refuses_to_replace_its_trajectory(tmp_path, clip, capsys):
    traj = tmp_path / "t.json"
    path_for(clip).save(traj)
    before = traj.read_bytes()
    code, err = pano(capsys, "render", clip, traj, "-o", traj, "-q")
    assert code == 2
    one_error_line(err, str(traj), "would replace the input")
    assert traj.read_bytes() == before
    assert listing(tmp_path) == ["t.json"]


def test_outputs_never_replace_inputs_through_aliases(tmp_path, clip, capsys):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    video = work / "in.mp4"
    shutil.copy(clip, video)
    traj = work / "t.csv"
    from pano.paths.trajectory import write_csv

    write_csv(path_for(clip), traj)
    snapshot = {p: p.read_bytes() for p in (video, traj)}
    (work / "link.mp4").symlink_to(video)
    for target in (work / "sub" / ".." / "t.csv", work / "link.mp4", work / "sub" / ".." / "in.mp4"):
        code, err = pano(capsys, "render", video, traj, "-o", target, "-q")
        assert code == 2, target
        one_error_line(err, "would replace the input")
    # run: its NFOV output name is a symlink to the input video
    out = tmp_path / "out"
    out.mkdir()
    (out / "in.nfov.mp4").symlink_to(video)
    code, err = pano(capsys, "run", video, "-o", out, "-q", "--size", "64x36", "--overwrite")
    assert code == 2
    one_error_line(err, "would replace the input")
    assert all(p.read_bytes() == b for p, b in snapshot.items())
    assert listing(work) == ["in.mp4", "link.mp4", "sub", "t.csv"] and listing(work / "sub") == []
    assert listing(out) == ["in.nfov.mp4"]


# ------------------------------------------- 2: a file pano-pan did not write is not replaced
def test_run_keeps_a_users_file_unless_overwrite(tmp_path, clip, capsys):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "clip.nfov.mp4"
    shutil.copy(clip, mine)  # the user's own video under the output's name
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36")
    assert code == 2
    one_error_line(err, str(mine), "--overwrite")
    assert mine.read_bytes() == clip.read_bytes()
    assert listing(out) == ["clip.nfov.mp4"]  # nothing else written either

    code, _ = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36", "--overwrite")
    assert code == 0
    assert mine.read_bytes() != clip.read_bytes()
    assert listing(out) == ["clip.nfov.mp4", "clip.saliency.mp4", "clip.trajectory.json"]
    # pano-pan's own outputs are recognised and replaced by a second run without --overwrite
    every = ["--export", "csv", "--export", "ffmpeg", "--export", "strip", "--plot"]
    code, _ = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36", *every)
    assert code == 0
    assert listing(out) == ["clip.ffmpeg.sh", "clip.nfov.mp4", "clip.plot.png", "clip.saliency.mp4",
                            "clip.sendcmd.txt", "clip.strip.png", "clip.trajectory.csv", "clip.trajectory.json"]
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36", *every)
    assert code == 0, err


def test_user_csv_and_json_under_output_names_are_kept(tmp_path, clip, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.trajectory.csv").write_text("my,own\n1,2\n")
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36", "--export", "csv")
    assert code == 2
    one_error_line(err, "clip.trajectory.csv", "--overwrite")
    (out / "clip.trajectory.csv").unlink()
    (out / "clip.trajectory.json").write_text(json.dumps({"notes": "mine"}))
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36")
    assert code == 2
    one_error_line(err, "clip.trajectory.json", "--overwrite")
    assert json.loads((out / "clip.trajectory.json").read_text()) == {"notes": "mine"}
    assert listing(out) == ["clip.trajectory.json"]


# --------------------------------------------------------------------------- 3: disk full
@pytest.fixture
def tiny_disk(tmp_path):
    """A 24 KiB tmpfs: too small for a run's outputs."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small filesystem needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_full_disk_gives_one_line_and_no_partial_outputs(tiny_disk, tmp_path, capsys):
    clip = foa_clip(tmp_path / "clip.mp4", seconds=1.0, size=(120, 240))
    code, err = pano(capsys, "run", clip, "-o", tiny_disk, "-q", "--size", "320x180")
    assert code == 2
    one_error_line(err, str(tiny_disk), "full")
    assert listing(tiny_disk) == []


def test_full_temporary_folder_is_named_as_such(tiny_disk, tmp_path, clip, capsys, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tiny_disk))  # where the maps wait between the passes
    out = tmp_path / "out"
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36")
    assert code == 2
    one_error_line(err, str(tiny_disk), "disk is full", "saliency maps", "TMPDIR")
    assert listing(out) == [] and listing(tiny_disk) == []


def test_room_for_the_video_but_not_the_json_leaves_nothing(tmp_path, clip, capsys, monkeypatch):
    import pano.paths.trajectory as trajectory_module

    real_open = open

    def full_when_json(file, mode="r", *args, **kwargs):
        if "w" in mode and str(file).endswith(".json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(trajectory_module, "open", full_when_json, raising=False)
    out = tmp_path / "out"
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36")
    assert code == 2
    one_error_line(err, str(out), "disk is full")
    assert listing(out) == []  # the complete videos did not stay without their trajectory


def test_a_failure_keeps_the_previous_complete_set(tmp_path, clip, capsys, monkeypatch):
    out = tmp_path / "out"
    assert pano(capsys, "run", clip, "-o", out, "-q", "--size", "64x36")[0] == 0
    before = {name: (out / name).read_bytes() for name in listing(out)}
    import pano.paths.trajectory as trajectory_module

    def broken_save(self, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trajectory_module.Trajectory, "save", broken_save)
    assert pano(capsys, "run", clip, "-o", out, "-q", "--size", "96x54")[0] == 2
    assert {name: (out / name).read_bytes() for name in listing(out)} == before


# ----------------------------------------------------------------- 11: render validates views
@pytest.mark.parametrize(("key", "value", "word"), [("hfov", 0.0, "hfov 0"), ("hfov", 500.0, "hfov 500"),
                                                    ("vfov", 0.5, "vfov 0.5"), ("pitch", 200.0, "pitch 200")])
def test_render_refuses_view_values_run_would_refuse(tmp_path, clip, capsys, key, value, word):
    traj = tmp_path / "t.json"
    path_for(clip, **{key: (7, value)}).save(traj)
    code, err = pano(capsys, "render", clip, traj, "-o", tmp_path / "v.mp4", "-q")
    assert code == 2
    one_error_line(err, str(traj), "sample 7", word)
    assert listing(tmp_path) == ["t.json"]


# --------------------------------------------------------- 17: the ffmpeg script runs anywhere
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_exported_ffmpeg_script_works_from_another_folder(tmp_path, clip, capsys, monkeypatch):
    work = tmp_path / "my project"
    work.mkdir()
    shutil.copy(clip, work / "clip.mp4")
    monkeypatch.chdir(work)
    assert pano(capsys, "run", "clip.mp4", "-o", "out dir", "-q", "--size", "64x36", "--export", "ffmpeg")[0] == 0
    script = work / "out dir" / "clip.ffmpeg.sh"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(["sh", str(script), "-y", "-t", "0.3", "-loglevel", "error"], cwd=elsewhere,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (work / "out dir" / "clip.ffmpeg.mp4").stat().st_size > 0
    assert listing(elsewhere) == []


# ------------------------------------------------------ 18: a misspelled command is named
@pytest.mark.parametrize(("typo", "meant"), [("inpsect", "inspect"), ("rendr", "render"), ("compair", "compare")])
def test_misspelled_subcommand_suggests_the_closest(tmp_path, clip, capsys, typo, meant):
    code, err = pano(capsys, typo, clip)
    assert code == 2
    one_error_line(err, repr(typo), f"did you mean 'pano-pan {meant}'")


def test_a_file_named_like_a_command_still_runs(tmp_path, clip, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(clip, tmp_path / "rendr")
    code, err = pano(capsys, "rendr", "-o", "out", "-q", "--size", "64x36")
    assert code == 0, err


def test_subprocess_error_is_one_line():
    """The installed entry point behaves like main() (no traceback from click's own wiring)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "cli.main", "inpsect", "nothing.mp4"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert done.returncode == 2
    one_error_line(done.stderr.strip().splitlines(), "inspect")


def test_localize_and_evaluate_never_replace_their_inputs(tmp_path, capsys):
    import cv2

    from clips import write_wav
    from soundloc.checkpoint import save_checkpoint
    from soundloc.model import ModelConfig, SoundLocalizer

    ckpt = save_checkpoint(tmp_path / "tiny.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32,
                                                                             image_size=96)))
    cv2.imwrite(str(tmp_path / "scene.png"), np.full((90, 120, 3), 120, np.uint8))
    write_wav(tmp_path / "a.wav", 0.3 * np.sin(np.arange(16000) / 5.0), 16000)
    before = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path)}
    (tmp_path / "sub").mkdir()
    code, err = pano(capsys, "localize", tmp_path / "scene.png", tmp_path / "a.wav", "-c", ckpt,
                     "-o", tmp_path / "sub" / ".." / "scene.png")
    assert code == 2
    one_error_line(err, "would replace the input")
    code, err = pano(capsys, "evaluate", "synthetic:4", "--checkpoint", ckpt, "--json", ckpt, "-q")
    assert code == 2
    one_error_line(err, "would replace the input", "--json")
    assert {name: (tmp_path / name).read_bytes() for name in listing(tmp_path) if name != "sub"} == before
    assert listing(tmp_path) == ["a.wav", "scene.png", "sub", "tiny.pt"]
    # a user's file under the output name needs --overwrite; pano-pan's own output is replaced freely
    shutil.copy(tmp_path / "scene.png", tmp_path / "where.png")
    code, err = pano(capsys, "localize", tmp_path / "scene.png", tmp_path / "a.wav", "-c", ckpt, "-o",
                     tmp_path / "where.png")
    assert code == 2
    one_error_line(err, "where.png", "--overwrite")
    assert (tmp_path / "where.png").read_bytes() == before["scene.png"]
    for extra in (["--overwrite"], []):
        code, err = pano(capsys, "localize", tmp_path / "scene.png", tmp_path / "a.wav", "-c", ckpt, "-o",
                         tmp_path / "where.png", *extra)
        assert code == 0, err
    (tmp_path / "report.json").write_text("{}")
    code, err = pano(capsys, "evaluate", "synthetic:4", "--checkpoint", ckpt, "--json", tmp_path / "report.json",
                     "-q")
    assert code == 2
    one_error_line(err, "report.json", "--overwrite")
    for extra in (["--overwrite"], []):
        code, err = pano(capsys, "evaluate", "synthetic:4", "--checkpoint", ckpt, "--json",
                         tmp_path / "report.json", "--plot", tmp_path / "curve.png", "-q", *extra)
        assert code == 0, err
    assert listing(tmp_path) == ["a.wav", "curve.png", "report.json", "scene.png", "sub", "tiny.pt", "where.png"]


# ------------------------------------- 6 (the lead's option ranges): refused up front, nothing written
@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--localizer-option", "blur_deg=1e9", ("blur_deg", "must be in")),
    ("--localizer-option", "frame_size=[0,0]", ("frame_size", "must be in")),
    ("--localizer-option", "pairs=-1", ("pairs",)),
    ("--localizer-option", "audio_window=nan", ("audio_window", "finite")),
    ("--planner-option", "smooth=nan", ("smooth", "finite")),
])
def test_plugin_option_out_of_range_is_one_line(tmp_path, clip, capsys, flag, value, words):
    out = tmp_path / "out"
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--localizer", "synchrony", flag, value)
    assert code == 2
    one_error_line(err, *words)
    assert not out.exists() or listing(out) == []
