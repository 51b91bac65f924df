"""Spherical-video and spatial-audio metadata read straight from the container: MP4/MOV boxes and
Matroska/WebM elements.

FFmpeg parses these but PyAV does not expose stream side data, so we walk the few structures that
matter ourselves, reading only the header part of the file, never the media data:

* MP4/MOV: Spherical Video V2 (``sv3d``/``proj`` → ``equi``/``cbmp``/``mshp``, ``st3d``), V1 (the
  ``uuid`` box with GSpherical XML) and Spatial Audio (``SA3D``: ambisonic order, ordering,
  normalisation);
* Matroska/WebM: ``Tracks`` → ``TrackEntry`` → ``Video`` → ``Projection`` (``ProjectionType``,
  ``ProjectionPrivate``) and ``StereoMode``, located through the ``SeekHead`` when the tracks are not
  at the front.

The result is one dict: ``projection`` (equirectangular | cubemap | mesh | rectangular),
``stereo_mode`` (mono | top-bottom | left-right | …), ``bounds`` (equirect cropping, fractions),
``cubemap_layout``, ``spatial_audio`` and ``container`` ("mp4" or "matroska"), the keys present only
when the file says so.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path
from typing import BinaryIO

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"sv3d", b"proj", b"udta"}
SAMPLE_ENTRIES = {b"avc1": 78, b"avc3": 78, b"hvc1": 78, b"hev1": 78, b"av01": 78, b"vp09": 78, b"vp08": 78,
                  b"mp4v": 78, b"mp4a": 28, b"Opus": 28, b"lpcm": 28, b"sowt": 28, b"twos": 28, b"ipcm": 28,
                  b"fLaC": 28, b"ac-3": 28, b"ec-3": 28, b"alac": 28}
_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_MAX_HEADER = 64 * 1024 * 1024
_ST3D = {0: "mono", 1: "top-bottom", 2: "left-right"}


def iter_boxes(data: bytes, start: int = 0, end: int | None = None):
    """``(kind, body_start, end)`` of each box between ``start`` and ``end``; stops at a damaged one."""
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


def sample_entry_header(data: bytes, kind: bytes, body: int) -> int:
    """Bytes of fixed fields before a sample entry's child boxes (QuickTime sound v1/v2 are longer)."""
    fixed = SAMPLE_ENTRIES[kind]
    if fixed == 28 and body + 10 <= len(data):
        version = struct.unpack(">H", data[body + 8 : body + 10])[0]
        fixed += {1: 16, 2: 36}.get(version, 0)
    return fixed


def top_level_boxes(fh: BinaryIO) -> list[tuple[bytes, int, int, int]]:
    """``(kind, offset, header_size, size)`` of each top-level box of an MP4/MOV file."""
    fh.seek(0, 2)
    file_end = fh.tell()
    pos, out = 0, []
    while pos + 8 <= file_end:
        fh.seek(pos)
        head = fh.read(16)
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1 and len(head) == 16:
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = file_end - pos
        if size < header or not kind.isascii():
            break
        out.append((kind, pos, header, size))
        pos += size
    return out


def _read_moov(fh: BinaryIO) -> bytes | None:
    for kind, pos, header, size in top_level_boxes(fh):
        if kind == b"moov" and size <= _MAX_HEADER:
            fh.seek(pos + header)
            return fh.read(size - header)
    return None


