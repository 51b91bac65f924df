"""Files appear under their final names only when complete.

Every writer in the project (videos, trajectories, checkpoints, reports, downloads) goes through
:func:`atomic_path`: it writes a hidden sibling (same folder, so the rename is atomic; same suffix, so
muxers and encoders choose the same format) and renames it on success. An exception or Ctrl-C removes
the temporary file, so a half-written file never sits under a name a user or a later run trusts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def temp_path_for(final: Path) -> Path:
    """Hidden sibling of ``final`` that keeps its suffix."""
    return final.with_name(f".{final.stem}.part-{secrets.token_hex(4)}{final.suffix}")


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``final`` if the block succeeds, delete it otherwise."""
    final = Path(final)
    tmp = temp_path_for(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
