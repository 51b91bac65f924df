"""Handing the heap's free pages back to the system between a run's passes (glibc only).

glibc keeps the pages of freed memory for reuse, and each thread allocates from its own arena: what
planning a long video held for a moment stays resident in the main thread's heap, and the render's
threads, allocating in theirs, cannot reuse it, so the render's memory came on top (a two-hour run:
planning at 225 MB, the render at 276).
"""

from __future__ import annotations

import sys


def release_free_memory() -> bool:
    """``malloc_trim(0)``: return every arena's free pages to the system. Whether any were; False where
    the C library has no such call (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False
