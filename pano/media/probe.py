"""What is in a video file, found before any long work starts, and the one object the pipeline holds.

The probe decides what later stages depend on: the projection (metadata first — MP4 boxes, Matroska
elements, FFmpeg's side data — then the frame shape, or ``--projection equirect``), the stereo layout
and so the eye that is analysed and rendered, and how to read the audio (AmbiX FOA, FuMa FOA, or mono).
The 360° decision comes first and everything that hangs on it follows it: a 16:9 frame that the file
declares equirectangular is a full sphere stretched, and its 4-channel audio is FOA like a 2:1 one's.

:class:`MediaInfo` is then what travels through the pipeline instead of the path: it hands out the
stream readers (frame times, frames of the eye, YUV planes, audio chunks) so the file is probed once.
Everything a user could get wrong is reported here as an ``InputError`` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from common.errors import InputError, OptionError
from common.media import SharedInput, open_media
from pano.media.spherical import mp4_header_damage, read_spherical_metadata

AUDIO_FORMATS = ("auto", "ambix", "fuma", "mono")
PROJECTIONS = ("auto", "equirect")
STEREO_MODES = ("auto", "mono", "top-bottom", "left-right")
NEAR = 0.01  # relative tolerance on "2:1" (961×481 is an equirectangular frame with an odd size)
_FFMPEG_PROJECTIONS = {0: "equirectangular", 1: "cubemap", 2: "equirectangular (tiled)"}
_FFMPEG_STEREO = {0: "mono", 1: "left-right", 2: "top-bottom"}
_WHERE = {"mp4": "MP4 spherical-video box", "matroska": "Matroska Projection element"}


@dataclass
class MediaInfo:
    path: Path
    width: int
    height: int
    fps: float
    frame_count: int  # from the container; may be an estimate when the container does not say
    duration: float  # seconds
    video_codec: str
    pix_fmt: str
    audio_channels: int = 0
    audio_sample_rate: int = 0
    audio_layout: str = ""
    audio_codec: str = ""
    audio_duration: float = 0.0
    projection: str = "unknown"  # "equirectangular" when metadata says so, or 2:1 (per eye), or forced
    projection_source: str = ""  # where the projection came from, in words (for inspect)
    stereo: str = "mono"  # "mono", "top-bottom", "left-right": which part of the frame is one eye
    stereo_source: str = ""
    spherical: dict = field(default_factory=dict)
    audio_format: str = "none"  # "ambix", "fuma", "mono" (downmix of whatever is there), "none"
    notices: list[str] = field(default_factory=list)
    # (start, end) seconds on the file's clock: the frame readers and frame_times keep only frames in
    # [start, end) (--start/--end); audio_chunks stays on the whole file's clock (sample k at k / rate)
    segment: tuple[float, float] | None = None
    _times: np.ndarray | None = field(default=None, repr=False, compare=False)
    # The one open container the readers share, inside ``reading_together`` (None: each opens its own)
    shared: SharedInput | None = field(default=None, repr=False, compare=False)

    @property
    def has_audio(self) -> bool:
        return self.audio_channels > 0

    @property
    def is_foa(self) -> bool:
        return self.audio_format in ("ambix", "fuma")

    @property
    def is_equirectangular(self) -> bool:
        return self.projection == "equirectangular"

    @property
    def eye(self) -> tuple[int, int, int, int]:
        """``(x, y, width, height)`` of the frame region analysed and rendered: the first eye of a
        stereo frame (top or left), or the whole frame; even sizes so the chroma planes line up."""
        if self.stereo == "top-bottom":
            return 0, 0, self.width & ~1, (self.height // 2) & ~1
        if self.stereo == "left-right":
            return 0, 0, (self.width // 2) & ~1, self.height & ~1
        return 0, 0, self.width & ~1, self.height & ~1

    @property
    def pano_size(self) -> tuple[int, int]:
        """(width, height) of one eye's equirectangular panorama as stored (2:1, or stretched)."""
        return self.eye[2], self.eye[3]

    def to_dict(self) -> dict:
        d = asdict(replace(self, _times=None, shared=None))
        d.pop("_times")
        d.pop("shared")
        if d["segment"] is None:
            d.pop("segment")
        d["path"] = str(self.path)
        d["eye"] = list(self.eye)
        return d

    def source_record(self) -> dict:
        """The ``source`` block of the trajectory JSON."""
        return {
            "path": self.path.name,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 6),
            "frame_count": self.frame_count,
            "duration": round(self.duration, 6),
            "projection": self.projection,
        } | ({"stereo": self.stereo} if self.stereo != "mono" else {})

    # --- the stream readers this media object hands out ---------------------------------------------

    def frame_times(self) -> np.ndarray:
        """Presentation times of every video frame (of the segment) on the file's clock (seconds), read once."""
        if self._times is None:
            from pano.media.video import in_segment, read_frame_times

            times = read_frame_times(self.path)
            self._times = times[in_segment(times, self.segment)] if self.segment else times
        return self._times

    def with_segment(self, start: float | None, end: float | None) -> MediaInfo:
        """This media limited to the frames in ``[start, end)`` seconds of the file's clock (None: open).

        A segment that holds no frame is refused with the file's own time span."""
        if start is None and end is None:
            return self
        lo, hi = float(start or 0.0), float("inf") if end is None else float(end)
        if hi <= lo:
            raise OptionError(f"--start {lo:g} --end {hi:g}: the end must come after the start")
        clipped = replace(self, segment=(lo, hi), _times=None, notices=list(self.notices))
        times = clipped.frame_times()
        if len(times) == 0:
            raise OptionError(f"{self.path}: no frame between {lo:g} s and {hi:g} s (the video runs "
                              f"0–{self.duration:.2f} s); check --start/--end")
        return clipped

    def frames(self, size: tuple[int, int] | None = None):
        """``(index, t, rgb)`` of the eye, resized to ``size=(H, W)`` (a 2:1 analysis grid) if given."""
        from pano.media.video import iter_frames

        return iter_frames(self, size=size)

    def yuv_frames(self):
        """``(index, t, planes)``: the eye's Y, U, V planes at full resolution (see ``iter_yuv``)."""
        from pano.media.video import iter_yuv

        return iter_yuv(self)

    def audio_chunks(self, sample_rate: int, channels: int | None = None, chunk_seconds: float = 2.0):
        """Float32 ``(C, n)`` audio chunks (``channels=None``: as stored, no remixing)."""
        from common.audio_io import iter_audio_chunks

        return iter_audio_chunks(self.path, sample_rate, channels=channels, chunk_seconds=chunk_seconds,
                                 shared=self.shared)

    @contextlib.contextmanager
    def reading_together(self, video: bool = True, audio: bool = True) -> Iterator[MediaInfo]:
        """This media with its frame and audio readers taking their packets from one open container
        for the block (``common.media.SharedInput``): a pass that reads the picture and the sound
        holds the demuxer's per-sample index once, not twice (26.7 MB for the two-hour memory benchmark
        clip). Give ``video`` and ``audio`` as the pass will read them: a stream kept for a reader that
        never comes would hold packets for nothing. Anything but both, or a file without sound: this media as it is."""
        if not (video and audio and self.has_audio) or self.shared is not None:
            yield self
            return
        with SharedInput(self.path, ("video", "audio")) as shared:
            yield replace(self, shared=shared)


