"""Delivery codecs for the NFOV video: ``--codec``, ``--crf``/``--preset`` and ``--encoder``.

Four codecs cover what people deliver and edit: H.264 (plays everywhere, the default), HEVC (half the
size at the same quality, tagged ``hvc1`` so Apple players open it), AV1 (smaller still; SVT-AV1) and
ProRes 422 HQ (10-bit intra frames that editors scrub without decoding chains; QuickTime ``.mov``,
since MP4 cannot hold it). Each has a software encoder in PyAV's FFmpeg, so every choice works on
every machine; ``--encoder`` names another FFmpeg encoder of that codec (``h264_nvenc``,
``hevc_qsv``, ``h264_amf``, ``h264_videotoolbox``, …) and when it cannot open here — not in this FFmpeg
build, or no such hardware — the run says so in one line and uses the software encoder.

CRF is each encoder's own scale; the defaults are about the same visual quality (x264 20 ≈ x265 24 ≈
SVT-AV1 30). Presets are x264's names (``ultrafast`` … ``veryslow``) for every codec with presets, mapped
to SVT-AV1's numbers and NVENC's p1–p7.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from common.errors import OptionError

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
_SVT_PRESETS = dict(zip(PRESETS, (12, 11, 10, 9, 8, 6, 4, 3, 2), strict=True))
_NVENC_PRESETS = dict(zip(PRESETS, ("p1", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p7"), strict=True))
DEFAULT_PRESET = "veryfast"


@dataclass(frozen=True)
class Codec:
    name: str  # the --codec word
    encoder: str  # the software encoder that always exists in PyAV's FFmpeg
    pix_fmt: str
    suffix: str  # the NFOV video's container: .mp4, or .mov where MP4 cannot hold the codec
    crf: int | None  # default constant-quality value; None: the codec has no CRF (ProRes: a profile)
    crf_range: tuple[int, int] = (0, 51)
    tag: str | None = None


CODECS = {
    "h264": Codec("h264", "libx264", "yuv420p", ".mp4", 20),
    "hevc": Codec("hevc", "libx265", "yuv420p", ".mp4", 24, tag="hvc1"),
    "av1": Codec("av1", "libsvtav1", "yuv420p", ".mp4", 30, crf_range=(1, 63)),
    "prores": Codec("prores", "prores_ks", "yuv422p10le", ".mov", None),
}


@dataclass(frozen=True)
class Encoding:
    """How the NFOV video is encoded: what :class:`pano.media.writer.VideoWriter` is given."""

    codec: str = "h264"
    encoder: str = "libx264"
    pix_fmt: str = "yuv420p"
    options: dict[str, str] = field(default_factory=lambda: {"crf": "20", "preset": DEFAULT_PRESET})
    suffix: str = ".mp4"
    tag: str | None = None

    def describe(self) -> str:
        quality = ", ".join(f"{k} {v}" for k, v in self.options.items() if k in ("crf", "cq", "preset", "profile"))
        return f"{self.codec} ({self.encoder}{', ' + quality if quality else ''})"


def _options(encoder: str, crf: int | None, preset: str) -> dict[str, str]:
    if encoder == "libx264":
        return {"crf": str(crf), "preset": preset}
    if encoder == "libx265":
        return {"crf": str(crf), "preset": preset, "x265-params": "log-level=error"}
    if encoder == "libsvtav1":
        return {"crf": str(crf), "preset": str(_SVT_PRESETS[preset])}
    if encoder.startswith("prores"):
        return {"profile": "3"}  # 422 HQ
    if encoder.endswith("_nvenc"):
        return {"rc": "vbr", "cq": str(crf), "preset": _NVENC_PRESETS[preset]}
    if encoder.endswith("_qsv"):
        return {"global_quality": str(crf)}
    if encoder.endswith("_amf"):
        return {"rc": "cqp", "qp_i": str(crf), "qp_p": str(crf)}
    return {}  # videotoolbox, v4l2m2m, …: the encoder's own rate control


def encoder_problem(encoder: str, pix_fmt: str, options: dict[str, str]) -> str | None:
    """Why ``encoder`` cannot encode here (None when it can): opens it on a small frame and encodes one."""
    import av
    import numpy as np

    try:
        ctx = av.CodecContext.create(encoder, "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 144, pix_fmt
        ctx.time_base, ctx.framerate = Fraction(1, 30), Fraction(30)
        ctx.options = dict(options)
        ctx.open()
        frame = av.VideoFrame.from_ndarray(np.zeros((144, 256, 3), np.uint8), format="rgb24").reformat(format=pix_fmt)
        frame.pts = 0
        ctx.encode(frame)
        ctx.encode(None)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return str(exc).split(";")[0] or type(exc).__name__
    return None


def choose_encoding(codec: str | None = None, encoder: str | None = None, crf: int | None = None,
                    preset: str | None = None, notify: Callable[[str], None] | None = None) -> Encoding:
    """The encoding for ``--codec``/``--encoder``/``--crf``/``--preset``, checked before any work starts.

    ``encoder`` alone implies its codec (``hevc_nvenc`` → hevc); when it cannot open here, ``notify``
    gets one line and the codec's software encoder is used.
    """
    import av

    notify = notify or (lambda _m: None)
    if encoder is not None:
        try:
            family = av.codec.Codec(encoder, "w").canonical_name
        except Exception:  # not an encoder this FFmpeg has: encoder_problem says so below
            family = None
        if codec is None and family in CODECS:
            codec = family
        elif family is not None and codec is not None and family != codec:
            raise OptionError(f"--encoder {encoder} writes {family}, not {codec}; drop --codec or pick a "
                              f"{codec} encoder")
    codec = codec or "h264"
    if codec not in CODECS:
        raise OptionError(f"--codec {codec!r}: choose one of {', '.join(CODECS)}")
    spec = CODECS[codec]
    preset = preset or DEFAULT_PRESET
    if preset not in PRESETS:
        raise OptionError(f"--preset {preset!r}: choose one of {', '.join(PRESETS)}")
    if crf is not None and spec.crf is None:
        raise OptionError(f"--crf: {codec} has no CRF (ProRes 422 HQ is a fixed quality); drop --crf")
    if crf is not None and not spec.crf_range[0] <= crf <= spec.crf_range[1]:
        raise OptionError(f"--crf {crf}: {codec} takes {spec.crf_range[0]}–{spec.crf_range[1]} (lower is better)")
    crf = spec.crf if crf is None else crf
    if codec == "av1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration banner otherwise
    software = Encoding(codec, spec.encoder, spec.pix_fmt, _options(spec.encoder, crf, preset), spec.suffix, spec.tag)
    if encoder is None or encoder == spec.encoder:
        return software
    pix_fmt = spec.pix_fmt
    try:
        formats = [f.name for f in (av.codec.Codec(encoder, "w").video_formats or [])]
    except Exception:  # unknown to this FFmpeg: encoder_problem says so
        formats = []
    if formats and pix_fmt not in formats:
        pix_fmt = next((f for f in ("yuv420p", "nv12", "p010le", "yuv422p10le") if f in formats), formats[0])
    options = _options(encoder, crf, preset) if crf is not None else {}
    problem = encoder_problem(encoder, pix_fmt, options)
    if problem is not None:
        notify(f"encoder {encoder} cannot run here ({problem}); encoding with {spec.encoder} instead")
        return software
    return Encoding(codec, encoder, pix_fmt, options, spec.suffix, spec.tag)
