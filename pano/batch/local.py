"""The local engine: ``--jobs N`` worker processes on this machine, each under a thread budget.

Workers are *spawned* (not forked) after the parent set the budget's environment, so each one's BLAS
and OpenMP pools start at the budget's size (:mod:`common.threads`). A worker takes one video at a
time from its own queue, runs it (:func:`pano.batch.job.run_video`) and sends progress and the result
back on a shared queue. A worker that dies (a crash inside a codec on a hostile file) costs its one
video a failed row; the parent starts another. A worker whose parent is gone (killed with SIGKILL)
stops at the next frame, and its run's output set removes the temporaries.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import shutil
import signal
import tempfile
import time
from pathlib import Path

from common.interrupt import Interrupted, handle_signals
from common.threads import apply_budget, budget_environment

FRAME_EVENTS_EVERY = 0.25  # seconds between progress messages from a worker


def _worker(wid: int, tasks, events, parent: int, threads: int, tmp_root: str) -> None:
    apply_budget(threads)
    tmp = Path(tmp_root) / f"{os.uname().nodename}-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(tmp)  # a killed run's spill files stay where the next batch finds them
    from pano.batch.job import run_video

    try:
        with handle_signals():
            while True:
                try:
                    task = tasks.get(timeout=1.0)
                except queue.Empty:
                    if os.getppid() != parent:
                        return
                    continue
                if task is None:
                    return
                key = task["key"]
                pending, last = 0, time.monotonic()

                def report(kind: str, n: int, key: str = key) -> None:
                    nonlocal pending, last
                    if os.getppid() != parent:  # the batch was killed: stop, cleaning up
                        raise Interrupted(signal.SIGHUP)
                    if kind == "frames":
                        pending += n
                        now = time.monotonic()
                        if now - last < FRAME_EVENTS_EVERY:
                            return
                        n, pending, last = pending, 0, now
                    events.put((wid, kind, key, n))

                try:
                    result = run_video(task, report)
                except Interrupted:
                    events.put((wid, "interrupted", key, None))
                    return
                if pending:
                    events.put((wid, "frames", key, pending))
                events.put((wid, "result", key, result))
    except Interrupted:
        return
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class LocalEngine:
    """Hands one video at a time to each of ``jobs`` worker processes."""

    name = "local"

    def __init__(self, jobs: int, threads: int, tmp_root: Path) -> None:
        self.jobs, self.threads, self.tmp_root = jobs, threads, tmp_root
        self.ctx = mp.get_context("spawn")
        self.events = self.ctx.Queue()
        self.workers: dict[int, tuple] = {}  # wid -> (process, task queue)
        self.busy: dict[int, str] = {}  # wid -> key
        self._next = 0

    def free(self) -> int:
        return self.jobs - len(self.busy)

    def _start(self) -> int:
        wid, self._next = self._next, self._next + 1
        tasks = self.ctx.Queue()
        proc = self.ctx.Process(target=_worker, name=f"pano-pan-batch-{wid}", daemon=True,
                                args=(wid, tasks, self.events, os.getpid(), self.threads, str(self.tmp_root)))
        with budget_environment(self.threads):  # what the child sees before it imports NumPy
            proc.start()
        self.workers[wid] = (proc, tasks)
        return wid

    def submit(self, task: dict) -> None:
        idle = [w for w in self.workers if w not in self.busy]
        wid = idle[0] if idle else self._start()
        self.busy[wid] = task["key"]
        self.workers[wid][1].put(task)

    def poll(self, timeout: float) -> list[tuple[str, str, object]]:
        """Events ``(kind, key, payload)``: ``pass``/``frames`` counts, ``result`` dicts, ``interrupted``."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                wid, kind, key, payload = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            out.append((kind, key, payload))
            if kind in ("result", "interrupted"):
                self.busy.pop(wid, None)
            if kind == "interrupted":
                self.workers.pop(wid, None)
            if time.monotonic() >= deadline:
                break
        for wid, (proc, _tasks) in list(self.workers.items()):
            if not proc.is_alive():
                self.workers.pop(wid)
                key = self.busy.pop(wid, None)
                if key is not None:
                    code = proc.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    out.append(("result", key, {"key": key, "ok": False, "reason":
                                f"the worker process died ({how}) while running this video; it may be a "
                                "damaged file that crashes the decoder"}))
        return out

    def close(self, interrupted: bool = False) -> None:
        for _proc, tasks in self.workers.values():
            tasks.put(None)
        if interrupted:
            for proc, _tasks in self.workers.values():
                if proc.is_alive():
                    proc.terminate()  # SIGTERM: the run inside cleans up like Ctrl-C
        for proc, _tasks in self.workers.values():
            proc.join(timeout=15)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.workers.clear()
        self.busy.clear()
