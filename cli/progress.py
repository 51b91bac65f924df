"""A one-line progress display per pass (frames, rate, ETA), only when stderr is a terminal."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

import click


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def make_progress(enabled: bool) -> Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]:
    """A factory for the pipeline's ``progress`` hook; silent when disabled or not on a terminal."""
    live = enabled and sys.stderr.isatty()

    @contextlib.contextmanager
    def progress(name: str, total: int) -> Iterator[Callable[[int], None]]:
        done = 0
        start = last = time.monotonic()

        def draw(final: bool = False) -> None:
            elapsed = max(time.monotonic() - start, 1e-9)
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
            if live and now - last > 0.2:
                last = now
                draw()

        try:
            yield advance
        finally:
            if live:
                draw(final=True)

    return progress
