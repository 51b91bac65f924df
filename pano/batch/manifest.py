"""The batch's memory in OUTDIR: one SQLite row per video, so a rerun resumes instead of restarting.

SQLite in WAL mode with every change in one short transaction, so several processes (two batches
started on one OUTDIR by mistake, or the local workers' parent and a reader) never see half a change
and never both claim one video: a claim is an ``UPDATE ... WHERE state = 'pending'`` inside
``BEGIN IMMEDIATE``. A claim records the claiming process's host and pid and a lease that the claimer
renews; a claim whose process is gone (same host, pid dead) or whose lease ran out (any host) is stale,
and its video is redone. Shards of an array job each keep their own manifest file beside the others
(their videos never overlap), because SQLite's locks cannot be trusted across hosts on every shared
file system.

States: ``pending`` → ``running`` → ``done`` | ``failed``. A done video whose outputs are all present
is skipped by a rerun; a failed one is retried only when its file changed (size or time) or with
``retry_failed``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

from common.atomic import pid_alive
from common.errors import OptionError

MANIFEST = "pano-pan-batch"  # OUTDIR/pano-pan-batch.sqlite, or …shard-I-of-N.sqlite
LEASE_SECONDS = 600.0  # a claim not renewed for this long is stale even on another host
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    key TEXT PRIMARY KEY,       -- the input's resolved path
    rel TEXT NOT NULL,          -- output prefix relative to OUTDIR
    state TEXT NOT NULL,        -- pending | running | done | failed
    options_hash TEXT NOT NULL,
    input_size INTEGER, input_mtime REAL,
    host TEXT, pid INTEGER, lease REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    frames INTEGER, wall_s REAL, cpu_s REAL,
    localizer TEXT, outputs TEXT, reason TEXT, notes TEXT,
    started REAL, finished REAL
);
"""
HOST = socket.gethostname()