def _ambisonic_order(channels: int) -> int | None:
    """The ambisonic order a channel count can hold ((order + 1)² channels), or None."""
    order = round(channels**0.5) - 1
    return order if order >= 1 and (order + 1) ** 2 == channels else None


def _decide_audio_format(info: MediaInfo, requested: str) -> None:
    if requested not in AUDIO_FORMATS:
        raise OptionError(f"--audio-format {requested!r} is not one of {', '.join(AUDIO_FORMATS)}")
    if not info.has_audio:
        info.audio_format = "none"
        return
    sa3d = info.spherical.get("spatial_audio")
    declared = bool(sa3d) or "ambisonic" in info.audio_layout.lower()
    order = _ambisonic_order(info.audio_channels)
    if requested in ("ambix", "fuma"):
        # 4 channels, a full higher-order set (9, 16, ...), or a track declared ambisonic; not 5.1 etc.
        if not (order or (declared and info.audio_channels >= 4)):
            layout = f" ({info.audio_layout})" if info.audio_layout else ""
            raise InputError(
                f"{info.path}: --audio-format {requested} needs ambisonic audio (4 channels for first order, "
                f"9 or 16 for higher orders); the file has {info.audio_channels} channel(s){layout}, a layout "
                "that cannot be ambisonic; use --audio-format auto or mono"
            )
        info.audio_format = requested
        _note_higher_order(info)
        return
    if requested == "mono":
        info.audio_format = "mono"
        return
    if declared and info.audio_channels >= 4:
        info.audio_format = "ambix"
        _note_higher_order(info)
    elif info.audio_channels == 4 and info.is_equirectangular:  # follows the same 360° decision
        info.audio_format = "ambix"
        info.notices.append(
            f"{info.path.name}: 4-channel audio without spatial-audio metadata; treating it as AmbiX FOA "
            "(use --audio-format fuma or mono if it is not)"
        )
    elif order and order > 1 and info.is_equirectangular:
        info.audio_format = "ambix"
        _note_higher_order(info, guessed=True)
    else:
        info.audio_format = "mono"


