"""Output folders checked before long work starts, atomic writes into them, and pano-pan's own files.

The atomic write itself is :func:`common.atomic.atomic_path` (and :class:`common.atomic.OutputSet`
for a run's several outputs), shared with checkpoints, reports and downloads; this module adds the
up-front "is the folder writable?" check with a message that says to pick another folder with ``-o``,
and :func:`written_by_pano_pan`, which recognises the files pano-pan may replace without
``--overwrite``: each format carries a mark of who wrote it (MP4 ``comment`` tag, JSON ``generator``,
the CSV's exact header, a comment line in scripts, a PNG ``Software`` text chunk).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.atomic import OutputSet, atomic_path
from common.errors import OutputError

MARK = "pano-pan"  # value of the MP4 comment tag / PNG Software chunk, first word of script comments
CSV_HEADER = "frame,t,yaw,pitch,roll,hfov,vfov,confidence"


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


def written_by_pano_pan(path: Path) -> bool:
    """Whether ``path`` carries pano-pan's mark (so a new run may replace it without --overwrite)."""
    try:
        suffix = path.suffix.lower()
        if suffix in (".mp4", ".mov", ".m4v", ".mkv"):
            return _media_comment(path).startswith(MARK)
        if suffix == ".json":
            data = json.loads(path.read_text())
            return isinstance(data, dict) and (data.get("generator") or {}).get("name") == MARK
        if suffix == ".png":
            return png_text(path.read_bytes()).get("Software", "").startswith(MARK)
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [fh.readline().strip() for _ in range(3)]
        if suffix == ".csv":
            return head[0] == CSV_HEADER
        return any(line.startswith("#") and MARK in line for line in head)
    except (OSError, ValueError, AttributeError):
        return False


def _media_comment(path: Path) -> str:
    import av

    try:
        with av.open(str(path)) as container:
            return str(container.metadata.get("comment", ""))
    except (av.error.FFmpegError, UnicodeDecodeError):
        return ""


def png_with_mark(png: bytes) -> bytes:
    """``png`` with a ``Software: pano-pan`` tEXt chunk after the header chunk."""
    body = b"tEXt" + b"Software\0" + MARK.encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def png_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (keyword → text)."""
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"tEXt":
            key, _, value = png[pos + 8 : pos + 8 + length].partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return out