def options_record(options) -> dict:
    """The options that decide a video's outputs, as JSON-able data (``overwrite`` does not)."""
    data = asdict(options) if is_dataclass(options) else dict(options)
    data.pop("overwrite", None)
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def options_hash(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def manifest_path(outdir: Path, shard: tuple[int, int] | None) -> Path:
    tag = f".shard-{shard[0]}-of-{shard[1]}" if shard else ""
    return outdir / f"{MANIFEST}{tag}.sqlite"


def _file_stamp(path: str) -> tuple[int | None, float | None]:
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    return st.st_size, st.st_mtime


@dataclass
class Row:
    key: str
    rel: str
    state: str
    options_hash: str
    attempts: int = 0
    frames: int | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    localizer: str | None = None
    outputs: list | None = None
    reason: str | None = None
    notes: list | None = None


class Manifest:
    """One OUTDIR's (or one shard's) manifest file; every method is one transaction."""

    def __init__(self, path: Path, options: dict) -> None:
        self.path = path
        self.options = options
        self.hash = options_hash(options)
        self.db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- the option set --------------------------------------------------------------------------
    def stored_options(self) -> dict | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'options'").fetchone()
        return json.loads(row[0]) if row else None

    def adopt_options(self, fresh: bool) -> None:
        """Record this batch's options, or refuse when OUTDIR holds a batch made with other ones."""
        with self._tx() as db:
            stored = self.stored_options()
            if stored is not None and options_hash(stored) != self.hash and not fresh:
                changed = sorted(k for k in set(stored) | set(self.options) if stored.get(k) != self.options.get(k))
                raise OptionError(
                    f"{self.path.parent}: holds a batch made with other options (changed: {', '.join(changed)}); "
                    "give the new options another -o folder, or pass --fresh to redo every video with them"
                )
            if fresh:
                db.execute("DELETE FROM videos")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('options', ?)", (json.dumps(self.options),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('options_hash', ?)", (self.hash,))

    # --- rows --------------------------------------------------------------------------------------
    def add(self, videos, outdir: Path, retry_failed: bool = False) -> None:
        """Make sure every video has a row; a done one whose file changed or whose outputs went missing,
        and a failed one whose file changed (or ``retry_failed``), come back to pending; videos with a
        known problem are failed rows at once."""
        with self._tx() as db:
            for v in videos:
                size, mtime = _file_stamp(v.key)
                old = db.execute("SELECT state, input_size, input_mtime, outputs FROM videos WHERE key = ?",
                                 (v.key,)).fetchone()
                if v.problem is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO videos (key, rel, state, options_hash, input_size, input_mtime, reason,"
                        " finished) VALUES (?, ?, 'failed', ?, ?, ?, ?, ?)",
                        (v.key, v.rel, self.hash, size, mtime, v.problem, time.time()))
                elif old is None:
                    db.execute("INSERT INTO videos (key, rel, state, options_hash, input_size, input_mtime)"
                               " VALUES (?, ?, 'pending', ?, ?, ?)", (v.key, v.rel, self.hash, size, mtime))
                elif old[0] == "failed" and (retry_failed or (old[1], old[2]) != (size, mtime)):
                    db.execute("UPDATE videos SET state = 'pending', reason = NULL, input_size = ?, input_mtime = ?"
                               " WHERE key = ?", (size, mtime, v.key))
                elif old[0] == "done" and ((old[1], old[2]) != (size, mtime) or not all(
                        (outdir / p).is_file() for p in json.loads(old[3] or "[]"))):
                    db.execute("UPDATE videos SET state = 'pending', input_size = ?, input_mtime = ? WHERE key = ?",
                               (size, mtime, v.key))

    def stale_claims(self) -> list[Row]:
        """Rows claimed by a process that is gone (or whose lease ran out): videos that were in flight."""
        now = time.time()
        out = []
        for key, host, pid, lease in self.db.execute(
                "SELECT key, host, pid, lease FROM videos WHERE state = 'running'").fetchall():
            dead = host == HOST and not pid_alive(pid)
            if dead or (lease or 0) < now:
                out.append(key)
        return [self.row(k) for k in out]

    def release(self, keys, only_mine: bool = True) -> None:
        """Claimed videos back to pending (after an interruption, or a stale claim)."""
        with self._tx() as db:
            for key in keys:
                if only_mine:
                    db.execute("UPDATE videos SET state = 'pending', host = NULL, pid = NULL, lease = NULL"
                               " WHERE key = ? AND state = 'running' AND host = ? AND pid = ?",
                               (key, HOST, os.getpid()))
                else:
                    db.execute("UPDATE videos SET state = 'pending', host = NULL, pid = NULL, lease = NULL"
                               " WHERE key = ? AND state = 'running'", (key,))

    def claim(self, keys: list[str]) -> str | None:
        """The first of ``keys`` still pending, now claimed by this process; None when none is left."""
        with self._tx() as db:
            for key in keys:
                cur = db.execute(
                    "UPDATE videos SET state = 'running', host = ?, pid = ?, lease = ?, attempts = attempts + 1,"
                    " started = ?, options_hash = ? WHERE key = ? AND state = 'pending'",
                    (HOST, os.getpid(), time.time() + LEASE_SECONDS, time.time(), self.hash, key))
                if cur.rowcount:
                    return key
        return None

    def renew(self) -> None:
        """Extend the lease of every claim this process holds (called while work goes on)."""
        with self._tx() as db:
            db.execute("UPDATE videos SET lease = ? WHERE state = 'running' AND host = ? AND pid = ?",
                       (time.time() + LEASE_SECONDS, HOST, os.getpid()))

    def finish(self, key: str, result: dict) -> None:
        """Record a video's outcome: ``result`` from :func:`pano.batch.job.run_video`."""
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET state = ?, frames = ?, wall_s = ?, cpu_s = ?, localizer = ?, outputs = ?,"
                " reason = ?, notes = ?, finished = ?, host = NULL, pid = NULL, lease = NULL WHERE key = ?",
                ("done" if result.get("ok") else "failed", result.get("frames"), result.get("wall_s"),
                 result.get("cpu_s"), result.get("localizer"), json.dumps(result.get("outputs") or []),
                 result.get("reason"), json.dumps(result.get("notes") or []), time.time(), key))

    def row(self, key: str) -> Row:
        r = self.db.execute("SELECT key, rel, state, options_hash, attempts, frames, wall_s, cpu_s, localizer,"
                            " outputs, reason, notes FROM videos WHERE key = ?", (key,)).fetchone()
        return Row(*r[:9], json.loads(r[9]) if r[9] else None, r[10], json.loads(r[11]) if r[11] else None)

    def rows(self, keys=None) -> list[Row]:
        all_keys = [k for (k,) in self.db.execute("SELECT key FROM videos ORDER BY rel").fetchall()]
        wanted = set(keys) if keys is not None else None
        return [self.row(k) for k in all_keys if wanted is None or k in wanted]

    def complete(self, key: str, outdir: Path) -> bool:
        """Done with these options, and every output it recorded is still there."""
        r = self.row(key)
        return (r.state == "done" and r.options_hash == self.hash
                and all((outdir / p).is_file() for p in (r.outputs or [])))


def sibling_options(outdir: Path, mine: Path) -> list[tuple[Path, dict]]:
    """The option sets of the other manifests in OUTDIR (other shards), read only."""
    out = []
    for path in sorted(outdir.glob(f"{MANIFEST}*.sqlite")):
        if path.resolve() == mine.resolve():
            continue
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'options'").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            continue
        if row:
            out.append((path, json.loads(row[0])))
    return out