def _walk(data: bytes, start: int, end: int, found: dict) -> None:
    for kind, body, stop in iter_boxes(data, start, end):
        if kind in _CONTAINERS:
            _walk(data, body, stop, found)
        elif kind == b"stsd":
            _walk(data, body + 8, stop, found)  # version/flags + entry count
        elif kind in SAMPLE_ENTRIES:
            _walk(data, body + sample_entry_header(data, kind, body), stop, found)
        elif kind == b"equi":
            found["projection"] = "equirectangular"
            if stop - body >= 20:
                top, bottom, left, right = (v / 2**32 for v in struct.unpack(">IIII", data[body + 4 : body + 20]))
                if any((top, bottom, left, right)):
                    found["bounds"] = {"top": top, "bottom": bottom, "left": left, "right": right}
        elif kind == b"cbmp":
            found["projection"] = "cubemap"
            if stop - body >= 12:
                found["cubemap_layout"] = struct.unpack(">I", data[body + 4 : body + 8])[0]
        elif kind == b"mshp":
            found["projection"] = "mesh"
        elif kind == b"st3d" and stop - body >= 5:
            found["stereo_mode"] = _ST3D.get(data[body + 4], "unknown")
        elif kind == b"uuid" and data[body : body + 16] == _V1_UUID:
            xml = data[body + 16 : stop].decode("utf-8", "replace").lower()
            if "equirectangular" in xml:
                found["projection"] = "equirectangular"
            if "stereomode>top-bottom" in xml:
                found["stereo_mode"] = "top-bottom"
            elif "stereomode>left-right" in xml:
                found["stereo_mode"] = "left-right"
            found["spherical_v1"] = True
        elif kind == b"SA3D" and stop - body >= 12:
            version, atype, order, ordering, norm, nch = struct.unpack(">BBIBBI", data[body : body + 12])
            found["spatial_audio"] = {
                "ambisonic_type": "periphonic" if atype == 0 else str(atype),
                "order": order,
                "channel_ordering": "ACN" if ordering == 0 else str(ordering),
                "normalization": "SN3D" if norm == 0 else str(norm),
                "channels": nch,
            }


# --- Matroska / WebM (EBML) ---------------------------------------------------------------------

_EBML, _SEGMENT, _SEEKHEAD, _SEEK, _SEEK_ID, _SEEK_POS = 0x1A45DFA3, 0x18538067, 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
_TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _VIDEO, _CLUSTER = 0x1654AE6B, 0xAE, 0x83, 0xE0, 0x1F43B675
_STEREO_MODE, _PROJECTION, _PROJ_TYPE, _PROJ_PRIVATE = 0x53B8, 0x7670, 0x7671, 0x7672
_PROJ_YAW, _PROJ_PITCH, _PROJ_ROLL = 0x7673, 0x7674, 0x7675
_MKV_PROJECTIONS = {0: "rectangular", 1: "equirectangular", 2: "cubemap", 3: "mesh"}
# Matroska StereoMode: the layout is what matters (pano-pan renders the first eye, whichever it is);
# checkerboard, row/column-interleaved and anaglyph modes are reported as unsupported.
_MKV_STEREO = {0: "mono", 1: "left-right", 2: "top-bottom", 3: "top-bottom", 11: "left-right"}


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length); value -1 for "unknown size"."""
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or pos + length > len(data):
        raise ValueError("bad EBML integer")
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def ebml_elements(data: bytes, start: int = 0, end: int | None = None):
    """``(id, body_start, body_end)`` of each EBML element between ``start`` and ``end``."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        eid, n = _vint(data, pos, keep_marker=True)
        size, m = _vint(data, pos + n, keep_marker=False)
        body = pos + n + m
        stop = end if size < 0 else body + size
        if stop > end:
            stop = end  # truncated (we read only the head of the file): keep what is there
        yield eid, body, stop
        pos = stop


def _uint(data: bytes, body: int, stop: int) -> int:
    return int.from_bytes(data[body:stop], "big") if stop > body else 0


def _track_video(data: bytes, body: int, stop: int, found: dict) -> None:
    for eid, b, s in ebml_elements(data, body, stop):
        if eid == _STEREO_MODE:
            mode = _uint(data, b, s)
            found["stereo_mode"] = _MKV_STEREO.get(mode, f"unsupported ({mode})")
        elif eid == _PROJECTION:
            for pid, pb, ps in ebml_elements(data, b, s):
                if pid == _PROJ_TYPE:
                    kind = _uint(data, pb, ps)
                    found["projection"] = _MKV_PROJECTIONS.get(kind, f"unknown ({kind})")
                elif pid == _PROJ_PRIVATE:
                    found["_private"] = data[pb:ps]
                elif pid in (_PROJ_YAW, _PROJ_PITCH, _PROJ_ROLL) and ps - pb in (4, 8):
                    value = struct.unpack(">f" if ps - pb == 4 else ">d", data[pb:ps])[0]
                    if value:
                        found.setdefault("pose", {})[{_PROJ_YAW: "yaw", _PROJ_PITCH: "pitch",
                                                      _PROJ_ROLL: "roll"}[pid]] = value
    private = found.pop("_private", b"")
    if found.get("projection") == "equirectangular" and len(private) >= 20:
        top, bottom, left, right = (v / 2**32 for v in struct.unpack(">IIII", private[4:20]))
        if any((top, bottom, left, right)):
            found["bounds"] = {"top": top, "bottom": bottom, "left": left, "right": right}
    elif found.get("projection") == "cubemap" and len(private) >= 8:
        found["cubemap_layout"] = struct.unpack(">I", private[4:8])[0]