def _note_higher_order(info: MediaInfo, guessed: bool = False) -> None:
    """Higher-order ambisonics: its first four channels are the first-order part, which is what is used."""
    if info.audio_channels <= 4:
        return
    order = _ambisonic_order(info.audio_channels)
    what = f"order-{order} ambisonics" if order else "an ambisonic track"
    how = " (no spatial-audio metadata; use --audio-format mono if it is not ambisonic)" if guessed else ""
    info.notices.append(
        f"{info.path.name}: {info.audio_channels}-channel audio read as {what}{how}; using its first four "
        "channels (the first-order part: W, Y, Z, X)"
    )


MIN_FRAME = (16, 8)  # the smallest frame read as a panorama (a 1×1 GIF divided by its zero-height eye)


def probe(path: str | Path, audio_format: str = "auto", projection: str = "auto", stereo: str = "auto") -> MediaInfo:
    """Read stream facts and metadata; raise ``InputError`` for files that cannot be a 360° input.

    ``projection="equirect"`` and a ``stereo`` other than ``auto`` override what the file says (for
    files without metadata, or with wrong metadata).
    """
    if projection not in PROJECTIONS:
        raise OptionError(f"--projection {projection!r}: choose from {', '.join(PROJECTIONS)}")
    if stereo not in STEREO_MODES:
        raise OptionError(f"--stereo {stereo!r}: choose from {', '.join(STEREO_MODES)}")
    path = Path(path)
    container = open_media(path)
    try:
        damage = mp4_header_damage(path)
        if damage:
            raise InputError(f"{path}: the file is damaged ({damage}); re-encode or copy it again")
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream; pass a 360° video file")
        vs = container.streams.video[0]
        cc = vs.codec_context
        # The first plausible of FFmpeg's three estimates: a remuxed Matroska stream can report a
        # millisecond-clock average (30000) while its guessed rate is right.
        rates = [float(r) for r in (vs.average_rate, vs.guessed_rate, vs.base_rate) if r]
        fps = next((r for r in rates if 0 < r <= 1000), 0.0)
        if not fps:
            raise InputError(f"{path}: cannot tell the video's frame rate; re-encode it with a constant frame rate")
        if vs.duration is not None and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frame_count = int(vs.frames) if vs.frames else int(round(duration * fps))
        if not cc.width or not cc.height:
            raise InputError(f"{path}: the video stream has no picture size; the file may be damaged")
        if cc.width < MIN_FRAME[0] or cc.height < MIN_FRAME[1]:
            raise InputError(f"{path}: {cc.width}×{cc.height} frames are too small for a 360° video (at least "
                             f"{MIN_FRAME[0]}×{MIN_FRAME[1]}); pass the panorama itself")
        info = MediaInfo(
            path=path,
            width=int(cc.width),
            height=int(cc.height),
            fps=fps,
            frame_count=frame_count,
            duration=duration if duration > 0 else frame_count / fps,
            video_codec=cc.name,
            pix_fmt=str(cc.pix_fmt or getattr(cc, "format", "") or ""),
        )
        if container.streams.audio:
            aus = container.streams.audio[0]
            acc = aus.codec_context
            info.audio_channels = int(acc.channels)
            info.audio_sample_rate = int(acc.sample_rate or 0)
            info.audio_layout = getattr(acc.layout, "name", "") or ""
            info.audio_codec = acc.name
            if aus.duration is not None and aus.time_base:
                info.audio_duration = float(aus.duration * aus.time_base)
            else:
                info.audio_duration = info.duration
        info.spherical = read_spherical_metadata(path)
        if "projection" not in info.spherical and info.spherical.get("container") not in _WHERE:
            _ffmpeg_side_data(container, info.spherical)
    finally:
        container.close()
    _decide_projection(info, projection, stereo)
    _decide_audio_format(info, audio_format)
    return info


