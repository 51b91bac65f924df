"""A batch from start to summary: videos → manifest → engine → manifest → report.

The loop claims a video in the manifest before handing it to the engine and records its result as it
comes back, renewing the leases of its claims meanwhile, so at every moment the manifest says which
videos are complete, which failed and why, and which are in flight under a live process. A rerun
after a crash therefore redoes only the videos that were in flight (their claims are stale) and
removes the temporaries they left.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.atomic import pid_alive
from common.outputs import ensure_writable_dir
from common.threads import available_cores, per_job
from pano.batch.inputs import Video, take_shard
from pano.batch.manifest import HOST, MANIFEST, Manifest, manifest_path, options_record, sibling_options
from pano.batch.report import write_csv, write_html

RENEW_EVERY = 30.0  # seconds between lease renewals
_TEMP = re.compile(r"\.part-[0-9a-f]{8}|\.old-[0-9a-f]{8}$")  # common.atomic's temporaries and backups


@dataclass
class BatchResult:
    done: list = field(default_factory=list)  # manifest rows finished in this batch
    failed: list = field(default_factory=list)  # failed in this batch
    failed_before: list = field(default_factory=list)  # failed earlier, file unchanged: not retried
    skipped: list = field(default_factory=list)  # complete before this batch
    redone: list = field(default_factory=list)  # keys that were in flight when an earlier batch stopped
    report: Path | None = None
    html: Path | None = None
    manifest: Path | None = None
    wall_s: float = 0.0
    frames: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.failed_before


class Progress:
    """Videos, frames and an ETA over the whole batch (frames of unstarted videos are estimated by the
    mean of the started ones)."""

    def __init__(self, total_videos: int, skipped: int) -> None:
        self.total, self.finished, self.failed = total_videos, skipped, 0
        self.start = time.monotonic()
        self.known: dict[str, int] = {}  # key -> frames (the first pass's count)
        self.units = 0  # frames advanced over all passes
        self.closed: set[str] = set()

    def event(self, kind: str, key: str, n) -> None:
        if kind == "pass":
            self.known.setdefault(key, n)
        elif kind == "frames":
            self.units += n

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        mean = (sum(self.known.values()) / len(self.known)) if self.known else 0
        todo_videos = self.total - self.finished - len(set(self.known) - self.closed)
        expected = 2 * (sum(self.known.values()) + mean * max(0, todo_videos))
        frames = self.units // 2
        eta = (expected - self.units) * elapsed / self.units if self.units and expected > self.units else None
        tail = f"  ETA {_clock(eta)}" if eta is not None else ""
        fail = f" ({self.failed} failed)" if self.failed else ""
        return (f"videos {self.finished}/{self.total}{fail}  frames {frames}/~{int(expected // 2)}  "
                f"{_clock(elapsed)}{tail}")

    def close(self, key: str, ok: bool) -> None:
        self.closed.add(key)
        self.finished += 1
        self.failed += 0 if ok else 1


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def remove_temporaries(outdir: Path, rel: str) -> list[Path]:
    """The hidden temporaries a killed run of the video at ``rel`` left beside its outputs."""
    prefix = Path(rel)
    gone = []
    for folder in (outdir / prefix.parent, outdir / f"{MANIFEST}.thumbs" / prefix.parent):
        for path in glob.glob(str(folder / f".{glob.escape(prefix.name)}.*")):
            if _TEMP.search(Path(path).name):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    gone.append(Path(path))
    return gone


def remove_dead_workers_temp(tmp_root: Path) -> None:
    """Spill folders of this host's worker processes that are gone (``<host>-<pid>``)."""
    if not tmp_root.is_dir():
        return
    for d in tmp_root.iterdir():
        host, _, pid = d.name.rpartition("-")
        if host == HOST and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def run_batch(
    items: list[Video],
    outdir: str | Path,
    options,
    jobs: int | None = None,
    shard: tuple[int, int] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    fresh: bool = False,
    retry_failed: bool = False,
    say: Callable[[str], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> BatchResult:
    """Run every video of ``items`` (this shard's share) with ``options`` (a ``RunOptions``) into
    ``outdir``; see the module docstring. ``say`` hears one line per finished video, ``status`` the
    overall progress line."""
    say = say or (lambda _m: None)
    status = status or (lambda _m: None)
    outdir = ensure_writable_dir(outdir)
    started = time.monotonic()
    items = take_shard(items, shard)
    record = options_record(options)
    mpath = manifest_path(outdir, shard)
    for other, stored in sibling_options(outdir, mpath):
        if stored != record:
            from common.errors import OptionError

            raise OptionError(f"{outdir}: {other.name} was made with other options; every shard of one "
                              "OUTDIR needs the same options (or give this batch another -o)")
    manifest = Manifest(mpath, record)
    result = BatchResult(manifest=mpath)
    try:
        manifest.adopt_options(fresh)
        stale = manifest.stale_claims()
        manifest.release([r.key for r in stale], only_mine=False)
        for r in stale:
            remove_temporaries(outdir, r.rel)
        tmp_root = outdir / f".{MANIFEST}.tmp"
        remove_dead_workers_temp(tmp_root)
        manifest.add(items, outdir, retry_failed)
        keys = [v.key for v in items]
        before = {r.key: r for r in manifest.rows(keys)}
        result.skipped = [r for r in before.values() if r.state == "done"]
        result.failed_before = [r for r in before.values() if r.state == "failed"]
        result.redone = [r.key for r in stale if r.key in before]
        todo = [k for k in keys if before[k].state == "pending"]
        rel = {v.key: v.rel for v in items}
        by_key = {v.key: v for v in items}
        jobs = jobs or (1 if engine == "local" else None)  # ray: as many as the cluster's CPUs allow
        progress = Progress(len(keys), len(result.skipped) + len(result.failed_before))
        progress.failed = len(result.failed_before)
        _run(manifest, todo, by_key, rel, outdir, options, engine, jobs, ray_address, tmp_root,
             progress, result, say, status)
    finally:
        try:
            rows = manifest.rows()
            tag = mpath.name.removesuffix(".sqlite")
            result.report = write_csv(outdir / f"{tag}.csv", rows)
            result.html = write_html(outdir / f"{tag}.html", rows)
        finally:
            manifest.close()
            remove_dead_workers_temp(outdir / f".{MANIFEST}.tmp")  # also those that died while this batch ran
            with contextlib.suppress(OSError):
                (outdir / f".{MANIFEST}.tmp").rmdir()  # only when empty: other batches may be at work
    result.wall_s = time.monotonic() - started
    return result


def _run(manifest: Manifest, todo: list[str], by_key: dict, rel: dict, outdir: Path, options, engine: str,
         jobs: int | None, ray_address: str | None, tmp_root: Path, progress: Progress,
         result: BatchResult, say, status) -> None:
    if not todo:
        return
    if engine == "ray":
        from pano.batch.ray_engine import RayEngine

        worker = RayEngine(jobs, ray_address)
    else:
        from pano.batch.local import LocalEngine

        worker = LocalEngine(jobs, per_job(jobs, available_cores()), tmp_root)
    inflight: set[str] = set()
    queue_ = list(todo)
    renewed = time.monotonic()
    interrupted = True
    try:
        while True:
            while queue_ and worker.free() > 0:
                key = manifest.claim(queue_[:1])
                queue_.pop(0)
                if key is None:  # another batch process took it meanwhile
                    continue
                remove_temporaries(outdir, rel[key])
                worker.submit({"key": key, "path": str(by_key[key].path), "rel": rel[key], "outdir": str(outdir),
                               "options": options, "thumbs": str(outdir / f"{MANIFEST}.thumbs")})
                inflight.add(key)
            if not inflight:
                break
            for kind, key, payload in worker.poll(0.25):
                if kind == "result":
                    manifest.finish(key, payload)
                    inflight.discard(key)
                    row = manifest.row(key)
                    (result.done if row.state == "done" else result.failed).append(row)
                    progress.close(key, row.state == "done")
                    if row.state == "done":
                        result.frames += row.frames or 0
                        say(f"done    {row.rel} ({row.frames} frames, {row.wall_s:.1f} s)")
                    else:
                        say(f"failed  {row.rel}: {row.reason}")
                elif kind == "interrupted":
                    inflight.discard(key)
                    manifest.release([key])
                else:
                    progress.event(kind, key, payload)
            status(progress.line())
            if time.monotonic() - renewed > RENEW_EVERY:
                manifest.renew()
                renewed = time.monotonic()
        interrupted = False
    finally:
        worker.close(interrupted=interrupted)
        if inflight:
            manifest.release(list(inflight))
            for key in inflight:
                remove_temporaries(outdir, rel[key])
