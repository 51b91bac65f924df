"""Output folders checked before long work starts, atomic writes into them, and pano-pan's own files.

The atomic write itself is :func:`common.atomic.atomic_path` (and :class:`common.atomic.OutputSet`
for a run's several outputs), shared with checkpoints, reports and downloads; this module adds the
up-front "is the folder writable?" check with a message that says to pick another folder with ``-o``,
and :func:`output_set`, whose outputs may replace the files pano-pan wrote
(:func:`common.ownership.written_by_pano_pan`) but no input.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.atomic import OutputSet, atomic_path
from common.errors import OutputError
from common.ownership import written_by_pano_pan


def ensure_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it is writable, before any long work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{folder}: exists and is not a folder; choose another output folder with -o") from None
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


@contextlib.contextmanager
def atomic_output(final: str | Path) -> Iterator[Path]:
    """:func:`common.atomic.atomic_path`, after proving the folder is writable (a clear error first)."""
    final = Path(final)
    ensure_writable_dir(final.parent if str(final.parent) else Path("."))
    with atomic_path(final) as tmp:
        yield tmp


def output_set(inputs: Iterable[str | Path | None], overwrite: bool = False) -> OutputSet:
    """An :class:`~common.atomic.OutputSet` that may replace files pano-pan wrote, and no input."""
    return OutputSet(inputs, overwrite=overwrite, recognise=written_by_pano_pan)
