"""Hostile use, round 3 (issue 23): outputs that are not regular files, a size whose aspect differs
from the path's, leftovers of killed runs, names too long for the file system."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_hostile_inputs import listing, one_error_line, pano

from clips import foa_clip
from pano.paths.trajectory import Trajectory


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=1.0, size=(240, 480), yaw=0.0)


def still_path(clip: Path, yaw: float = 0.0) -> Trajectory:
    from pano.media.video import read_frame_times

    t = read_frame_times(clip)
    traj = Trajectory(t=t, yaw=np.full(len(t), yaw), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    traj.generator = {"name": "pano-pan"}
    return traj


# ---------------------------------------------------------------- item 4: only regular files are replaced
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_overwrite_never_replaces_a_device_or_a_pipe(tmp_path, clip, capsys, kind):
    import stat

    node = tmp_path / "node.mp4"
    if kind == "fifo":
        os.mkfifo(node)
    else:
        try:
            os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
        except PermissionError:
            pytest.skip("making a device node needs root")
    traj = tmp_path / "t.json"
    still_path(clip).save(traj)
    code, err = pano(capsys, "render", clip, traj, "-o", node, "--overwrite", "-q")
    assert code == 2
    one_error_line(err, str(node), "not a regular file")
    mode = os.lstat(node).st_mode
    assert (stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode))
    assert listing(tmp_path) == ["node.mp4", "t.json"]


# ---------------------------------------------------------------- item 5: --size never stretches the picture
def disk_shape(frame: np.ndarray) -> float:
    """Width over height of the red disk in an RGB frame."""
    red = (frame[..., 0] > 180) & (frame[..., 1] < 120) & (frame[..., 2] < 120)
    rows, cols = np.nonzero(red)
    assert len(rows) > 50, "the disk is not in view"
    return (cols.max() - cols.min() + 1) / (rows.max() - rows.min() + 1)


@pytest.mark.parametrize("size", ["360x640", "640x360", "480x480"])
def test_render_size_of_another_aspect_keeps_the_disk_round(tmp_path, clip, capsys, size):
    from pano.media.video import iter_frames

    traj = tmp_path / "t.json"
    still_path(clip).save(traj)
    out = tmp_path / "out.mp4"
    code, err = pano(capsys, "render", clip, traj, "-o", out, "--size", size)
    assert code == 0, err
    _, _, frame = next(iter(iter_frames(out)))
    assert frame.shape[1::-1] == tuple(int(v) for v in size.split("x"))
    assert disk_shape(frame) == pytest.approx(1.0, abs=0.15)


# ---------------------------------------------------------------- item 6: a pipe as input answers at once
@pytest.mark.parametrize("args", [["{p}", "-o", "out"], ["inspect", "{p}"], ["render", "{p}", "t.json"],
                                  ["view", "{p}", "--no-browser"], ["render", "{clip}", "{p}"]])
def test_a_named_pipe_is_refused_at_once(tmp_path, clip, args):
    """Run in a subprocess: the old code blocked forever on the pipe's second open (no writer)."""
    import subprocess
    import sys

    pipe = tmp_path / "pipe.mp4" if "{clip}" not in args else tmp_path / "pipe.json"
    os.mkfifo(pipe)
    still_path(clip).save(tmp_path / "t.json")
    argv = [a.format(p=pipe, clip=clip) for a in args]
    try:
        proc = subprocess.run([sys.executable, "-m", "cli.main", *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    except subprocess.TimeoutExpired:
        pytest.fail(f"pano-pan {' '.join(argv)} hung on a named pipe")
    assert proc.returncode == 2, proc.stderr
    one_error_line(proc.stderr.strip().splitlines(), str(pipe), "not a regular file")


# ---------------------------------------------------------------- item 10: hostile JSON is one line
HOSTILE_JSON = {
    "deep": '{"samples": ' + "[" * 200_000 + "]" * 200_000 + "}",
    "long number": '{"samples": [{"t": 0, "yaw": ' + "9" * 5000 + ', "pitch": 0}]}',
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON))
@pytest.mark.parametrize("command", ["render", "compare-traj", "compare-ref"])
def test_hostile_trajectory_json_is_one_line(tmp_path, clip, capsys, kind, command):
    bad = tmp_path / "bad.json"
    bad.write_text(HOSTILE_JSON[kind])
    good = tmp_path / "good.json"
    still_path(clip).save(good)
    args = {"render": ["render", clip, bad, "-o", tmp_path / "o.mp4"], "compare-traj": ["compare", bad, good],
            "compare-ref": ["compare", good, bad]}[command]
    code, err = pano(capsys, *args)
    assert code == 2
    one_error_line(err, str(bad), "JSON")


@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON))
def test_hostile_json_to_the_viewer_is_a_400(tmp_path, clip, kind):
    import http.client

    from pano.view.job import open_job
    from pano.view.server import ViewServer

    still_path(clip).save(tmp_path / "clip.trajectory.json")
    srv = ViewServer(open_job(clip, tmp_path / "clip.trajectory.json")).start()
    try:
        host = f"127.0.0.1:{srv.port}"
        body = HOSTILE_JSON[kind].replace('"samples"', '"keyframes"').encode()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("POST", "/api/plan", body=body, headers={"Host": host, "Origin": f"http://{host}",
                                                             "Content-Type": "application/json"})
        resp = conn.getresponse()
        answer = resp.read()
        conn.close()
    finally:
        srv.stop()
    assert resp.status == 400 and b"JSON" in answer


