"""One video of a batch, run where a worker is (a local worker process or a Ray task).

:func:`run_video` never raises for a bad video: a ``UserError`` (damaged file, no audio, not 360°) and
an unexpected error alike come back as a failed result with a one-line reason, so one file is one
failed row and the batch goes on. Only an interruption leaves by exception, after the run's output set
removed its temporaries.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from common.errors import UserError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def thumbnails(nfov: Path, times: list[float], folder: Path, stem: str, width: int = 160) -> list[Path]:
    """Small JPEGs of the NFOV video at ``times`` (the shots' starts), for the report page."""
    import av
    import cv2

    from common.outputs import atomic_output, ensure_writable_dir

    ensure_writable_dir(folder)
    out = []
    with av.open(str(nfov)) as container:
        stream = container.streams.video[0]
        for i, t in enumerate(times):
            container.seek(int(t / stream.time_base), stream=stream, backward=True)
            frame = None
            for f in container.decode(stream):
                frame = f
                if f.pts is not None and float(f.pts * stream.time_base) >= t - 1e-3:
                    break
            if frame is None:
                continue
            h = max(2, round(frame.height * width / frame.width))
            rgb = frame.to_ndarray(format="rgb24", width=width, height=h)
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                path = folder / f"{stem}.shot-{i}.jpg"
                with atomic_output(path) as tmp:
                    tmp.write_bytes(data.tobytes())
                out.append(path)
    return out


def shot_starts(trajectory) -> list[float]:
    """The start time of each shot: the first frame and every cut."""
    import numpy as np

    t = np.asarray(trajectory.t, float)
    cut = np.asarray(trajectory.cut, bool) if trajectory.cut is not None else np.zeros(len(t), bool)
    starts = [0] + [int(i) for i in np.flatnonzero(cut) if i > 0]
    return [float(t[i]) for i in starts if i < len(t)]


def _threads_in_use() -> dict:
    """What this process's pools were capped at (the batch's thread budget, checked by the tests)."""
    import cv2

    from common.threads import POOL_VARS, budget

    return {"budget": budget(), "opencv": cv2.getNumThreads(), **{v: os.environ.get(v) for v in POOL_VARS}}


def run_video(task: dict, report: Callable[[str, int], None] | None = None) -> dict:
    """Run ``task`` (``key``, ``path``, ``rel``, ``outdir``, ``options``: a ``RunOptions``) and say how it
    went: ``ok``, ``frames``, ``wall_s``, ``cpu_s`` (this process, all threads), ``outputs`` (relative to
    OUTDIR), ``reason`` for a failure, ``notes``. ``report(kind, n)`` hears ``("pass", frames)`` as each
    pass starts and ``("frames", n)`` as it advances (the batch's progress line)."""
    from pano.paths.trajectory import Trajectory
    from pano.pipeline import run

    outdir = Path(task["outdir"])
    target = outdir / Path(task["rel"]).parent
    notes: list[str] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = {"key": task["key"], "ok": False, "notes": notes}

    report = report or (lambda _kind, _n: None)

    @contextlib.contextmanager
    def progress(_name: str, total: int):
        report("pass", total)
        yield lambda n: report("frames", n)

    try:
        done = run(task["path"], target, task["options"], progress=progress, notify=notes.append)
        outputs = [done.nfov, done.saliency, done.trajectory, *done.extra_outputs]
        if task.get("thumbs"):  # OUTDIR/pano-pan-batch.thumbs, mirrored like the outputs
            try:
                folder = Path(task["thumbs"]) / Path(task["rel"]).parent
                outputs += thumbnails(done.nfov, shot_starts(Trajectory.load(done.trajectory)), folder,
                                      Path(task["rel"]).name)
            except Exception as exc:  # a report nicety never fails a video
                notes.append(f"no thumbnails: {_one_line(exc)}")
        result.update(ok=True, frames=done.frames, localizer=done.localizer,
                      outputs=[os.path.relpath(p, outdir) for p in outputs if p is not None])
    except UserError as exc:
        result["reason"] = _one_line(exc)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a bug or a library failure on this file: a failed row, not a dead batch
        where = traceback.extract_tb(exc.__traceback__)[-1]
        result["reason"] = _one_line(f"{task['path']}: internal error {type(exc).__name__}: {exc} "
                                     f"(at {Path(where.filename).name}:{where.lineno}); please report it")
    result["threads"] = _threads_in_use()
    result["wall_s"] = time.perf_counter() - wall0
    result["cpu_s"] = time.process_time() - cpu0
    return result
