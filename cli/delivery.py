"""The delivery options of ``pano-pan run`` (formats, codecs, segments, machine-readable progress),
grouped in one decorator so other commands that reuse run's options take them in one line."""

from __future__ import annotations

import functools

import click

from pano.media.codecs import CODECS, PRESETS
from pano.media.probe import parse_clock
from pano.sphere.views import ASPECTS

PROGRESS_MODES = ("auto", "json", "none")


def _encoding() -> list:
    return [
        click.option("--codec", type=click.Choice(list(CODECS)), default=None,
                     help="NFOV video codec [default: h264]; prores writes a .nfov.mov (ProRes 422 HQ) for editing."),
        click.option("--crf", type=int, default=None,
                     help="Constant quality, lower is better [default: h264 20, hevc 24, av1 30]."),
        click.option("--preset", type=click.Choice(PRESETS), default=None,
                     help="Encoder speed/size trade-off (x264's names, mapped for av1 and NVENC) [default: veryfast]."),
        click.option("--encoder", default=None, metavar="NAME",
                     help="An FFmpeg encoder, e.g. h264_nvenc, hevc_qsv, h264_videotoolbox; falls back to the "
                     "software encoder in one line when it cannot run here."),
    ]


ENCODING_NAMES = ("codec", "crf", "preset", "encoder")


def _grouped(f, options: list, names: tuple[str, ...], key: str):
    """``f`` with ``options`` added, their values passed as one dict keyword ``key``."""

    @functools.wraps(f)  # keeps the options already attached to f (__click_params__)
    def wrapper(*args, **kwargs):
        kwargs[key] = {name: kwargs.pop(name) for name in names}
        return f(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def encoding_options(f):
    """``--codec --crf --preset --encoder``, passed as the keyword ``encoding`` (a dict)."""
    return _grouped(f, _encoding(), ENCODING_NAMES, "encoding")


def delivery_options(f):
    """``--aspect``, the encoding options, ``--start --end --progress``, passed to the command as the
    keyword ``delivery`` (a dict; :func:`run_fields` turns it into ``RunOptions`` fields)."""
    options = [
        click.option("--aspect", type=click.Choice(list(ASPECTS)), default=None,
                     help="Frame preset: 16:9, 9:16 (vertical), 1:1 or 4:5; the size (720 or 1080 on the short "
                     "side) and the field of view follow it (the same lens as the 16:9 65.5° view)."),
        *_encoding(),
        click.option("--start", default=None, metavar="TIME",
                     help="Process from TIME (seconds or [H:]MM:SS) on the file's clock; the trajectory keeps it."),
        click.option("--end", default=None, metavar="TIME", help="Process up to TIME (exclusive)."),
        click.option("--progress", "progress_mode", type=click.Choice(PROGRESS_MODES), default="auto",
                     show_default=True,
                     help="auto: a progress line on a terminal; json: one JSON object per update on stderr "
                     "(pass, frames, total, fps, eta_s) for GUIs and scripts; none: no progress."),
    ]
    return _grouped(f, options, ("aspect", *ENCODING_NAMES, "start", "end", "progress_mode"), "delivery")


def run_fields(delivery: dict) -> dict:
    """The ``RunOptions`` fields of the delivery options."""
    return {
        "aspect": delivery["aspect"], "codec": delivery["codec"], "crf": delivery["crf"],
        "preset": delivery["preset"], "encoder": delivery["encoder"],
        "start": parse_clock(delivery["start"], "--start") if delivery["start"] is not None else None,
        "end": parse_clock(delivery["end"], "--end") if delivery["end"] is not None else None,
    }
