"""Spherical Video V2 and Spatial Audio boxes written into an MP4/MOV that PyAV has just finished.

PyAV cannot attach this metadata itself (FFmpeg's muxer writes ``sv3d`` only from stream side data
that PyAV does not let a caller set, and never writes ``SA3D``), so after the muxer closes the file we
rebuild its ``moov`` box with the extra boxes in the sample entries: ``st3d`` + ``sv3d`` (``svhd``,
``proj`` → ``prhd`` + ``equi``) in the video entry, ``SA3D`` in the audio entry. The layout follows
Google's Spherical Video V2 RFC and Spatial Audio RFC, the same boxes :mod:`pano.media.spherical` reads.

``moov`` grows, so when it sits before the media data (``+faststart``) every chunk offset
(``stco``/``co64``) moves by the growth and the file is rewritten once; when it sits at the end it is
replaced in place.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from pano.media.spherical import SAMPLE_ENTRIES, iter_boxes, sample_entry_header, top_level_boxes

_REBUILT = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_OURS = {b"sv3d", b"st3d", b"SA3D"}
STEREO_CODES = {"mono": 0, "top-bottom": 1, "left-right": 2}


@dataclass(frozen=True)
class MetadataBoxes:
    """What to declare: the projection (a full-sphere equirectangular frame, or a 3×2 cubemap), its
    stereo layout (None: no ``st3d`` box), and/or AmbiX audio."""

    equirectangular: bool = False
    stereo: str | None = "mono"  # mono | top-bottom | left-right | None
    ambisonic_channels: int = 0  # 4 = first-order AmbiX (ACN, SN3D); 0 = no SA3D box
    projection: str = "equirectangular"  # or "cubemap" (layout 0: the RFC's 3×2), when declaring one

    def __bool__(self) -> bool:
        return self.equirectangular or self.ambisonic_channels > 0


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_box(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def video_boxes(meta: MetadataBoxes) -> bytes:
    """``st3d`` + ``sv3d`` for a full-sphere frame (no cropping, no pose change)."""
    st3d = _full_box(b"st3d", bytes([STEREO_CODES[meta.stereo]])) if meta.stereo else b""
    svhd = _full_box(b"svhd", b"pano-pan\0")
    prhd = _full_box(b"prhd", struct.pack(">iii", 0, 0, 0))
    if meta.projection == "cubemap":
        shape = _full_box(b"cbmp", struct.pack(">II", 0, 0))
    else:
        shape = _full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))
    return st3d + _box(b"sv3d", svhd + _box(b"proj", prhd + shape))


def audio_boxes(meta: MetadataBoxes) -> bytes:
    """``SA3D`` for periphonic first-order ambisonics, ACN order, SN3D, channels in file order."""
    n = meta.ambisonic_channels
    order = int(round(n**0.5)) - 1
    payload = struct.pack(">BBIBBI", 0, 0, order, 0, 0, n) + struct.pack(f">{n}I", *range(n))
    return _box(b"SA3D", payload)


class _Rebuilder:
    def __init__(self, data: bytes, meta: MetadataBoxes, shift: int) -> None:
        self.data, self.meta, self.shift = data, meta, shift

    def container(self, start: int, end: int, handler: bytes = b"") -> bytes:
        out = []
        for kind, body, stop in iter_boxes(self.data, start, end):
            if kind == b"trak":
                out.append(_box(kind, self.container(body, stop, self._handler(body, stop))))
            elif kind in _REBUILT:
                out.append(_box(kind, self.container(body, stop, handler)))
            elif kind == b"stsd":
                out.append(_box(kind, self.data[body : body + 8] + self.entries(body + 8, stop, handler)))
            elif kind in (b"stco", b"co64") and self.shift:
                out.append(_box(kind, self.offsets(kind, body, stop)))
            else:
                out.append(self.raw(body, stop))
        return b"".join(out)

    def raw(self, body: int, stop: int) -> bytes:
        header = 16 if struct.unpack(">I", self.data[body - 8 : body - 4])[0] == 1 and body >= 16 else 8
        return self.data[body - header : stop]

    def entries(self, start: int, end: int, handler: bytes) -> bytes:
        out = []
        for kind, body, stop in iter_boxes(self.data, start, end):
            if kind not in SAMPLE_ENTRIES:
                out.append(self.raw(body, stop))
                continue
            fixed = sample_entry_header(self.data, kind, body)
            children = b"".join(self.raw(b, s) for k, b, s in iter_boxes(self.data, body + fixed, stop)
                                if k not in _OURS)
            if handler == b"vide" and self.meta.equirectangular:
                children += video_boxes(self.meta)
            elif handler == b"soun" and self.meta.ambisonic_channels:
                children += audio_boxes(self.meta)
            out.append(_box(kind, self.data[body : body + fixed] + children))
        return b"".join(out)

    def offsets(self, kind: bytes, body: int, stop: int) -> bytes:
        head = self.data[body : body + 8]
        count = struct.unpack(">I", head[4:8])[0]
        fmt = f">{count}Q" if kind == b"co64" else f">{count}I"
        values = struct.unpack(fmt, self.data[body + 8 : body + 8 + struct.calcsize(fmt)])
        if kind == b"stco" and values and max(values) + self.shift >= 2**32:
            raise ValueError("chunk offsets overflow 32 bits")  # not for files pano-pan writes (moov ≪ 4 GB)
        return head + struct.pack(fmt, *(v + self.shift for v in values))

    def _handler(self, start: int, end: int) -> bytes:
        for kind, body, stop in iter_boxes(self.data, start, end):
            if kind == b"mdia":
                for k, b, _s in iter_boxes(self.data, body, stop):
                    if k == b"hdlr":
                        return self.data[b + 8 : b + 12]
        return b""


def amend_moov(body: bytes, meta: MetadataBoxes) -> bytes:
    """A ``moov`` box's body with ``meta`` declared in its sample entries (chunk offsets kept)."""
    return _Rebuilder(body, meta, 0).container(0, len(body))


def add_boxes(path: str | Path, meta: MetadataBoxes) -> None:
    """Declare ``meta`` in the MP4/MOV at ``path`` (replacing boxes of these kinds already there)."""
    path = Path(path)
    with open(path, "rb") as fh:
        layout = top_level_boxes(fh)
        moov = next((b for b in layout if b[0] == b"moov"), None)
        if moov is None:
            raise ValueError(f"{path}: no moov box")
        _, start, header, size = moov
        fh.seek(start + header)
        data = fh.read(size - header)
    media_after = any(kind == b"mdat" and pos > start for kind, pos, _h, _s in layout)
    body = _Rebuilder(data, meta, 0).container(0, len(data))
    new_moov = _box(b"moov", body)
    if not media_after:  # moov at the end: chunk offsets stay, replace it in place
        with open(path, "r+b") as fh:
            fh.seek(start)
            fh.write(new_moov)
            fh.truncate()
        return
    new_moov = _box(b"moov", _Rebuilder(data, meta, len(new_moov) - size).container(0, len(data)))
    tmp = path.with_name(path.name + ".boxes")
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read(start))
            dst.write(new_moov)
            src.seek(start + size)
            shutil.copyfileobj(src, dst, 4 << 20)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