def _ffmpeg_side_data(container, found: dict) -> None:
    """What FFmpeg's demuxer attached to the first decoded frame, for containers not parsed here.

    PyAV exposes no stream side data, but the decoder copies the stream's spherical and stereo side
    data onto every frame; the first ``int32`` of each is FFmpeg's projection / stereo-type code.
    """
    import av
    from av.sidedata.sidedata import Type

    try:
        for frame in container.decode(video=0):
            for sd in frame.side_data:
                code = int.from_bytes(bytes(sd)[:4], "little")
                if sd.type == Type.SPHERICAL:
                    found["projection"] = _FFMPEG_PROJECTIONS.get(code, f"unknown ({code})")
                    found["source"] = "FFmpeg side data"
                elif sd.type == Type.STEREO3D:
                    found["stereo_mode"] = _FFMPEG_STEREO.get(code, f"unsupported ({code})")
                    found["source"] = "FFmpeg side data"
            return
    except (av.error.FFmpegError, ValueError):
        return


def _near(ratio: float, target: float) -> bool:
    return abs(ratio / target - 1.0) <= NEAR


def _decide_projection(info: MediaInfo, projection: str, stereo: str) -> None:
    """Projection and stereo layout: the user's word, else the file's metadata, else the frame shape."""
    meta = info.spherical
    where = meta.get("source") or _WHERE.get(meta.get("container", ""), "metadata")
    if meta.get("spherical_v1"):
        where = "MP4 spherical-video V1 XML"
    aspect = info.width / info.height
    if stereo != "auto":
        info.stereo, info.stereo_source = stereo, f"--stereo {stereo}"
    elif meta.get("stereo_mode") in ("mono", "top-bottom", "left-right"):
        info.stereo, info.stereo_source = meta["stereo_mode"], where
    elif "stereo_mode" in meta:
        raise InputError(f"{info.path}: stereo layout {meta['stereo_mode']} is not supported; convert it to "
                         "top-bottom or left-right, or pass --stereo mono to use the whole frame")
    if projection == "equirect":
        info.projection, info.projection_source = "equirectangular", "--projection equirect"
    elif meta.get("projection"):
        info.projection, info.projection_source = meta["projection"], where
    if info.projection == "equirectangular" and not info.stereo_source:
        # Declared (or forced) equirectangular with no stereo word: a square frame is two 2:1 eyes
        # stacked (the usual 3D 360° delivery), a 4:1 one two side by side.
        for mode, target in (("top-bottom", 1.0), ("left-right", 4.0)):
            if _near(aspect, target):
                info.stereo, info.stereo_source = mode, f"the {target:g}:1 frame shape"
                info.notices.append(f"{info.path.name}: {info.width}×{info.height} equirectangular frames: reading "
                                    f"them as {mode} stereo (pass --stereo mono if they are not)")
    eye_w, eye_h = info.pano_size
    if info.projection == "unknown" and _near(eye_w / eye_h, 2.0):
        info.projection, info.projection_source = "equirectangular", f"the {eye_w}×{eye_h} frame shape (2:1)"
    if not info.stereo_source:
        info.stereo_source = "default"


