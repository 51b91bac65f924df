"""``pano-pan batch``: inputs, the manifest (resume, changed options), damaged files, shards, the
thread budget and the Ray engine, on tiny clips the tests make."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from clips import foa_clip
from pano.batch.inputs import expand, parse_shard, shard_of, take_shard, videos
from pano.batch.manifest import HOST

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--size", "64x36", "--no-saliency-video"]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """card/a.mp4, card/day2/b.mp4, card/day2/c.mp4 and card/broken.mp4 (not a video)."""
    root = tmp_path_factory.mktemp("library") / "card"
    (root / "day2").mkdir(parents=True)
    for i, rel in enumerate(["a.mp4", "day2/b.mp4", "day2/c.mp4"]):
        foa_clip(root / rel, seconds=0.5, fps=12, size=(32, 64), yaw=40.0 * i, seed=i)
    (root / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    (root / "notes.txt.bak").write_text("ignored")
    return root


def _rows(outdir: Path, name: str = "pano-pan-batch.sqlite") -> dict[str, tuple]:
    db = sqlite3.connect(outdir / name)
    try:
        return {rel: (state, reason, attempts) for rel, state, reason, attempts in
                db.execute("SELECT rel, state, reason, attempts FROM videos")}
    finally:
        db.close()


def test_folder_glob_and_list_inputs_name_the_same_videos(library, tmp_path):
    folder = expand([str(library)])
    assert sorted(p.name for p in folder) == ["a.mp4", "b.mp4", "broken.mp4", "c.mp4"]
    pattern = expand([str(library / "**" / "*.mp4")])
    assert sorted(map(str, pattern)) == sorted(map(str, folder))
    listing = tmp_path / "videos.txt"
    listing.write_text(f"# my clips\n{library / 'a.mp4'}\n\n{os.path.relpath(library / 'day2/b.mp4', tmp_path)}\n")
    assert [p.name for p in expand([str(listing)])] == ["a.mp4", "b.mp4"]
    # twice the same file through two words: one video
    assert len(expand([str(library / "a.mp4"), str(library)])) == 4
    # outputs mirror the tree under the videos' common folder
    assert sorted(v.rel for v in videos(folder)) == ["a", "broken", "day2/b", "day2/c"]


def test_a_video_whose_outputs_would_collide_or_that_is_missing_is_a_problem_row(library, tmp_path):
    shutil.copy(library / "a.mp4", tmp_path / "a.mp4")
    shutil.copy(library / "a.mp4", tmp_path / "a.mov")
    found = videos([tmp_path / "a.mp4", tmp_path / "a.mov", tmp_path / "gone.mp4"])
    assert [v.problem is None for v in found] == [True, False, False]
    assert "same names" in found[1].problem and "no such file" in found[2].problem


def test_bad_inputs_and_shard_words_are_refused_in_one_line(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "*.mp4"), "-o", str(tmp_path / "o")]) == 2
    assert "matches no video" in capsys.readouterr().err
    for word in ("2/2", "x", "1/0", "-1/3"):
        with pytest.raises(Exception, match="I/N"):
            parse_shard(word)


def test_shards_cover_every_video_exactly_once(tmp_path):
    paths = []
    for i in range(40):
        p = tmp_path / f"d{i % 3}" / f"v{i}.mp4"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
        paths.append(p)
    items = videos(paths)
    for n in (1, 2, 3, 7):
        parts = [take_shard(items, (i, n)) for i in range(n)]
        keys = [v.key for part in parts for v in part]
        assert sorted(keys) == sorted(v.key for v in items)  # each once
    # the split does not depend on the other files: a video added later keeps everyone's shard
    assert [shard_of(v, 3) for v in items] == [shard_of(v, 3) for v in videos(paths + [tmp_path / "d0/new.mp4"])][:40]


def test_batch_runs_the_good_videos_records_the_damaged_one_and_resumes(library, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(library), "-o", str(out), *SMALL, "--jobs", "2"])
    err = capsys.readouterr().err
    assert code == 1  # one video failed
    assert "batch: 3 done, 1 failed" in err and "broken.mp4" in err
    for rel in ("a", "day2/b", "day2/c"):
        assert (out / f"{rel}.nfov.mp4").is_file() and (out / f"{rel}.trajectory.json").is_file()
    rows = _rows(out)
    assert rows["broken"][0] == "failed" and "broken.mp4" in rows["broken"][1]
    assert "\n" not in rows["broken"][1]
    report = (out / "pano-pan-batch.csv").read_text().splitlines()
    assert report[0].startswith("input,output,state") and len(report) == 5
    assert "shot-0.jpg" in (out / "pano-pan-batch.html").read_text()
    first = {rel: (out / f"{rel}.trajectory.json").stat().st_mtime_ns for rel in ("a", "day2/b", "day2/c")}

    # a rerun does nothing: all complete, the damaged file unchanged
    assert main(["batch", str(library), "-o", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert "0 done, 0 failed, 1 failed earlier" in err and "3 skipped" in err
    assert {rel: (out / f"{rel}.trajectory.json").stat().st_mtime_ns for rel in first} == first

    # a crash: b was in flight under a process that is gone, and left a temporary behind
    dead = subprocess.Popen(["true"])
    dead.wait()
    db = sqlite3.connect(out / "pano-pan-batch.sqlite")
    db.execute("UPDATE videos SET state='running', host=?, pid=?, lease=? WHERE rel='day2/b'",
               (HOST, dead.pid, time.time() + 600))
    db.commit()
    db.close()
    leftover = out / "day2" / ".b.nfov.part-0123abcd.mp4"
    leftover.write_bytes(b"half a video")
    assert main(["batch", str(library), "-o", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert "1 done" in err and "2 skipped" in err and "1 redone after an interruption" in err
    assert not leftover.exists()
    assert _rows(out)["day2/b"][:1] == ("done",) and _rows(out)["day2/b"][2] == 2
    assert (out / "a.trajectory.json").stat().st_mtime_ns == first["a"]
    assert not list(out.rglob(".*part-*")) and not (out / ".pano-pan-batch.tmp").exists()

    # other options into the same OUTDIR: refused, naming what changed; --fresh redoes with them
    assert main(["batch", str(library), "-o", str(out), "--size", "96x54", "--no-saliency-video"]) == 2
    err = capsys.readouterr().err
    assert "other options (changed: size)" in err and "--fresh" in err
    assert (out / "a.trajectory.json").stat().st_mtime_ns == first["a"]


def test_sigkill_then_rerun_redoes_only_what_was_in_flight(library, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "cli.main", "batch", str(library), "-o", str(out), *SMALL, "-q"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    running: set[str] = set()
    while time.time() < deadline and proc.poll() is None:
        if (out / "pano-pan-batch.sqlite").exists():
            try:
                running = {rel for rel, (state, _r, _a) in _rows(out).items() if state == "running"}
            except sqlite3.Error:
                running = set()
            if running:
                break
        time.sleep(0.05)
    assert running, "the batch never started a video"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole batch: parent and workers, no cleanup at all
    proc.wait()
    done_before = {rel for rel, (state, _r, _a) in _rows(out).items() if state == "done"}
    mtimes = {rel: (out / f"{rel}.trajectory.json").stat().st_mtime_ns for rel in done_before}
    rerun = subprocess.run(cmd[:-1], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr
    rows = _rows(out)
    assert {rel for rel, (state, _r, _a) in rows.items() if state == "done"} == {"a", "day2/b", "day2/c"}
    assert {rel: (out / f"{rel}.trajectory.json").stat().st_mtime_ns for rel in done_before} == mtimes
    assert all(a <= 2 for _s, _r, a in rows.values())
    assert not list(out.rglob(".*part-*")) and not (out / ".pano-pan-batch.tmp").exists()


def test_shards_into_one_outdir_make_the_unsharded_outputs(library, tmp_path, capsys):
    whole, split = tmp_path / "whole", tmp_path / "split"
    good = [str(library / "a.mp4"), str(library / "day2")]
    assert main(["batch", *good, "-o", str(whole), *SMALL, "-q"]) == 0
    for i in range(2):
        assert main(["batch", *good, "-o", str(split), *SMALL, "-q", "--shard", f"{i}/2"]) == 0
    capsys.readouterr()
    names = lambda d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*")  # noqa: E731
                             if p.is_file() and not p.name.startswith("pano-pan-batch"))
    assert names(whole) == names(split)
    for rel in ("a", "day2/b", "day2/c"):
        assert (whole / f"{rel}.trajectory.json").read_bytes() == (split / f"{rel}.trajectory.json").read_bytes()
    assert sum(len(_rows(split, f"pano-pan-batch.shard-{i}-of-2.sqlite")) for i in range(2)) == 3
    # a shard with other options than its siblings is refused
    assert main(["batch", *good, "-o", str(split), "--size", "96x54", "--shard", "0/2"]) == 2
    assert "other options" in capsys.readouterr().err


def test_the_thread_budget_reaches_every_pool_of_a_worker(tmp_path, monkeypatch):
    from common.threads import BUDGET_VAR, per_job
    from pano.batch.local import LocalEngine

    assert per_job(2, cores=8) == 4 and per_job(3, cores=2) == 1 and per_job(1, cores=6) == 6
    monkeypatch.delenv(BUDGET_VAR, raising=False)
    engine = LocalEngine(jobs=1, threads=1, tmp_root=tmp_path / "tmp")
    try:
        engine.submit({"key": "k", "path": str(tmp_path / "missing.mp4"), "rel": "missing", "outdir": str(tmp_path),
                       "options": None})
        results = []
        deadline = time.time() + 120
        while not results and time.time() < deadline:
            results = [p for kind, _k, p in engine.poll(0.5) if kind == "result"]
    finally:
        engine.close()
    (result,) = results
    assert not result["ok"]
    threads = result["threads"]
    assert threads["budget"] == 1 and threads["opencv"] == 1
    assert threads["OMP_NUM_THREADS"] == threads["OPENBLAS_NUM_THREADS"] == threads["MKL_NUM_THREADS"] == "1"
    assert BUDGET_VAR not in os.environ  # the budget is the workers', not the caller's


def test_the_decoder_and_encoder_take_the_budget(library, tmp_path, monkeypatch):
    from pano.media.video import _open_video
    from pano.media.writer import VideoWriter

    monkeypatch.setenv("PANO_PAN_THREADS", "1")
    container, stream, _packets, _own = _open_video(library / "a.mp4")
    try:
        assert stream.codec_context.thread_count == 1
    finally:
        container.close()
    with VideoWriter(tmp_path / "x.mp4", 64, 32, 12) as w:
        assert w.vstream.codec_context.thread_count == 1
        w.write(__import__("numpy").zeros((32, 64, 3), "uint8"))
    monkeypatch.delenv("PANO_PAN_THREADS")
    assert VideoWriter(tmp_path / "y.mp4", 64, 32, 12).threads == 0  # a plain run: FFmpeg's own choice


def test_ray_engine_on_a_local_instance_makes_the_same_trajectories(library, tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'pano-pan[ray]')")
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(["batch", str(library), "-o", str(local), *SMALL, "-q"]) == 1
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["batch", str(library), "-o", str(on_ray), *SMALL, "-q", "--engine", "ray"]) == 1
    finally:
        ray.shutdown()
    err = capsys.readouterr().err
    assert "3 done, 1 failed" in err.split("batch:")[-1]
    for rel in ("a", "day2/b", "day2/c"):
        assert (local / f"{rel}.trajectory.json").read_bytes() == (on_ray / f"{rel}.trajectory.json").read_bytes()
    assert _rows(on_ray)["broken"][0] == "failed"
