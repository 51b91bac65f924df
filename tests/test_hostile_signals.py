"""Ctrl-C, SIGTERM and SIGHUP at any moment (issue 14): the program stops promptly, exits 128 + signal,
and leaves no hidden temporaries and no partial outputs."""

from __future__ import annotations

import faulthandler
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_hostile_inputs import ROOT, listing

from clips import foa_clip
from common.interrupt import Interrupted, handle_signals
from pano.media.video import read_frame_times as frame_times
from pano.paths.trajectory import Trajectory
from pano.rendering.render import render_trajectory


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("sig") / "clip.mp4", seconds=6.0, size=(120, 240))


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pano-pan-writer" and t.is_alive()]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_during_rendering_cleans_up(tmp_path, clip, sig, code):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", str(clip), "-o", str(out), "--size", "1280x720"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out.is_dir() and any(".part-" in name for name in listing(out))):  # pass 2 has begun
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    last = err.strip().splitlines()[-1]
    assert last == f"pano-pan: interrupted ({signal.Signals(sig).name}); no partial output was kept"
    assert "Traceback" not in err
    assert listing(out) == []


def test_random_interrupts_never_hang_or_leave_files(tmp_path):
    """Interrupt rendering at random moments, many times; a hang trips the watchdog and fails the run."""
    clip = foa_clip(tmp_path / "short.mp4", seconds=1.5, size=(120, 240))
    t = frame_times(clip)
    traj = Trajectory(t=t, yaw=np.linspace(-90, 90, len(t)), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    out = tmp_path / "out"
    out.mkdir()
    rng = random.Random(14)
    # Interrupt within the time one render takes on this machine, so the attempts land mid-render
    # however fast or loaded the machine is.
    start = time.monotonic()
    render_trajectory(clip, traj, out / "v.mp4", size=(320, 180), saliency_path=out / "s.mp4")
    span = time.monotonic() - start
    for name in listing(out):
        (out / name).unlink()
    faulthandler.dump_traceback_later(180, exit=True)
    interrupted = 0
    try:
        for attempt in range(30):
            timer = threading.Timer(rng.uniform(0.0, 0.8 * span), os.kill, (os.getpid(), signal.SIGINT))
            try:
                with handle_signals():
                    timer.start()
                    try:
                        render_trajectory(clip, traj, out / "v.mp4", size=(320, 180), saliency_path=out / "s.mp4")
                    except Interrupted:
                        interrupted += 1
                    finally:
                        timer.cancel()
                        timer.join()
                    time.sleep(0.01)  # a signal sent just after the render ends lands here, inside the handler
            except Interrupted:
                interrupted += 1
            leftovers = [name for name in listing(out) if name.startswith(".")]
            assert leftovers == [], (attempt, leftovers)
            deadline = time.monotonic() + 5
            while writer_threads() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert writer_threads() == [], attempt
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert interrupted >= 10  # most attempts really were interrupted mid-way


def test_a_failing_writer_stops_the_render(tmp_path, monkeypatch):
    import pano.rendering.render as pipeline

    clip = foa_clip(tmp_path / "short.mp4", seconds=1.0, size=(120, 240))
    t = frame_times(clip)
    traj = Trajectory(t=t, yaw=np.zeros(len(t)), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("overlay failed")
        return pipeline.draw_saliency_frame.__wrapped__(*args) if hasattr(pipeline.draw_saliency_frame,
                                                                          "__wrapped__") else args[0]

    monkeypatch.setattr(pipeline, "draw_saliency_frame", failing)
    with pytest.raises(RuntimeError, match="overlay failed"):
        render_trajectory(clip, traj, tmp_path / "v.mp4", size=(64, 36), saliency_path=tmp_path / "s.mp4")
    assert len(calls) < len(t)  # stopped early, not after decoding everything
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.mp4"]
    assert writer_threads() == []


def test_an_interrupted_render_does_not_finish_the_queued_work(tmp_path, monkeypatch):
    """After Ctrl-C the writer threads stop after the item in hand instead of draining their queues."""
    import pano.rendering.render as pipeline

    clip = foa_clip(tmp_path / "short.mp4", seconds=2.0, size=(120, 240))
    t = frame_times(clip)
    traj = Trajectory(t=t, yaw=np.zeros(len(t)), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    signalled = threading.Event()
    after_signal = []
    real_draw = pipeline.draw_saliency_frame

    def slow_draw(*args):
        if signalled.is_set():
            after_signal.append(1)
        time.sleep(0.1)  # a slow overlay: its queue is full when the signal comes
        return real_draw(*args)

    def interrupt_now():
        signalled.set()
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(pipeline, "draw_saliency_frame", slow_draw)
    timer = threading.Timer(0.6, interrupt_now)
    with handle_signals(), pytest.raises(KeyboardInterrupt):
        timer.start()
        try:
            render_trajectory(clip, traj, tmp_path / "v.mp4", size=(64, 36), saliency_path=tmp_path / "s.mp4")
        finally:
            timer.cancel()
    assert signalled.is_set()
    assert len(after_signal) <= 2  # the one in hand (and one begun before the main thread saw the signal)
    assert writer_threads() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.mp4"]


def test_a_render_on_another_thread_does_not_swallow_ctrl_c(tmp_path):
    """``pano-pan view`` renders on a background thread: Ctrl-C must still reach the main thread."""
    clip = foa_clip(tmp_path / "short.mp4", seconds=3.0, size=(120, 240))
    t = frame_times(clip)
    traj = Trajectory(t=t, yaw=np.zeros(len(t)), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    worker = threading.Thread(target=render_trajectory, args=(clip, traj, tmp_path / "v.mp4"),
                              kwargs={"size": (640, 360)}, daemon=True)
    caught = False
    with handle_signals():
        worker.start()
        time.sleep(0.3)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            while worker.is_alive():
                time.sleep(0.02)
        except Interrupted:
            caught = True
    worker.join(timeout=60)
    assert caught  # raised in the main thread while the render was still running
