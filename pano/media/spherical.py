"""Spherical-video and spatial-audio metadata read straight from MP4/MOV boxes.

FFmpeg parses these boxes but PyAV does not expose the result, so we walk the few boxes that matter:
Spherical Video V2 (``sv3d``/``proj``), V1 (the ``uuid`` box with GSpherical XML) and Spatial Audio
(``SA3D``, which says ambisonic order and channel ordering/normalisation). Only the ``moov`` box is
read, never the media data, so this is cheap on any file size.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path
from typing import BinaryIO

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"sv3d", b"proj", b"udta"}
_SAMPLE_ENTRY_HEADER = {b"avc1": 78, b"hvc1": 78, b"hev1": 78, b"av01": 78, b"vp09": 78, b"mp4a": 28,
                        b"Opus": 28, b"lpcm": 28, b"sowt": 28, b"twos": 28, b"ipcm": 28, b"fLaC": 28}
_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_MAX_MOOV = 64 * 1024 * 1024


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1 and pos + 16 <= end:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _read_moov(fh: BinaryIO) -> bytes | None:
    fh.seek(0, 2)
    file_end = fh.tell()
    pos = 0
    while pos + 8 <= file_end:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return None
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = file_end - pos
        if size < header:
            return None
        if kind == b"moov":
            if size > _MAX_MOOV:
                return None
            fh.seek(pos + header)
            return fh.read(size - header)
        pos += size
    return None


def _walk(data: bytes, start: int, end: int, found: dict) -> None:
    for kind, body, stop in _boxes(data, start, end):
        if kind in _CONTAINERS:
            _walk(data, body, stop, found)
        elif kind == b"stsd":
            _walk(data, body + 8, stop, found)  # version/flags + entry count
        elif kind in _SAMPLE_ENTRY_HEADER:
            _walk(data, body + _SAMPLE_ENTRY_HEADER[kind], stop, found)
        elif kind == b"equi":
            found["projection"] = "equirectangular"
        elif kind == b"cbmp":
            found["projection"] = "cubemap"
        elif kind == b"st3d" and stop - body >= 5:
            found["stereo_mode"] = {0: "mono", 1: "top-bottom", 2: "left-right"}.get(data[body + 4], "unknown")
        elif kind == b"uuid" and data[body : body + 16] == _V1_UUID:
            xml = data[body + 16 : stop].decode("utf-8", "replace")
            if "equirectangular" in xml.lower():
                found["projection"] = "equirectangular"
            found["spherical_v1"] = True
        elif kind == b"SA3D" and stop - body >= 10:
            version, atype, order, ordering, norm, nch = struct.unpack(">BBIBBI", data[body : body + 12])
            found["spatial_audio"] = {
                "ambisonic_type": "periphonic" if atype == 0 else str(atype),
                "order": order,
                "channel_ordering": "ACN" if ordering == 0 else str(ordering),
                "normalization": "SN3D" if norm == 0 else str(norm),
                "channels": nch,
            }


def read_spherical_metadata(path: str | Path) -> dict:
    """Projection, stereo mode and spatial-audio boxes found in an MP4/MOV; ``{}`` if none or not MP4."""
    found: dict = {}
    try:
        with open(path, "rb") as fh:
            moov = _read_moov(fh)
    except OSError:
        return found
    if moov:
        with contextlib.suppress(struct.error):  # a truncated box: keep what was read
            _walk(moov, 0, len(moov), found)
    return found