# ---------------------------------------------------------------- item 7: a killed run leaves nothing behind
def test_a_rerun_removes_what_a_sigkilled_run_left(tmp_path):
    """SIGKILL mid-render leaves hidden parts (nothing can run on SIGKILL); the next run removes them, and
    the maps between the passes never had a name in TMPDIR at all."""
    import signal
    import subprocess
    import sys
    import time

    clip = foa_clip(tmp_path / "long.mp4", seconds=4.0, size=(240, 480))
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]), TMPDIR=str(tmp))
    argv = [sys.executable, "-m", "cli.main", "run", str(clip), "-o", str(out), "--size", "1280x720", "-q"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(".part-" in name for name in listing(out))):  # pass 2 has begun
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        assert list(tmp.iterdir()) == []  # the maps file has no name: nothing to leave on SIGKILL
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = [n for n in listing(out) if ".part-" in n]
    assert left, "SIGKILL leaves the parts being written"
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert listing(out) == ["long.nfov.mp4", "long.saliency.mp4", "long.trajectory.json"]
    assert list(tmp.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are told apart through /proc (Linux)")
def test_a_part_of_a_killed_run_not_yet_reaped_is_removed(tmp_path):
    """A run killed with its parent (``timeout -s KILL``) is a zombie until it is reaped: it answers
    ``kill(pid, 0)`` but never writes again, so a rerun started at once removes its parts."""
    import subprocess
    import sys
    import time

    from common.atomic import remove_stale_parts, temp_path_for

    final = tmp_path / "clip.nfov.mp4"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        stat = Path(f"/proc/{ended.pid}/stat")
        while stat.read_bytes().rpartition(b")")[2][1:2] != b"Z":  # ended, not reaped: no poll() or wait()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        part = temp_path_for(final)
        part = part.with_name(part.name.replace(f"-{os.getpid()}-", f"-{ended.pid}-"))
        part.write_bytes(b"part")
        assert remove_stale_parts(final) == [part]
    finally:
        ended.wait()


def test_a_part_of_a_live_run_is_kept(tmp_path):
    """Only parts whose process is gone are removed: two runs into one folder never delete each other's."""
    import subprocess
    import sys

    from common.atomic import remove_stale_parts, temp_path_for

    final = tmp_path / "clip.nfov.mp4"
    mine = temp_path_for(final)
    mine.write_bytes(b"being written")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        theirs = mine.with_name(mine.name.replace(f"-{os.getpid()}-", f"-{live.pid}-"))
        gone = mine.with_name(mine.name.replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
        for p in (theirs, gone):
            p.write_bytes(b"part")
        assert remove_stale_parts(final) == [gone]
        assert mine.exists() and theirs.exists() and not gone.exists()
    finally:
        live.kill()
        live.wait()


def test_a_killed_viewers_sound_files_are_removed_at_the_next_start(tmp_path, clip, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from pano.view.job import open_job
    from pano.view.server import ViewServer

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from common.atomic import _HOST

    stale = tmp_path / "tmp" / f"pano-pan-view-{_HOST}-{dead.pid}-abcd1234"
    stale.mkdir()
    (stale / "view-audio-1.wav").write_bytes(b"RIFF" + bytes(1000))
    still_path(clip).save(tmp_path / "clip.trajectory.json")
    srv = ViewServer(open_job(clip, tmp_path / "clip.trajectory.json"))
    try:
        assert not stale.exists()
        assert len(list((tmp_path / "tmp").iterdir())) == 1  # its own
    finally:
        srv.close()
    assert list((tmp_path / "tmp").iterdir()) == []


# ---------------------------------------------------------------- item 13: a 255-byte input name
def test_an_input_name_of_255_bytes_gets_shortened_output_names(tmp_path, clip, capsys):
    import shutil

    video = tmp_path / ("é" * 125 + "a.mp4")  # 255 bytes in UTF-8
    assert len(video.name.encode()) == 255
    shutil.copy(clip, video)
    out = tmp_path / "out"
    code, err = pano(capsys, video, "-o", out, "--export", "csv")
    assert code == 0, err
    assert any("too long" in line for line in err)
    names = listing(out)
    assert len(names) == 4 and all(len(n.encode()) <= 255 for n in names)
    assert all(n.startswith("é" * 20) for n in names)
    traj = next(out.glob("*.trajectory.json"))
    target = tmp_path / ("b" * 251 + ".mp4")  # a final name that fits; its hidden part must fit too
    code, err = pano(capsys, "render", video, traj, "-o", target, "-q")
    assert code == 0, err
    assert target.stat().st_size > 1000 and not [n for n in listing(tmp_path) if n.startswith(".")]


# ---------------------------------------------------------------- own cases (issue 23's fresh set)
def test_a_file_replaced_between_probe_and_render_is_one_line(tmp_path, clip):
    """Found by trying: the frames of another size reached the renderer (ValueError traceback)."""
    import shutil

    from common.errors import InputError
    from pano.media.probe import probe
    from pano.rendering.render import render_trajectory

    video = foa_clip(tmp_path / "big.mp4", seconds=1.0, size=(240, 480))
    info = probe(video)
    traj = still_path(video)
    small = foa_clip(tmp_path / "small.mp4", seconds=1.0, size=(120, 240))
    shutil.copy(small, video)
    with pytest.raises(InputError, match="frame size changes|changed while it was read"):
        render_trajectory(info, traj, tmp_path / "out.mp4")
    assert not [n for n in listing(tmp_path) if n.startswith(".")]


def test_a_tiny_picture_is_refused_in_one_line(tmp_path, capsys):
    """Found by trying: a 1×1 GIF divided by its zero-height eye (ZeroDivisionError)."""
    gif = tmp_path / "dot.gif"
    gif.write_bytes(bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002"
                                  "024401003b"))
    code, err = pano(capsys, gif, "-o", tmp_path / "out")
    assert code == 2
    one_error_line(err, str(gif), "too small")


def test_an_output_folder_that_is_a_file_is_named_as_such(tmp_path, clip, capsys):
    (tmp_path / "afile").write_text("mine")
    code, err = pano(capsys, clip, "-o", tmp_path / "afile")
    assert code == 2
    one_error_line(err, "afile", "is not a folder")
    assert (tmp_path / "afile").read_text() == "mine"


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_checkpoint_that_is_a_folder_or_a_pipe_is_named_as_such(tmp_path, clip, capsys, kind):
    """Found by trying: both were 'no such checkpoint file'."""
    target = tmp_path / "ckpt"
    target.mkdir() if kind == "folder" else os.mkfifo(target)
    code, err = pano(capsys, clip, "-o", tmp_path / "out", "--localizer", "network", "--checkpoint", target)
    assert code == 2
    one_error_line(err, str(target), "is a folder" if kind == "folder" else "not a regular file")
