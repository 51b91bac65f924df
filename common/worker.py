"""One background thread fed through a short queue, that never blocks a signal or hides an error.

The renderer encodes on it while the main thread decodes, so a second core is used; see
:class:`Worker`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from common import interrupt
from common.interrupt import POLL_SECONDS

_END = object()  # queued after the last item: the worker returns once everything before it is done


class Worker:
    """Runs ``fn(item)`` for queued items on one background thread, so the saliency overlay and its
    encoder use the second core while the main thread decodes and renders the NFOV view. The queue is
    short, so memory stays a few frames; an error in the worker is re-raised in the caller.

    No wait blocks for long: every ``put``/``get``/``join`` polls with a short timeout, looking at the
    other side (a failed worker, a stop request) and at pending signals (``common.interrupt``), so
    an error or Ctrl-C on either side stops both, and :meth:`close` with ``abort`` returns at once
    after the item in hand.
    """

    def __init__(self, fn: Callable, depth: int = 4) -> None:
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="pano-pan-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._fn(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller in put()/close()
                self._error = exc
                self._stop.set()
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item) -> None:
        while True:
            self._raise_error()
            interrupt.check()
            if not self._thread.is_alive():
                raise RuntimeError("the writer thread stopped unexpectedly")
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def close(self, abort: bool = False) -> None:
        """Finish the queued items (``abort``: only the one in hand) and stop the thread.

        A signal while draining turns the close into an abort: the thread is stopped either way, so no
        writer thread outlives its render.
        """
        if self._closed:
            return
        try:
            if not abort:
                while self._thread.is_alive() and self._error is None:
                    interrupt.check()
                    try:
                        self._queue.put(_END, timeout=POLL_SECONDS)
                        break
                    except queue.Full:
                        continue
                while self._thread.is_alive():
                    interrupt.check()
                    self._thread.join(timeout=POLL_SECONDS)
        finally:
            self._stop.set()  # a no-op after a clean drain; otherwise the thread ends after the item in hand
            while self._thread.is_alive():
                self._thread.join(timeout=POLL_SECONDS)
            self._closed = True
        if not abort:
            self._raise_error()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """As an ExitStack member: drain on success, abort when unwinding an error or a signal."""
        self.close(abort=exc_type is not None)
