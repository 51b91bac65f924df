"""The MP4/MOV writer that keeps the source's sound (H.264 by default; the delivery codecs in
``pano.media.codecs``).

Video is encoded with libx264 (yuv420p, so every player opens it). Each frame keeps the presentation
time it is given (a 90 kHz clock), so a variable-frame-rate or late-starting source keeps its timing and
the video stays in step with its sound and its trajectory; without a time, frames are evenly spaced. Audio is
stream-copied from the source when MP4 can hold its codec (no generation loss, no cost) and re-encoded
to AAC otherwise; audio packets are interleaved as the video advances so the muxer never buffers a
whole track. The file is written under a temporary name and renamed only when complete; spherical and
spatial-audio boxes (``pano.media.boxes``) are added to it just before the rename.

Frames go in as RGB (:meth:`VideoWriter.write`) or, on the fast path, as the encoder's own yuv420p
planes (:meth:`VideoWriter.write_yuv`), which skips a colour conversion per frame. Other codecs and
containers (HEVC, VP9 in WebM, Matroska) are there to make test and benchmark clips.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from common.atomic import temp_path_for
from common.errors import InputError, OutputError
from common.outputs import atomic_output
from common.threads import codec_threads
from common.version import VERSION
from pano.media.boxes import MetadataBoxes, add_boxes, amend_moov
from pano.media.codecs import Encoding
from pano.media.mp4layout import FRAGMENT_OPTIONS, defragment

MP4_COPYABLE_AUDIO = {"aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"}
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# Per-codec encoder options beyond crf (x265 is chatty on stderr; VP9 needs constant-quality mode).
_CODEC_OPTIONS = {
    "libx265": lambda crf, preset: {"crf": str(crf), "preset": preset, "x265-params": "log-level=error"},
    "libvpx-vp9": lambda crf, preset: {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"},
}
CLOCK = 90000  # video time base: 1/90000 s, exact for every common frame rate and fine enough for VFR
_AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}
# How an MP4/MOV is laid out (see pano.media.mp4layout). standard: one moov first (+faststart), what
# every editor imports, written from fragments so memory stays flat however long the video; fragmented:
# the fragments themselves (no second copy on disk, no final pass; some editors import it badly);
# faststart: FFmpeg's own muxer, whose sample tables grow with the video (~75 bytes a frame per stream).
MP4_LAYOUTS = ("standard", "fragmented", "faststart")
_MOVFLAGS = {"fragmented": {"movflags": "frag_keyframe+empty_moov+default_base_moof"},
             "faststart": {"movflags": "+faststart"}, "standard": FRAGMENT_OPTIONS}


def _add_audio(output, codec: str, rate: int, layout: str):
    """An audio stream on ``output``. FFmpeg's own AAC encoder codes correlated channel pairs as
    intensity stereo by default (``aac_is``): it keeps each pair's loudness but not how the channels
    differ, which is the FOA track's direction itself (a source circling at 36°/s read up to 12° off per
    second, and seconds 100° off on real clips; with it off, within about 1°), so it is off for every
    track written here. It costs a little efficiency on stereo, none on quality."""
    options = {"aac_is": "0"} if codec == "aac" else None
    return output.add_stream(codec, rate=rate, layout=layout, options=options)


def _as_rate(fps: float | Fraction) -> Fraction:
    if isinstance(fps, Fraction):
        return fps
    return Fraction(fps).limit_denominator(1001)


class _AudioCopier:
    """Copies (or re-encodes) one audio stream into the output, up to a given time at each call."""

    def __init__(self, output, source: Path, downmix: int | None = None, mux=None):
        """``downmix`` channels (1 or 2): re-encode the track remixed to that many, when it has more;
        ``mux`` writes a packet (default: ``output.mux``)."""
        import av

        try:
            self.input = av.open(str(source))
        except av.error.FFmpegError as exc:
            raise InputError(f"{source}: cannot read the audio to keep ({exc})") from None
        if not self.input.streams.audio:
            self.input.close()
            raise InputError(f"{source}: has no audio stream to keep")
        self.in_stream = self.input.streams.audio[0]
        self.average = False
        remix = downmix is not None and self.in_stream.codec_context.channels > downmix
        self.copy = self.in_stream.codec_context.name in MP4_COPYABLE_AUDIO and not remix
        if remix:  # a 4-channel track that is not ambisonic: played as quad, it is not what the run heard
            cc = self.in_stream.codec_context
            self.channels, self.layout, self.rate = downmix, _AAC_LAYOUTS[downmix], cc.sample_rate
            self.out_stream = _add_audio(output, "aac", cc.sample_rate, self.layout)
            self.out_stream.bit_rate = 64000 * downmix
            # FFmpeg has no downmix matrix for a bare "N channels" layout (higher-order ambisonics):
            # those are averaged here, as the mono analysis reads them (common.audio_io).
            self.average = cc.layout.name.endswith("channels")
            if self.average:
                self.in_channels = cc.channels
                self.to_float = av.AudioResampler(format="flt" if cc.channels > 8 else "fltp")
            else:
                self.in_channels = downmix
                self.to_float = av.AudioResampler(format="fltp", layout=self.layout, rate=cc.sample_rate)
        elif self.copy:
            self.out_stream = output.add_stream_from_template(self.in_stream)
        else:
            cc = self.in_stream.codec_context
            self.channels = min(cc.channels, 8) if cc.channels in _AAC_LAYOUTS else min(cc.channels, 2)
            self.layout = _AAC_LAYOUTS.get(self.channels, "stereo")
            self.rate = cc.sample_rate
            self.out_stream = _add_audio(output, "aac", cc.sample_rate, self.layout)
            self.out_stream.bit_rate = 64000 * min(self.channels, 6)
            # Same layout and rate: only the sample format changes, so no channel is remixed. More than 8
            # planes crash PyAV's to_ndarray, so such tracks (higher-order ambisonics) are read interleaved.
            self.in_channels = cc.channels
            self.to_float = av.AudioResampler(format="flt" if cc.channels > 8 else "fltp")
        self.output = output
        self.mux = mux or output.mux
        self.packets = self.input.demux(self.in_stream)
        self.pending = None
        self.done = False

    def _emit(self, packet) -> None:
        import av

        if self.copy:
            if packet.dts is None:
                return
            packet.stream = self.out_stream
            self.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for flt in self.to_float.resample(frame):
                arr = flt.to_ndarray()
                if self.in_channels > 8:
                    arr = arr.reshape(-1, self.in_channels).T
                if self.average:
                    arr = np.repeat(arr.mean(axis=0, keepdims=True), self.channels, axis=0)
                arr = np.ascontiguousarray(arr[: self.channels])
                out = av.AudioFrame.from_ndarray(arr, format="fltp", layout=self.layout)
                out.sample_rate = self.rate
                for pkt in self.out_stream.encode(out):
                    self.mux(pkt)

    def advance(self, until: float | None) -> None:
        """Write audio packets whose time is before ``until`` seconds (all of them for None)."""
        tb = self.in_stream.time_base
        while not self.done:
            if self.pending is None:
                try:
                    self.pending = next(self.packets)
                except StopIteration:
                    self.done = True
                    break
            pkt = self.pending
            if until is not None and pkt.pts is not None and float(pkt.pts * tb) > until:
                return
            self.pending = None
            if pkt.size == 0 and self.copy:
                continue
            self._emit(pkt)

    def close(self) -> None:
        self.advance(None)
        if not self.copy:
            for pkt in self.out_stream.encode(None):
                self.mux(pkt)
        self.input.close()


class VideoWriter:
    """Context manager: ``with VideoWriter(path, w, h, fps, audio_from=src) as w: w.write(rgb)``.

    ``audio_from`` keeps that file's audio; ``audio=(samples (C, S) float32, rate)`` encodes given
    samples to AAC instead (used to make test and demo clips); ``audio_stream=(channels, rate)`` opens an
    AAC track fed piece by piece with :meth:`write_audio`. The output appears at ``path`` only if the
    block finishes without an exception. ``layout``: how an MP4/MOV is laid out (``MP4_LAYOUTS``).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float | Fraction,
        audio_from: str | Path | None = None,
        audio: tuple[np.ndarray, int] | None = None,
        audio_stream: tuple[int, int] | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        threads: int | None = None,
        codec: str = "libx264",
        boxes: MetadataBoxes | None = None,
        color_range: int | None = None,
        pix_fmt: str = "yuv420p",
        audio_codec: str | None = None,
        mark: bool = True,
        encoding: Encoding | None = None,
        downmix: int | None = None,
        layout: str = "standard",
    ) -> None:
        if layout not in MP4_LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(MP4_LAYOUTS)}, not {layout!r}")
        if width % 2 or height % 2:
            raise OutputError(f"{path}: H.264 yuv420p needs an even frame size, got {width}×{height}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.rate = _as_rate(fps)
        self.audio_from = Path(audio_from) if audio_from else None
        self.downmix = downmix  # channels the kept track is remixed to when it has more (None: as it is)
        self.audio = audio
        if audio is not None:
            audio_stream = (audio[0].shape[0], int(audio[1]))
        self.audio_stream = audio_stream
        self._audio_pts = 0
        # None: the job's thread budget (common.threads), else FFmpeg's choice
        self.crf, self.preset, self.threads = crf, preset, codec_threads() if threads is None else threads
        self.codec, self.boxes, self.color_range, self.pix_fmt = codec, boxes, color_range, pix_fmt
        self.audio_codec = audio_codec
        self.encoding = encoding
        if encoding is not None:  # the delivery codec (pano.media.codecs) replaces codec/pix_fmt/crf/preset
            self.codec, self.pix_fmt = encoding.encoder, encoding.pix_fmt
        self.format = _FORMATS.get(self.path.suffix.lower(), "mp4")
        self.mark = mark
        self.layout = layout
        self.frames_written = 0
        self._last_pts: int | None = None
        self._last_time = 0.0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> VideoWriter:
        import av

        tmp = self._stack.enter_context(atomic_output(self.path))
        self._tmp = tmp
        mp4 = self.format in ("mp4", "mov")
        options = dict(_MOVFLAGS[self.layout]) if mp4 else {}
        self._fragments = temp_path_for(self.path) if mp4 and self.layout == "standard" else None
        self._starts: dict[int, tuple[int, int, Fraction]] = {}  # per stream: first packet's dts, pts
        if self._fragments is not None:  # removed whatever happens (a killed run's: remove_stale_parts)
            self._stack.callback(self._fragments.unlink, missing_ok=True)
        try:
            self.output = av.open(str(self._fragments or tmp), "w", format=self.format, options=options)
        except av.error.FFmpegError as exc:
            self._stack.close()
            raise OutputError(f"{self.path}: cannot create the video ({exc}); check the output folder") from None
        self._stack.callback(self.output.close)
        if self.mark:  # pano-pan's outputs may be replaced by a later run (common.ownership)
            self.output.metadata["comment"] = f"pano-pan {VERSION}"
        vs = self.output.add_stream(self.codec, rate=self.rate)
        vs.codec_context.time_base = Fraction(1, CLOCK)
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, self.pix_fmt
        if self.encoding is not None:
            vs.options = dict(self.encoding.options)
            if self.encoding.tag and self.format in ("mp4", "mov"):
                vs.codec_tag = self.encoding.tag
        else:
            make_options = _CODEC_OPTIONS.get(self.codec, lambda crf, preset: {"crf": str(crf), "preset": preset})
            vs.options = make_options(self.crf, self.preset)
        if self.color_range is not None:
            vs.codec_context.color_range = self.color_range
        vs.codec_context.thread_count = self.threads
        vs.thread_type = "AUTO"
        self.vstream = vs
        self._copier = _AudioCopier(self.output, self.audio_from, self.downmix, self._mux) if self.audio_from else None
        self._astream = None
        if self.audio_stream is not None:
            channels, rate = self.audio_stream
            self._alayout = _AAC_LAYOUTS.get(channels)
            if self._alayout is None:
                raise OutputError(f"{self.path}: cannot encode {channels} audio channels to AAC")
            acodec = self.audio_codec or ("libopus" if self.format == "webm" else "aac")
            self._astream = _add_audio(self.output, acodec, int(rate), self._alayout)
            self._astream.bit_rate = 64000 * min(channels, 6)
        return self

    def write(self, rgb: np.ndarray, t: float | None = None) -> None:
        """Encode one frame shown at ``t`` seconds (the source frame's time); None: the next even slot."""
        import av

        self._encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"), t)

    def write_yuv(self, planes: np.ndarray, t: float | None = None) -> None:
        """One frame as a yuv420p buffer ``(H·3/2, W)`` uint8: Y rows, then U, then V (see :func:`yuv_buffer`)."""
        import av

        self._encode(av.VideoFrame.from_ndarray(planes, format="yuv420p"), t)

    def _encode(self, frame, t: float | None) -> None:
        if t is None:
            t = (self._last_time + 1 / float(self.rate)) if self._last_pts is not None else 0.0
        pts = int(round(t * CLOCK))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # times must increase; a repeated time moves by one tick
        frame.pts = pts
        frame.time_base = Fraction(1, CLOCK)
        for packet in self.vstream.encode(frame):
            self._mux(packet)
        self._last_pts, self._last_time = pts, t
        self.frames_written += 1
        if self._copier is not None:
            self._copier.advance(t + 1 / float(self.rate) + 0.5)

    def _mux(self, packet) -> None:
        index = packet.stream.index
        if index not in self._starts and packet.dts is not None:
            pts = packet.pts if packet.pts is not None else packet.dts
            self._starts[index] = (packet.dts, pts, packet.time_base)
        self.output.mux(packet)

    def _track_starts(self) -> dict[int, tuple[int, int]]:
        """Per MP4 track id, the first packet's (dts, pts) in the track's timescale (as the muxer
        rescales them: to the nearest tick, halves away from zero)."""
        def near(value: int, scale: Fraction) -> int:
            x = abs(Fraction(value) * scale)
            return (1 if value >= 0 else -1) * int(x + Fraction(1, 2))

        out = {}
        for index, (dts, pts, tb) in self._starts.items():
            scale = Fraction(tb) / Fraction(self.output.streams[index].time_base)
            out[index + 1] = (near(dts, scale), near(pts, scale))
        return out

    @property
    def audio_time(self) -> float:
        """Seconds of audio written so far through :meth:`write_audio`."""
        return self._audio_pts / self.audio_stream[1] if self.audio_stream else 0.0

    def write_audio(self, samples: np.ndarray) -> None:
        """Append float32 ``(C, n)`` samples to the AAC track opened with ``audio_stream``/``audio``."""
        import av

        samples = np.asarray(samples, dtype=np.float32)
        step = 1024 * 16
        for start in range(0, samples.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + step]), format="fltp", layout=self._alayout
            )
            frame.sample_rate = int(self.audio_stream[1])
            frame.pts = self._audio_pts
            self._audio_pts += frame.samples
            for packet in self._astream.encode(frame):
                self._mux(packet)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for packet in self.vstream.encode(None):
                    self._mux(packet)
                if self._copier is not None:
                    self._copier.close()
                if self.audio is not None:
                    self.write_audio(self.audio[0])
                if self._astream is not None:
                    for packet in self._astream.encode(None):
                        self._mux(packet)
                if self._fragments is not None:  # the standard file, from the fragments
                    starts = self._track_starts()
                    self.output.close()
                    amend = (lambda moov: amend_moov(moov, self.boxes)) if self.boxes else None
                    defragment(self._fragments, self._tmp, starts, amend)
                    self._fragments.unlink()
                elif self.boxes:
                    self.output.close()
                    add_boxes(self._tmp, self.boxes)
            elif self._copier is not None:
                self._copier.input.close()
        finally:
            self._stack.__exit__(exc_type, exc, tb)


def write_video(
    path: str | Path,
    frames,
    fps: float,
    audio: tuple[np.ndarray, int] | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    **writer_options,
) -> Path:
    """Encode an iterable of RGB frames (and optional raw audio) to a video file; for tests and demos
    (inputs, so without the mark that lets a later run replace pano-pan's outputs). ``writer_options``
    go to :class:`VideoWriter` (codec, pix_fmt, audio_codec, boxes)."""
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    with VideoWriter(path, w, h, fps, audio=audio, crf=crf, preset=preset, mark=False, **writer_options) as writer:
        writer.write(first)
        for frame in it:
            writer.write(frame)
    return Path(path)


def yuv_buffer(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An empty yuv420p frame buffer for :meth:`VideoWriter.write_yuv` and views of its Y, U, V planes."""
    flat = np.empty(width * height * 3 // 2, np.uint8)
    luma, chroma = width * height, (width // 2) * (height // 2)
    y = flat[:luma].reshape(height, width)
    u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
    v = flat[luma + chroma :].reshape(height // 2, width // 2)
    return flat.reshape(height * 3 // 2, width), y, u, v
