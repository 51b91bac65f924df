"""Progress per pass (frames, rate, ETA): a line redrawn on a terminal, or JSON lines for programs.

``--progress json`` prints one JSON object per update on stderr, e.g.
``{"event": "progress", "pass": "analysing", "frames": 120, "total": 300, "fps": 41.2, "eta_s": 4.4,
"done": false}``; each pass ends with ``"done": true``. GUIs and batch tools read these instead of
scraping the terminal line, which appears only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator

import click

JSON_EVERY = 0.5  # seconds between JSON progress lines (the first and last always come)


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_record(name: str, done: int, total: int, elapsed: float, final: bool) -> dict:
    """One machine-readable progress update."""
    rate = done / max(elapsed, 1e-9)
    eta = 0.0 if final else ((total - done) / rate if total and rate > 0 else None)
    return {"event": "progress", "pass": name, "frames": done, "total": total or None, "fps": round(rate, 2),
            "elapsed_s": round(elapsed, 2), "eta_s": None if eta is None else round(max(eta, 0.0), 2),
            "done": final}


def make_progress(mode: bool | str) -> Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]:
    """A factory for the pipeline's ``progress`` hook. ``mode``: ``auto`` (or True) draws a line when
    stderr is a terminal, ``json`` prints JSON lines always, ``none`` (or False) nothing."""
    mode = {True: "auto", False: "none"}.get(mode, mode) if isinstance(mode, bool) else mode
    as_json = mode == "json"
    live = as_json or (mode == "auto" and sys.stderr.isatty())

    @contextlib.contextmanager
    def progress(name: str, total: int) -> Iterator[Callable[[int], None]]:
        done = 0
        start = time.monotonic()
        last = start - (JSON_EVERY if as_json else 0.0)  # JSON: the first update prints at once

        def draw(final: bool = False) -> None:
            elapsed = max(time.monotonic() - start, 1e-9)
            if as_json:
                click.echo(json.dumps(progress_record(name, done, total, elapsed, final)), err=True)
                return
            rate = done / elapsed
            if total and not final:
                eta = (total - done) / rate if rate > 0 else 0
                tail = f"{done}/{total} frames  {rate:5.1f} fps  ETA {_clock(eta)}"
            else:
                tail = f"{done} frames  {rate:5.1f} fps  {_clock(elapsed)}"
            click.echo(f"\r{name:<10} {tail}\x1b[K", nl=final, err=True)

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = time.monotonic()
            if live and now - last > (JSON_EVERY if as_json else 0.2):
                last = now
                draw()

        try:
            yield advance
        finally:
            if live:
                draw(final=True)

    return progress
