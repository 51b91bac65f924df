"""Outputs appear under their final names only when complete.

Every file is written to a hidden temporary name in the destination folder (same filesystem, so the
final rename is atomic) and renamed on success; an exception or Ctrl-C removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from pano.errors import OutputError


def ensure_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it is writable, before any long work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{folder}: cannot create the output folder ({exc.strerror}); choose another with -o"
        ) from None
    if not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; choose another output folder with -o")
    probe = folder / f".pano-pan-write-test-{secrets.token_hex(4)}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"{folder}: the output folder is not writable ({exc.strerror}); choose another with -o"
        ) from None
    return folder


def temp_path_for(final: Path) -> Path:
    """Hidden sibling of ``final`` that keeps its suffix, so muxers pick the same container."""
    return final.with_name(f".{final.stem}.part-{secrets.token_hex(4)}{final.suffix}")


@contextlib.contextmanager
def atomic_output(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``final`` if the block succeeds, delete it otherwise."""
    final = Path(final)
    ensure_writable_dir(final.parent if str(final.parent) else Path("."))
    tmp = temp_path_for(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
