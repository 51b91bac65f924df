"""Ctrl-C, SIGTERM and SIGHUP: clean up and leave, never hang.

Python delivers a signal as an exception raised between two bytecodes of the main thread. Raised inside
``queue.Queue.put`` or ``threading.Lock`` code it can leave an internal lock held, and the next wait on
it (a worker's ``get``, the main thread's ``join``) never returns: Ctrl-C during rendering hung about 2
runs in 150. So the CLI turns the three signals into one exception type, :class:`Interrupted`, and code
that runs worker threads opens :func:`deferred`: inside it a first signal only sets a flag, which the
main thread turns into :class:`Interrupted` at a safe point (:func:`check`, called between frames and in
every polling wait). A second signal is raised at once, so nothing can make the program ignore it.
Cleanup then runs as for any exception (``OutputSet`` deletes its temporaries) and the CLI exits with
128 + the signal number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
POLL_SECONDS = 0.1  # longest a wait goes without looking at the flag and at its worker


class Interrupted(KeyboardInterrupt):
    """A signal asked the program to stop; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


_pending: int | None = None
_defer_depth = 0


def _handler(signum: int, _frame) -> None:
    global _pending
    if _defer_depth > 0 and _pending is None:
        _pending = signum
        return
    raise Interrupted(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Route SIGINT, SIGTERM and SIGHUP to :class:`Interrupted` for the block (main thread only)."""
    if not _in_main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in HANDLED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block where the first signal waits for :func:`check` (see the module docstring).

    Installs the handler for SIGINT if Python's default one is in place (library use), so the block
    is safe even outside the CLI.
    """
    global _defer_depth, _pending
    if not _in_main_thread():  # signals reach the main thread only; another thread's block changes nothing
        yield
        return
    swapped = None
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        swapped = signal.signal(signal.SIGINT, _handler)
    _defer_depth += 1
    try:
        yield
    except BaseException:
        if _defer_depth == 1:
            _pending = None  # the block is already leaving with an exception; the signal is answered
        raise
    finally:
        _defer_depth -= 1
        if swapped is not None:
            signal.signal(signal.SIGINT, swapped)
    if _defer_depth == 0:  # an inner block's end is no safe point for the outer one
        check()


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived in a :func:`deferred` block (main thread only)."""
    global _pending
    if _pending is not None and _in_main_thread():
        signum, _pending = _pending, None
        raise Interrupted(signum)
