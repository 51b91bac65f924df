"""The progress protocol every long pass reports through, with no terminal knowledge.

A pass asks a factory for a context manager with its name and frame count and calls what it yields
with each batch's frame count; the CLI's factory draws a line on a terminal, library callers pass
their own or none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

# (pass name, total frames) -> context manager yielding an "advance by n frames" callable
ProgressFactory = Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def no_progress(_name: str, _total: int) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None
