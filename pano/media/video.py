"""Streaming frame decode: one frame in memory at a time, FFmpeg threads doing the work.

Frames are read as the decoder's own YUV planes (numpy views, no copy) and cropped to the eye that is
analysed and rendered (the top or left half of a stereo frame). Pass 2 renders straight from those
planes; pass 1 and the saliency video shrink them first and convert only the small result to RGB, so
no full-resolution RGB frame is ever made. Decoder formats other than 8- and 10/12-bit 4:2:0 are
converted to yuv420p by swscale first (the slow path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from common.errors import InputError
from common.media import SharedInput, open_media
from common.threads import codec_threads

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo

_PLANAR_420 = {"yuv420p": 0, "yuvj420p": 0, "yuv420p10le": 2, "yuv420p12le": 4}  # format: bits above 8


def read_frame_times(path: str | Path) -> np.ndarray:
    """Presentation times of every video frame on the file's clock, from packets alone (no decoding),
    sorted. Not shifted to start at 0: audio windows and the output video use the same clock."""
    with open_media(path) as container:
        stream = container.streams.video[0]
        pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0]
        tb = stream.time_base
    return np.sort(np.asarray([float(p * tb) for p in pts], dtype=np.float64))


def _plane(frame, i: int, dtype) -> np.ndarray:
    p = frame.planes[i]
    item = np.dtype(dtype).itemsize
    return np.frombuffer(p, dtype).reshape(p.height, p.line_size // item)[:, : p.width]


def frame_planes(frame, eye: tuple[int, int, int, int] | None = None) -> tuple[tuple[np.ndarray, ...], int]:
    """``((Y, U, V), shift)``: views of a decoded frame's 4:2:0 planes, cropped to ``eye``
    ``(x, y, w, h)`` (default: the whole frame, trimmed to even); ``shift`` is the bits above 8
    (samples are uint16 when it is not 0)."""
    fmt = frame.format.name
    if fmt not in _PLANAR_420:
        frame = frame.reformat(format="yuv420p")
        fmt = "yuv420p"
    shift = _PLANAR_420[fmt]
    dtype = np.uint16 if shift else np.uint8
    y, u, v = (_plane(frame, i, dtype) for i in range(3))
    x0, y0, w, h = eye if eye is not None else (0, 0, frame.width & ~1, frame.height & ~1)
    if (x0, y0, w, h) != (0, 0, y.shape[1], y.shape[0]):
        y = y[y0 : y0 + h, x0 : x0 + w]
        u = u[y0 // 2 : (y0 + h) // 2, x0 // 2 : (x0 + w) // 2]
        v = v[y0 // 2 : (y0 + h) // 2, x0 // 2 : (x0 + w) // 2]
    return (y, u, v), shift


def to_8bit(plane: np.ndarray, shift: int) -> np.ndarray:
    """Round high-bit-depth samples to 8 bits (a no-op for 8-bit planes)."""
    if not shift:
        return plane
    return np.minimum((plane.astype(np.uint16) + (1 << (shift - 1))) >> shift, 255).astype(np.uint8)


def shrink(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a plane to ``width × height``, averaging when it shrinks: exact halvings first (bilinear at
    scale ½ is the 2×2 mean, and cheap), then one step for the rest, which is less than 2×: an exact
    area step where it is an integer ratio or none, else bilinear (a 3840-wide plane to 512: 960 → 512,
    where OpenCV's fractional area resize cost three times all the halvings; bilinear under 2× differs
    from it by about one level on average)."""
    while plane.shape[1] >= 2 * width and plane.shape[0] >= 2 * height:
        plane = cv2.resize(plane, (plane.shape[1] // 2, plane.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    if plane.shape[1] == width and plane.shape[0] == height:
        return plane
    whole = plane.shape[1] % width == 0 and plane.shape[0] % height == 0  # e.g. 3×: area is exact and fast
    return cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA if whole else cv2.INTER_LINEAR)


def planes_to_rgb(planes: tuple[np.ndarray, ...], shift: int, width: int, height: int) -> np.ndarray:
    """RGB ``(height, width, 3)`` of 4:2:0 planes resized to ``width × height`` (even) before converting."""
    y, u, v = planes
    out_w, out_h = width, height
    width, height = width + width % 2, height + height % 2  # I420 needs even sizes; cropped back below
    buf = np.empty((height * 3 // 2, width), np.uint8)
    flat = buf.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    for plane, dst, (w, h) in ((y, flat[:luma], (width, height)),
                               (u, flat[luma : luma + chroma], (width // 2, height // 2)),
                               (v, flat[luma + chroma :], (width // 2, height // 2))):
        dst.reshape(h, w)[:] = to_8bit(shrink(plane, w, h), shift)
    rgb = cv2.cvtColor(buf, cv2.COLOR_YUV2RGB_I420)
    return rgb if (out_w, out_h) == (width, height) else np.ascontiguousarray(rgb[:out_h, :out_w])


def _open_video(path: Path, analysis: bool = False, shared: SharedInput | None = None,
                segment: tuple[float, float] | None = None):
    """``(container, stream, packets, own)``: the video stream and its packets, from ``shared`` when it
    can serve them from the start (see ``common.media.SharedInput``; a segment that seeks cannot
    share), else from a container of its own (``own``: the caller closes it)."""
    if shared is not None and shared.container.streams.video:
        stream = shared.container.streams.video[0]
        if not _seeks(stream, segment) and shared.claim(stream):
            _configure(stream, analysis)
            return shared.container, stream, shared.packets(stream), False
    container = open_media(path)
    stream = container.streams.video[0]
    _configure(stream, analysis)
    return container, stream, container.demux(stream), True


def _configure(stream, analysis: bool) -> None:
    """The decoder's threads, and for ``analysis`` no deblocking."""
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = codec_threads()  # 0 (all cores) unless a batch set a budget
    if analysis:
        # Frames only looked at after shrinking (pass 1): the decoder's deblocking filter smooths block
        # edges a shrink averages away anyway, and skipping it saves a fifth to a quarter of the decode
        # of H.264 and HEVC footage. Rendered frames always decode in full.
        stream.codec_context.options = {"skip_loop_filter": "all"}


SEEK_AFTER = 2.0  # seconds: a segment starting later than this seeks instead of decoding from the top


def _stream_start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _seeks(stream, segment: tuple[float, float] | None) -> bool:
    """Whether reading ``segment`` of ``stream`` starts with a seek (one that starts late enough)."""
    return segment is not None and segment[0] > _stream_start(stream) + SEEK_AFTER and bool(stream.time_base)


def in_segment(times: np.ndarray, segment: tuple[float, float] | None) -> np.ndarray:
    """Which ``times`` fall in ``segment`` = [start, end) (half a millisecond's slack for rounded times)."""
    if segment is None:
        return np.ones(len(times), bool)
    return (times >= segment[0] - 5e-4) & (times < segment[1] - 5e-4)


class _Unnumbered(Exception):
    """A sparse decode met a frame its frame times do not hold (see :func:`_decoded`)."""

    def __init__(self, last: int) -> None:
        super().__init__(last)
        self.last = last  # the index of the last frame it yielded (-1: none)


def _decoded(path: Path, segment: tuple[float, float] | None = None, analysis: bool = False,
             sparse: tuple[np.ndarray, Callable[[int], bool]] | None = None,
             shared: SharedInput | None = None) -> Iterator[tuple[int, float, object]]:
    """``(index, time, av.VideoFrame)``; times are the frames' presentation times on the file's clock
    (variable frame rate and a late start are kept: a stream made with ``-itsoffset 1`` starts at 1.0),
    falling back to evenly spaced times when a frame has no pts. With ``segment`` only its frames come,
    numbered from 0 (seeking to the key frame before its start first). ``analysis``: frames that will be
    shrunk before use (see ``_open_video``).

    ``sparse = (times, wanted)``: only the frames whose index ``wanted`` accepts are needed (``times``:
    the frame times of the segment, ``MediaInfo.frame_times()``). The packet of any other frame is sent
    with ``skip_frame=NONREF``: a frame no other frame refers to (most B-frames) is then not decoded at
    all, and a reference frame decodes as before. Frames then come with gaps, each numbered by its
    time's place in ``times``; one whose time is not there raises :class:`_Unnumbered`. ``shared``:
    read from that input when it can serve (``_open_video``)."""
    import av

    container, stream, packets, own = _open_video(path, analysis, shared, segment)
    codec = stream.codec_context
    skipping = "DEFAULT"
    try:
        rate = stream.average_rate or stream.guessed_rate or 30
        start = _stream_start(stream)
        decoded = 0
        index = 0
        if _seeks(stream, segment):
            container.seek(int(segment[0] / stream.time_base), stream=stream, backward=True, any_frame=False)
            decoded = None  # after a seek, frames without pts cannot be timed by counting
        # A packet that does not decode is damage unless no packet with data follows it: a file cut off
        # ends in half a packet, and with frame threads its error may surface only at the flush (how
        # many threads decode, and so whether a truncated file was refused, must not decide that).
        bad: Exception | None = None
        try:
            for packet in packets:
                if bad is not None and packet.size:
                    raise bad
                if sparse is not None:
                    want = packet.pts is None or _wanted(sparse, float(packet.pts * stream.time_base))
                    if want != (skipping == "DEFAULT"):
                        skipping = "DEFAULT" if want else "NONREF"
                        codec.skip_frame = skipping
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:
                    bad = exc
                    continue
                for frame in frames:
                    if frame.pts is not None:
                        t = float(frame.pts * stream.time_base)
                    else:
                        t = start + (decoded or 0) / float(rate)
                    if decoded is not None:
                        decoded += 1
                    if segment is not None and not in_segment(np.array([t]), segment)[0]:
                        if t >= segment[1] - 5e-4:
                            return
                        continue
                    if sparse is not None:
                        at = _place(sparse[0], t) if frame.pts is not None else None
                        if at is None:
                            raise _Unnumbered(index - 1)
                        index = at
                    yield index, t, frame
                    index += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: the video stream is damaged at frame {index} ({exc}); re-encode it") from None
    finally:
        packets.close()
        if own:
            container.close()


def _place(times: np.ndarray, t: float) -> int | None:
    """The index of time ``t`` in the sorted ``times`` (read from the same pts, so equal), or None."""
    i = int(np.searchsorted(times, t))
    return i if i < len(times) and times[i] == t else None


def _wanted(sparse: tuple[np.ndarray, Callable[[int], bool]], t: float) -> bool:
    """Whether the frame at time ``t`` is needed: one outside ``times`` (before a segment) is not."""
    i = _place(sparse[0], t)
    return i is not None and sparse[1](i)


def iter_yuv(media: MediaInfo) -> Iterator[tuple[int, float, tuple[tuple[np.ndarray, ...], int]]]:
    """``(index, t, ((Y, U, V), shift))`` of the eye at full resolution; the views are valid until the
    next frame is read."""
    for index, t, frame in _decoded(media.path, media.segment, shared=media.shared):
        yield index, t, frame_planes(frame, media.eye)


def iter_frames(
    media: MediaInfo | str | Path, size: tuple[int, int] | None = None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, time_seconds, rgb)`` for every frame of the eye (the whole frame for a path);
    ``size=(H, W)`` resizes the planes before the colour conversion, so a small analysis grid never
    costs a full-resolution RGB frame."""
    path = Path(getattr(media, "path", media))
    eye = getattr(media, "eye", None)
    for index, t, frame in _decoded(path, getattr(media, "segment", None), analysis=size is not None,
                                    shared=getattr(media, "shared", None)):
        planes, shift = frame_planes(frame, eye)
        h, w = size if size is not None else planes[0].shape[:2]
        yield index, t, planes_to_rgb(planes, shift, int(w), int(h))


def look_due(t: float, last: float, every: float) -> bool:
    """Whether a look every ``every`` seconds takes the frame at ``t``, the last taken at ``last``: the
    first frame, then each first frame at least ``every`` after the last one taken."""
    return t - last >= every - 1e-6


def every_seconds(times: np.ndarray, every: float) -> np.ndarray:
    """Indices of the frames a look every ``every`` seconds takes (:func:`look_due`)."""
    taken, last = [], -np.inf
    for i, t in enumerate(np.asarray(times, np.float64)):
        if look_due(t, last, every):
            taken.append(i)
            last = t
    return np.asarray(taken, np.int64)


def iter_looks(
    media: MediaInfo, size: tuple[int, int], look_every: int = 1,
    detail: tuple[tuple[int, int], float] | None = None,
) -> Iterator[tuple[int, float, np.ndarray | None, np.ndarray | None]]:
    """``(index, t, small, big)`` for only the frames something looks at: ``small`` (RGB at ``size``
    (H, W)) on every ``look_every``-th frame (index a multiple of it), ``big`` (at ``detail`` = ((H, W),
    every seconds)) on the frames :func:`every_seconds` picks; None where a frame is not looked at that
    way, and frames looked at neither way do not come. The others are neither converted nor, where the
    codec allows (non-reference frames, see :func:`_decoded`), decoded: pass 1's look at the picture
    costs a fraction of a full decode on footage with B-frames. Same frames and pixels as
    :func:`iter_frames_detail` at the same indices."""
    times = media.frame_times()
    every = max(1, int(look_every))
    big_at = set(every_seconds(times, detail[1]).tolist()) if detail is not None else set()

    def wanted(i: int) -> bool:
        return i % every == 0 or i in big_at

    try:
        # Deblocked (not ``analysis``): the people detector and the colour regions read these pixels, and
        # without the loop filter the demo's camera moved by up to 4.8° (boxes changed on 80 of 300 frames).
        for index, t, frame in _decoded(Path(media.path), media.segment, False, (times, wanted), media.shared):
            if not wanted(index):
                continue  # a reference frame, decoded because others need it
            yield (index, t, *_look(frame, media.eye, size, index % every == 0, detail if index in big_at else None))
    except _Unnumbered as exc:
        # A frame without a time of its own (no pts): numbering by count, as a full decode does, from
        # the start again.
        last = exc.last
        for index, t, frame in _decoded(Path(media.path), media.segment):
            if index > last and wanted(index):
                yield (index, t, *_look(frame, media.eye, size, index % every == 0,
                                        detail if index in big_at else None))


def _look(frame, eye, size: tuple[int, int], small: bool,
          detail: tuple[tuple[int, int], float] | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A decoded frame at ``size`` (if ``small``) and at ``detail``'s size (if given), RGB."""
    planes, shift = frame_planes(frame, eye)
    return (planes_to_rgb(planes, shift, int(size[1]), int(size[0])) if small else None,
            planes_to_rgb(planes, shift, int(detail[0][1]), int(detail[0][0])) if detail is not None else None)


def iter_frames_detail(
    media: MediaInfo | str | Path, size: tuple[int, int], detail_size: tuple[int, int], every: float
) -> Iterator[tuple[int, float, np.ndarray, np.ndarray | None]]:
    """As :func:`iter_frames` at ``size``, plus the same decoded frame at ``detail_size`` (H, W) on the
    first frame and then once every ``every`` seconds of video (None on the others): a detector that
    needs pixels a small analysis grid does not have looks a few times a minute, and the video is
    decoded once for both."""
    path = Path(getattr(media, "path", media))
    eye = getattr(media, "eye", None)
    last = -np.inf
    for index, t, frame in _decoded(path, getattr(media, "segment", None), shared=getattr(media, "shared", None)):
        planes, shift = frame_planes(frame, eye)
        small = planes_to_rgb(planes, shift, int(size[1]), int(size[0]))
        big = None
        if look_due(t, last, every):
            last = t
            big = planes_to_rgb(planes, shift, int(detail_size[1]), int(detail_size[0]))
        yield index, t, small, big
