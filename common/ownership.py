"""Which files pano-pan wrote, so a later command may replace them without ``--overwrite``.

Every format pano-pan writes carries a mark of who wrote it: a ``comment`` tag in MP4s, ``generator``
in JSON (trajectories, evaluation reports), the CSV's exact header, a comment line in scripts and
sendcmd files, a ``Software`` text chunk in PNGs. :func:`written_by_pano_pan` reads the mark; anything
without it is the user's and is replaced only with ``--overwrite`` (see :class:`common.atomic.OutputSet`).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

MARK = "pano-pan"  # value of the MP4 comment tag / PNG Software chunk / JSON generator name
GENERATOR = {"name": MARK}
CSV_HEADER = "frame,t,yaw,pitch,roll,hfov,vfov,confidence,cut"
CSV_HEADERS = (CSV_HEADER, "frame,t,yaw,pitch,roll,hfov,vfov,confidence")  # and before the cut column


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
            return head[0] in CSV_HEADERS
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
