"""A standard (``+faststart``) MP4/MOV made from a fragmented one, with memory that does not grow.

FFmpeg's MP4 muxer keeps an index entry of about 64 bytes per sample per stream until the file is
closed (the sample tables go into ``moov`` at the end): about 75 bytes a frame for each of pano-pan's
streams, tens of MB on a 2-hour render, the one part of a run's memory that grows with the video's
length. Fragmented MP4 (``empty_moov``: a ``moof`` of tables before each piece of media) needs none of
that, but editors import it badly. So :class:`~pano.media.writer.VideoWriter` writes fragments to a
hidden file while it renders and :func:`defragment` then writes the standard file: ``ftyp``, a ``moov``
with the usual tables (``stts``, ``ctts``, ``stss``, ``stsc``, ``stsz``, ``stco``/``co64``, edit
lists, AAC's ``roll`` group, as FFmpeg's muxer writes them), then one ``mdat`` with each fragment's
media copied in order (one chunk per fragment and track). The tables are gathered from the fragments'
``trun`` boxes into flat arrays of 4 bytes per value (about 16 bytes a video frame, 12 an audio packet).

The fragments lose one thing a standard file keeps: where each track's presentation starts (AAC's
priming samples, the frames B-frames delay, a late first frame), which FFmpeg writes as an edit list.
The writer records each stream's first timestamps and hands them in as ``starts``.
"""

from __future__ import annotations

import array
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pano.media.spherical import iter_boxes, top_level_boxes

# Written while rendering: a fragment at each keyframe and at least every second (so the standard
# file's tracks interleave in chunks of at most a second), the moov first and empty.
# ``use_editlist`` keeps every track's timestamps as given (no retiming of the first packet), so the
# edit lists written here describe them exactly.
FRAGMENT_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000",
                    "use_editlist": "1"}
_NON_SYNC = 0x00010000  # sample_is_non_sync_sample (ISO 14496-12 sample flags)
_TABLES = {b"stts", b"ctts", b"stss", b"stsc", b"stsz", b"stz2", b"stco", b"co64", b"sgpd", b"sbgp", b"sdtp"}
_COPY_BLOCK = 4 << 20
_OFFSET_LIMIT = 2**32  # past this, chunk offsets are 64-bit (co64) and the mdat's size too


def _header(kind: bytes, payload: int) -> bytes:
    """A box's header for ``payload`` bytes of content (64-bit size when it needs it)."""
    if payload + 8 >= 2**32:
        return struct.pack(">I4sQ", 1, kind, payload + 16)
    return struct.pack(">I4s", 8 + payload, kind)


def _box(kind: bytes, payload: bytes) -> bytes:
    return _header(kind, len(payload)) + payload