def _convert_command(info: MediaInfo, filt: str) -> str:
    return f"ffmpeg -i {info.path.name} -vf v360={filt}:e -c:a copy {info.path.stem}.equirect.mp4"


def _cubemap_filter(info: MediaInfo) -> str:
    if info.projection == "mesh":
        return "eac"  # YouTube's equi-angular cubemap is declared as a mesh projection
    aspect = info.width / info.height
    return "c6x1" if _near(aspect, 6.0) else "c1x6" if _near(aspect, 1 / 6) else "c3x2"


def require_equirectangular(info: MediaInfo) -> None:
    """Refuse inputs whose frames cannot be read as a full-sphere equirectangular panorama, saying how
    to convert them (cubemaps are not rendered directly: one ffmpeg command turns them into one)."""
    if info.projection == "equirectangular":
        bounds = info.spherical.get("bounds")
        if bounds:
            raise InputError(
                f"{info.path}: the equirectangular frame covers only part of the sphere (cropped "
                f"{', '.join(f'{k} {v:.0%}' for k, v in bounds.items() if v)}); pano-pan needs the full sphere: "
                f"{_convert_command(info, 'hequirect')}"
            )
        return
    if info.projection in ("cubemap", "mesh"):
        kind = "YouTube equi-angular cubemap" if info.projection == "mesh" else "cubemap"
        raise InputError(
            f"{info.path}: the video is a {kind} ({info.width}×{info.height}); convert it to equirectangular "
            f"first: {_convert_command(info, _cubemap_filter(info))}"
        )
    if info.projection != "unknown":
        raise InputError(
            f"{info.path}: the video is in {info.projection} projection, not a 360° equirectangular panorama; "
            "pass a 360° video"
        )
    ratio = Fraction(info.width, info.height).limit_denominator(100)
    shape = f"{ratio.numerator}:{ratio.denominator}"
    aspect = info.width / info.height
    if _near(aspect, 1.5) or _near(aspect, 6.0):
        hint = (f"if it is a {'3×2' if _near(aspect, 1.5) else '6×1'} cubemap, convert it: "
                f"{_convert_command(info, 'c3x2' if _near(aspect, 1.5) else 'c6x1')}")
    elif _near(aspect, 1.0):
        hint = "if it is top-bottom stereo 360° video, pass --stereo top-bottom"
    else:
        hint = "if it is an equirectangular 360° video without metadata, pass --projection equirect"
    raise InputError(
        f"{info.path}: frames are {info.width}×{info.height} ({shape}) with no 360° metadata, not a 2:1 "
        f"equirectangular panorama; {hint}"
    )


def require_audio(info: MediaInfo) -> None:
    if not info.has_audio:
        raise InputError(
            f"{info.path}: has no audio stream, and pano-pan follows the sound; pass a video with its audio track"
        )


def parse_clock(text: str | float, flag: str = "--start") -> float:
    """Seconds from ``"83.5"``, ``"1:23.5"`` or ``"0:01:23.5"`` (as players show times)."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        try:
            parts = [float(p) for p in str(text).strip().split(":")]
            if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts) or any(p >= 60 for p in parts[1:]):
                raise ValueError
        except ValueError:
            raise OptionError(f"{flag} {text!r}: give seconds (83.5) or [H:]MM:SS(.s) (1:23.5)") from None
        value = 0.0
        for p in parts:
            value = value * 60 + p
    if value < 0:
        raise OptionError(f"{flag} {text!r}: a time on the file's clock cannot be negative")
    return value