def _tracks(data: bytes, body: int, stop: int, found: dict) -> None:
    for eid, b, s in ebml_elements(data, body, stop):
        if eid != _TRACK_ENTRY:
            continue
        entry = {e: (eb, es) for e, eb, es in ebml_elements(data, b, s)}
        if _TRACK_TYPE in entry and _uint(data, *entry[_TRACK_TYPE]) == 1 and _VIDEO in entry:
            _track_video(data, *entry[_VIDEO], found)
            return  # the first video track is the one pano-pan reads


def _read_matroska(fh: BinaryIO, found: dict) -> None:
    fh.seek(0)
    head = fh.read(1 << 20)
    if len(head) < 4 or _vint(head, 0, True)[0] != _EBML:
        return
    found["container"] = "matroska"
    for eid, body, stop in ebml_elements(head):
        if eid != _SEGMENT:
            continue
        tracks_at = None
        for cid, b, s in ebml_elements(head, body, stop):
            if cid == _TRACKS:
                if s - b < 0 or s > len(head):
                    break
                _tracks(head, b, s, found)
                return
            if cid == _SEEKHEAD:
                for sid, sb, ss in ebml_elements(head, b, s):
                    if sid != _SEEK:
                        continue
                    seek = {e: head[eb:es] for e, eb, es in ebml_elements(head, sb, ss)}
                    if int.from_bytes(seek.get(_SEEK_ID, b""), "big") == _TRACKS:
                        tracks_at = body + int.from_bytes(seek.get(_SEEK_POS, b""), "big")
            if cid == _CLUSTER:
                break
        if tracks_at is not None:  # the tracks come after the clusters: read them where the SeekHead says
            fh.seek(tracks_at)
            chunk = fh.read(1 << 20)
            for cid, b, s in ebml_elements(chunk, 0, len(chunk)):
                if cid == _TRACKS:
                    _tracks(chunk, b, s, found)
                break
        return


def mp4_header_damage(path: str | Path) -> str | None:
    """Where an MP4/MOV header (``moov``) stops holding together, in words, or None when it is sound
    (or the file is no MP4). FFmpeg reads past a broken track header and leaves that track out, so a
    file with garbage in its ``moov`` would open as a video without sound; this says it is damaged."""
    try:
        with open(path, "rb") as fh:
            moov = _read_moov(fh)
    except (OSError, struct.error):
        return None
    if not moov:
        return None
    return _untiled(moov, 0, len(moov), "moov", depth=0)


def _untiled(data: bytes, start: int, end: int, name: str, depth: int) -> str | None:
    """The first container box (moov, trak, mdia, minf, stbl) whose children do not fill it exactly."""
    pos = start
    for kind, body, stop in iter_boxes(data, start, end):
        if kind in (b"trak", b"mdia", b"minf", b"stbl") and depth < 4:
            inner = _untiled(data, body, stop, kind.decode("latin-1"), depth + 1)
            if inner:
                return inner
        pos = stop
    if end - pos >= 8:  # a few bytes of padding are tolerated; a box that overruns its parent is not
        return f"its {name} box breaks off at byte {pos} of the header"
    return None


def read_spherical_metadata(path: str | Path) -> dict:
    """Projection, stereo mode and spatial-audio metadata the container declares; ``{}`` if none."""
    found: dict = {}
    try:
        with open(path, "rb") as fh:
            with contextlib.suppress(ValueError, IndexError, struct.error):
                _read_matroska(fh, found)
            if found.get("container") == "matroska":
                return found
            moov = _read_moov(fh)
    except OSError:
        return found
    if moov:
        found["container"] = "mp4"
        with contextlib.suppress(struct.error):  # a truncated box: keep what was read
            _walk(moov, 0, len(moov), found)
    return found