def _full(kind: bytes, version: int, payload: bytes, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


# The moov is built as a list of pieces, each box a header before its children's pieces, and written
# piece by piece: joined at every level, its sample tables (about 16 bytes a frame) were copied once
# per level, several copies of them alive at once at the end of a long render.
def _boxed(kind: bytes, parts: list[bytes]) -> list[bytes]:
    """A box of ``parts`` (its content), as pieces: its header, then them."""
    return [_header(kind, sum(map(len, parts))), *parts]


def _full_table(kind: bytes, version: int, *pieces: bytes) -> list[bytes]:
    """A full box (version, no flags) of ``pieces``, as pieces."""
    return _boxed(kind, [struct.pack(">I", version << 24), *pieces])


@dataclass
class _Track:
    track_id: int
    timescale: int = 0
    handler: bytes = b""
    defaults: tuple[int, int, int] = (0, 0, 0)  # trex: duration, size, flags
    sizes: array.array = field(default_factory=lambda: array.array("I"))
    durations: array.array = field(default_factory=lambda: array.array("I"))
    cts: array.array = field(default_factory=lambda: array.array("i"))
    non_sync: array.array = field(default_factory=lambda: array.array("I"))  # sample numbers (0-based)
    chunk_samples: array.array = field(default_factory=lambda: array.array("I"))
    chunk_offsets: array.array = field(default_factory=lambda: array.array("Q"))  # in the output


def _u32(data: bytes, pos: int) -> int:
    return struct.unpack_from(">I", data, pos)[0]


def _children(data: bytes, start: int, end: int, kind: bytes) -> list[tuple[int, int]]:
    return [(b, e) for k, b, e in iter_boxes(data, start, end) if k == kind]


def _first(data: bytes, start: int, end: int, *path: bytes) -> tuple[int, int] | None:
    for kind in path:
        found = _children(data, start, end, kind)
        if not found:
            return None
        start, end = found[0]
    return start, end


class _Fragments:
    """The init ``moov`` and every ``trun``'s samples of a fragmented file, read one ``moof`` at a time."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.layout = top_level_boxes(fh)
        moov = next((b for b in self.layout if b[0] == b"moov"), None)
        if moov is None:
            raise ValueError("no moov box")
        _, pos, header, size = moov
        fh.seek(pos + header)
        self.moov = fh.read(size - header)
        self.ftyp = b""
        for kind, pos, header, size in self.layout:
            if kind == b"ftyp":
                fh.seek(pos + header)
                self.ftyp = fh.read(size - header)
        self.tracks: dict[int, _Track] = {}
        for b, e in _children(self.moov, 0, len(self.moov), b"trak"):
            tkhd = _first(self.moov, b, e, b"tkhd")
            version = self.moov[tkhd[0]]
            tid = _u32(self.moov, tkhd[0] + (20 if version == 1 else 12))
            track = _Track(tid)
            mdhd = _first(self.moov, b, e, b"mdia", b"mdhd")
            track.timescale = _u32(self.moov, mdhd[0] + (20 if self.moov[mdhd[0]] == 1 else 12))
            hdlr = _first(self.moov, b, e, b"mdia", b"hdlr")
            track.handler = self.moov[hdlr[0] + 8 : hdlr[0] + 12]
            self.tracks[tid] = track
        mvex = _first(self.moov, 0, len(self.moov), b"mvex")
        if mvex is not None:
            for b, _e in _children(self.moov, *mvex, b"trex"):
                tid, _sdi, dur, size, flags = struct.unpack_from(">5I", self.moov, b + 4)
                if tid in self.tracks:
                    self.tracks[tid].defaults = (dur, size, flags)
        # Chunks in file order: source offset, bytes, track id (flat arrays: one per fragment and track).
        self.chunk_pos, self.chunk_size, self.chunk_track = array.array("Q"), array.array("Q"), array.array("I")

    def read(self) -> None:
        for kind, pos, header, size in self.layout:
            if kind != b"moof":
                continue
            self.fh.seek(pos + header)
            self._moof(self.fh.read(size - header), pos, header)

    def _moof(self, data: bytes, moof_pos: int, header: int) -> None:
        base_next = moof_pos  # without a base offset or default-base-is-moof: the first traf starts at moof
        for b, e in _children(data, 0, len(data), b"traf"):
            tfhd = _first(data, b, e, b"tfhd")
            flags = _u32(data, tfhd[0]) & 0xFFFFFF
            tid = _u32(data, tfhd[0] + 4)
            track = self.tracks[tid]
            p = tfhd[0] + 8
            base = moof_pos if flags & 0x20000 else base_next
            if flags & 0x1:
                base = struct.unpack_from(">Q", data, p)[0]
                p += 8
            if flags & 0x2:
                p += 4  # sample description index: pano-pan's tracks have one
            dur, size, sflags = track.defaults
            if flags & 0x8:
                dur = _u32(data, p)
                p += 4
            if flags & 0x10:
                size = _u32(data, p)
                p += 4
            if flags & 0x20:
                sflags = _u32(data, p)
            pos = base
            for tb, _te in _children(data, b, e, b"trun"):
                pos = self._trun(data, tb, track, pos, base, (dur, size, sflags))
            base_next = pos

    def _trun(self, data: bytes, b: int, track: _Track, pos: int, base: int, defaults) -> int:
        flags = _u32(data, b) & 0xFFFFFF
        count = _u32(data, b + 4)
        p = b + 8
        if flags & 0x1:
            pos = base + struct.unpack_from(">i", data, p)[0]
            p += 4
        first_flags = None
        if flags & 0x4:
            first_flags = _u32(data, p)
            p += 4
        present = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
        rec = np.frombuffer(data, ">u4", count * len(present), p).reshape(count, len(present))
        col = {bit: rec[:, i] for i, bit in enumerate(present)}
        dur, size, sflags = defaults
        sizes = col[0x200].astype(np.uint32) if 0x200 in col else np.full(count, size, np.uint32)
        durs = col[0x100].astype(np.uint32) if 0x100 in col else np.full(count, dur, np.uint32)
        cts = col[0x800].astype(np.uint32).view(np.int32) if 0x800 in col else np.zeros(count, np.int32)
        sample_flags = col[0x400].astype(np.uint32) if 0x400 in col else np.full(count, sflags, np.uint32)
        if first_flags is not None and count:
            sample_flags = sample_flags.copy()
            sample_flags[0] = first_flags
        n0 = len(track.sizes)
        track.sizes.frombytes(sizes.tobytes())
        track.durations.frombytes(durs.tobytes())
        track.cts.frombytes(cts.astype(np.int32).tobytes())
        track.non_sync.frombytes((np.flatnonzero(sample_flags & _NON_SYNC) + n0).astype(np.uint32).tobytes())
        total = int(sizes.sum(dtype=np.int64))
        if count:
            track.chunk_samples.append(count)
            self.chunk_pos.append(pos)
            self.chunk_size.append(total)
            self.chunk_track.append(track.track_id)
        return pos + total


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run lengths and values of ``values`` (stts/ctts/stsc style)."""
    if not len(values):
        return np.zeros(0, np.int64), values
    starts = np.r_[0, np.flatnonzero(values[1:] != values[:-1]) + 1]
    return np.diff(np.r_[starts, len(values)]), values[starts]


def _pairs(counts: np.ndarray, values: np.ndarray, fmt: str) -> bytes:
    out = np.empty((len(counts), 2), dtype=">u4" if fmt == "u" else ">i4")
    out[:, 0] = counts
    out[:, 1] = values
    return out.tobytes()


def _rescale(value: int, src: int, dst: int, up: bool) -> int:
    """``value`` ticks of 1/src in ticks of 1/dst, rounded up or down."""
    num = value * dst
    return -((-num) // src) if up else num // src


def _with_duration(data: bytes, body: int, end: int, kind: bytes, duration: int) -> bytes:
    """An ``mvhd``/``tkhd``/``mdhd`` box with ``duration`` (version 1 when it needs 64 bits)."""
    version = data[body]
    flags = _u32(data, body) & 0xFFFFFF
    wide = version == 1
    # creation, modification, then timescale (mvhd, mdhd) or track id + reserved (tkhd), then duration
    t = 8 if wide else 4
    created, modified = struct.unpack_from(">QQ" if wide else ">II", data, body + 4)
    mid = 4 if kind != b"tkhd" else 8
    middle = data[body + 4 + 2 * t : body + 4 + 2 * t + mid]
    rest = data[body + 4 + 3 * t + mid : end]
    fmt, version = (">II", 0) if max(created, modified, duration) < 2**32 else (">QQ", 1)
    head = struct.pack(fmt, created, modified) + middle + struct.pack(fmt[:2], duration)
    return _full(kind, version, head + rest, flags)


def _is_aac(data: bytes, stsd: tuple[int, int]) -> bool:
    """Whether the sample entry is ``mp4a`` with AAC in its ``esds`` (object type 0x40)."""
    body = data[stsd[0] : stsd[1]]
    at = body.find(b"esds")
    if at < 0 or b"mp4a" not in body[:at]:
        return False
    tag = body.find(b"\x04", at + 8)  # DecoderConfigDescriptor, then its size bytes, then the type
    while 0 <= tag < len(body) - 1:
        q = tag + 1
        while q < len(body) and body[q] & 0x80:
            q += 1
        return q + 1 < len(body) and body[q + 1] in (0x40, 0x66, 0x67, 0x68)
    return False


@dataclass(frozen=True)
class _Timing:
    media: int  # sum of the sample durations (media timescale)
    media_time: int  # where presentation starts on the media timeline
    empty: int  # movie ticks before the track starts (a late first frame)
    edit: int  # movie ticks the track plays


_TIMING_CHUNK = 1 << 16


def _timing(track: _Track, start: tuple[int, int] | None, movie_scale: int) -> _Timing:
    """The edit list as FFmpeg's muxer writes it: presentation from the first packet's time (at 0 if
    that is negative, e.g. AAC's priming), to the end of the last sample. A chunk of samples at a time:
    the whole track's 64-bit temporaries were ~40 bytes a sample at the end of a long render."""
    durs = np.frombuffer(track.durations, np.uint32)
    cts = np.frombuffer(track.cts, np.int32)
    if not len(durs):
        return _Timing(0, 0, 0, 0)
    media, last = 0, None  # last: the latest dts + cts + duration, from dts 0
    for a in range(0, len(durs), _TIMING_CHUNK):
        d = durs[a : a + _TIMING_CHUNK].astype(np.int64)
        ends = int((np.cumsum(d) + media + cts[a : a + _TIMING_CHUNK]).max())
        last = ends if last is None else max(last, ends)
        media += int(d.sum())
    first_dts, first_pts = start if start is not None else (0, int(cts[0]))
    begin = max(first_pts, 0)
    end = last + first_dts
    empty = _rescale(first_pts, track.timescale, movie_scale, up=False) if first_pts > 0 else 0
    return _Timing(media, begin - first_dts, empty, _rescale(end - begin, track.timescale, movie_scale, up=True))


def _elst(t: _Timing) -> bytes:
    entries = ([(t.empty, -1)] if t.empty > 0 else []) + [(t.edit, t.media_time)]
    wide = any(abs(v) >= 2**31 for e in entries for v in e)
    fmt = ">qqI" if wide else ">iiI"  # duration, media time, rate 1.0
    rows = b"".join(struct.pack(fmt, d, m, 0x10000) for d, m in entries)
    return _box(b"edts", _full(b"elst", int(wide), struct.pack(">I", len(entries)) + rows))


def _stbl(data: bytes, stbl: tuple[int, int], track: _Track, co64: bool) -> list[bytes]:
    sizes = np.frombuffer(track.sizes, np.uint32)
    n = len(sizes)
    parts = []
    stsd = None
    for kind, b, e in iter_boxes(data, *stbl):
        if kind in _TABLES:
            continue
        parts.append(data[b - 8 : e])
        if kind == b"stsd":
            stsd = (b, e)
    counts, values = _runs(np.frombuffer(track.durations, np.uint32))
    parts += _full_table(b"stts", 0, struct.pack(">I", len(counts)), _pairs(counts, values, "u"))
    non_sync = np.frombuffer(track.non_sync, np.uint32)
    if len(non_sync):
        sync = np.ones(n, bool)
        sync[non_sync] = False
        numbers = (np.flatnonzero(sync) + 1).astype(">u4")
        parts += _full_table(b"stss", 0, struct.pack(">I", len(numbers)), numbers.tobytes())
    cts = np.frombuffer(track.cts, np.int32)
    if n and cts.any():
        counts, values = _runs(cts)
        version = int((values < 0).any())
        table = _pairs(counts, values, "i" if version else "u")
        parts += _full_table(b"ctts", version, struct.pack(">I", len(counts)), table)
    per_chunk = np.frombuffer(track.chunk_samples, np.uint32)
    counts, values = _runs(per_chunk)
    firsts = (np.cumsum(counts) - counts + 1).astype(">u4")
    rows = np.stack([firsts, values.astype(">u4"), np.ones(len(values), ">u4")], axis=1).astype(">u4")
    parts += _full_table(b"stsc", 0, struct.pack(">I", len(values)), rows.tobytes())
    if n and (sizes == sizes[0]).all():
        parts.append(_full(b"stsz", 0, struct.pack(">II", int(sizes[0]), n)))
    else:
        parts += _full_table(b"stsz", 0, struct.pack(">II", 0, n), sizes.astype(">u4").tobytes())
    offsets = np.frombuffer(track.chunk_offsets, np.uint64)
    table = offsets.astype(">u8" if co64 else ">u4").tobytes()
    parts += _full_table(b"co64" if co64 else b"stco", 0, struct.pack(">I", len(offsets)), table)
    if n and stsd is not None and track.handler == b"soun" and _is_aac(data, stsd):
        # AAC: each packet needs the one before it decoded first (what FFmpeg writes, ``roll`` −1)
        parts.append(_full(b"sgpd", 1, b"roll" + struct.pack(">IIh", 2, 1, -1)))
        parts.append(_full(b"sbgp", 0, b"roll" + struct.pack(">III", 1, n, 1)))
    return _boxed(b"stbl", parts)


def _moov(data: bytes, tracks: dict[int, _Track], starts: dict[int, tuple[int, int]],
          co64: bool) -> list[bytes]:
    """The standard file's ``moov``, as pieces (see ``_boxed``)."""
    mvhd = _first(data, 0, len(data), b"mvhd")
    movie_scale = _u32(data, mvhd[0] + (20 if data[mvhd[0]] == 1 else 12))
    timings: dict[int, _Timing] = {}
    traks = []
    for b, e in _children(data, 0, len(data), b"trak"):
        tkhd = _first(data, b, e, b"tkhd")
        tid = _u32(data, tkhd[0] + (20 if data[tkhd[0]] == 1 else 12))
        track = tracks[tid]
        t = timings[tid] = _timing(track, starts.get(tid), movie_scale)
        traks.append(_boxed(b"trak", _trak(data, b, e, track, t, co64)))
    total = max((t.empty + t.edit for t in timings.values()), default=0)
    out = [_with_duration(data, mvhd[0], mvhd[1], b"mvhd", total)]
    trak_iter = iter(traks)
    for kind, b, e in iter_boxes(data, 0, len(data)):
        if kind == b"trak":
            out += next(trak_iter)
        elif kind not in (b"mvhd", b"mvex"):
            out.append(data[b - 8 : e])
    return _boxed(b"moov", out)


def _trak(data: bytes, start: int, end: int, track: _Track, t: _Timing, co64: bool) -> list[bytes]:
    out = []
    for kind, b, e in iter_boxes(data, start, end):
        if kind == b"tkhd":
            out.append(_with_duration(data, b, e, kind, t.empty + t.edit))
            out.append(_elst(t))
        elif kind == b"edts":
            continue
        elif kind == b"mdia":
            out += _boxed(b"mdia", _container(data, b, e, track, t, co64))
        else:
            out.append(data[b - 8 : e])
    return out


def _container(data: bytes, start: int, end: int, track: _Track, t: _Timing, co64: bool) -> list[bytes]:
    out = []
    for kind, b, e in iter_boxes(data, start, end):
        if kind == b"mdhd":
            out.append(_with_duration(data, b, e, kind, t.media))
        elif kind == b"minf":
            out += _boxed(b"minf", _container(data, b, e, track, t, co64))
        elif kind == b"stbl":
            out += _stbl(data, (b, e), track, co64)
        else:
            out.append(data[b - 8 : e])
    return out


def standard_ftyp(fragmented: bytes, moov: bytes) -> bytes:
    """The ``ftyp`` FFmpeg writes for a standard file: QuickTime's kept as it is; MP4's ``isom``
    (minor 512) with ``isom``, ``iso2``, ``avc1`` when there is H.264, ``mp41`` (the fragmented
    file's ``iso5``/``iso6`` name features only fragments use)."""
    if fragmented[:4] == b"qt  ":
        return _box(b"ftyp", fragmented)
    brands = [b"isom", b"iso2"] + ([b"avc1"] if b"avc1" in moov else []) + [b"mp41"]
    return _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"".join(brands))


def defragment(
    src: str | Path,
    dst: str | Path,
    starts: dict[int, tuple[int, int]] | None = None,
    amend: Callable[[bytes], bytes] | None = None,
) -> None:
    """Write the fragmented MP4/MOV ``src`` as a standard one at ``dst``, ``moov`` first.

    ``starts``: per track id, the first packet's (dts, pts) in the track's timescale, as the muxer was
    given them (for the edit lists); ``amend`` rewrites the init ``moov``'s body before the tables go in
    (the spherical and spatial-audio boxes, :func:`pano.media.boxes.amend_moov`).
    """
    starts = starts or {}
    with open(src, "rb") as fh:
        frags = _Fragments(fh)
        frags.read()
        init = frags.moov if amend is None else amend(frags.moov)
        ftyp = standard_ftyp(frags.ftyp, init) if frags.ftyp else b""
        media = sum(frags.chunk_size)
        mdat_header = 16 if media + 8 >= _OFFSET_LIMIT else 8
        co64 = False
        for _attempt in range(2):
            for track in frags.tracks.values():
                track.chunk_offsets = array.array("Q", [0]) * len(track.chunk_samples)
            head = len(ftyp) + sum(map(len, _moov(init, frags.tracks, starts, co64))) + mdat_header
            if head + media < _OFFSET_LIMIT or co64:
                break
            co64 = True
        position = {tid: 0 for tid in frags.tracks}
        at = head
        for size, tid in zip(frags.chunk_size, frags.chunk_track, strict=True):
            frags.tracks[tid].chunk_offsets[position[tid]] = at
            position[tid] += 1
            at += size
        moov = _moov(init, frags.tracks, starts, co64)
        assert len(ftyp) + sum(map(len, moov)) + mdat_header == head
        with open(dst, "wb") as out:
            out.write(ftyp)
            out.writelines(moov)
            out.write(struct.pack(">I4sQ", 1, b"mdat", media + 16) if mdat_header == 16
                      else struct.pack(">I4s", media + 8, b"mdat"))
            for pos, size in zip(frags.chunk_pos, frags.chunk_size, strict=True):
                fh.seek(pos)
                _copy(fh, out, size)
            out.flush()
            os.fsync(out.fileno())


def _copy(src, dst, size: int) -> None:
    while size > 0:
        block = src.read(min(size, _COPY_BLOCK))
        if not block:
            raise ValueError("a fragment's media runs past the end of the file")
        dst.write(block)
        size -= len(block)
