"""What is in a video file, found before any long work starts.

The probe decides two things later stages depend on: whether the frames are equirectangular (2:1, or
spherical metadata says so) and how to read the audio (AmbiX FOA, FuMa FOA, or mono). Everything a user
could get wrong is reported here as an ``InputError`` naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from common.errors import InputError, OptionError
from pano.media.spherical import read_spherical_metadata

AUDIO_FORMATS = ("auto", "ambix", "fuma", "mono")


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
    projection: str = "unknown"  # "equirectangular" when 2:1 or when metadata says so
    spherical: dict = field(default_factory=dict)
    audio_format: str = "none"  # "ambix", "fuma", "mono" (downmix of whatever is there), "none"
    notices: list[str] = field(default_factory=list)

    @property
    def has_audio(self) -> bool:
        return self.audio_channels > 0

    @property
    def is_foa(self) -> bool:
        return self.audio_format in ("ambix", "fuma")

    @property
    def is_equirectangular(self) -> bool:
        return self.projection == "equirectangular"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
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
        }


def _open(path: Path):
    import av

    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass a video file")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(
            f"{path}: not a video FFmpeg can read ({reason}); pass an MP4/MOV/MKV 360° video"
        ) from None


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
    elif info.audio_channels == 4 and info.is_equirectangular:
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


def probe(path: str | Path, audio_format: str = "auto") -> MediaInfo:
    """Read stream facts and metadata; raise ``InputError`` for files that cannot be a 360° input."""
    path = Path(path)
    container = _open(path)
    try:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream; pass a 360° video file")
        vs = container.streams.video[0]
        cc = vs.codec_context
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if not fps or fps <= 0 or fps > 1000:
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
    finally:
        container.close()
    info.spherical = read_spherical_metadata(path)
    if info.spherical.get("projection"):
        info.projection = info.spherical["projection"]
    elif info.width == 2 * info.height:
        info.projection = "equirectangular"
    _decide_audio_format(info, audio_format)
    return info


def require_equirectangular(info: MediaInfo) -> None:
    """Refuse inputs whose frames cannot be read as an equirectangular panorama."""
    if info.projection == "equirectangular" and abs(info.width - 2 * info.height) <= 2:
        return
    if info.projection not in ("equirectangular", "unknown"):
        raise InputError(
            f"{info.path}: the video is in {info.projection} projection; convert it to equirectangular "
            "first (e.g. ffmpeg -vf v360=c3x2:e)"
        )
    ratio = Fraction(info.width, info.height).limit_denominator(100)
    raise InputError(
        f"{info.path}: frames are {info.width}×{info.height} ({ratio.numerator}:{ratio.denominator}), not a "
        "2:1 equirectangular panorama; pass a 360° video (e.g. 3840×1920) or convert it to equirectangular"
    )


def require_audio(info: MediaInfo) -> None:
    if not info.has_audio:
        raise InputError(
            f"{info.path}: has no audio stream, and pano-pan follows the sound; pass a video with its audio track"
        )
