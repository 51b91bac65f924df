"""``auto``: pick the localizer the input can support, and say why in one line.

Order (ARCHITECTURE.md): a first-order ambisonic track carries the direction of the sound itself, so it
wins whenever it is there, even over a trained network (no learned prior beats a measured direction, and
it needs no decoding of frames). Without FOA, a checkpoint means the user trained or downloaded a model
for exactly this: ``network``. Otherwise the training-free ``synchrony`` source.

``network`` rather than ``fusion(network, synchrony)`` with a checkpoint: the trained two-stream model
already localises from audio and image together; synchrony only adds motion-follows-loudness evidence,
which is silent for still talkers, and fusing the two is unvalidated (no benchmark shows it beats the
network alone) while it costs a second source's work per frame. Users can ask for ``fusion`` explicitly.
"""

from __future__ import annotations

from typing import Any

from common.errors import InputError, OptionError

FOA_FORMATS = ("ambix", "fuma")
AUDIO_FORMATS = ("auto", "ambix", "fuma", "mono", "none")  # the user's request or probe's decision


def choose_localizer(media: Any, checkpoint: str | None, audio_format: str = "auto") -> tuple[str, str]:
    """``(name, reason)`` for ``--localizer auto``.

    ``media`` is a ``MediaInfo`` (or anything with its ``is_foa``/``audio_channels``/``path``);
    ``audio_format`` is the user's ``--audio-format`` or the format probe decided
    (``MediaInfo.audio_format``): "ambix"/"fuma" means FOA, "mono" means the track is treated as mono
    even if it has four channels, "auto" defers to ``media.is_foa``. A video without audio is refused:
    every localizer follows the sound.
    """
    path = getattr(media, "path", "input")
    channels = getattr(media, "audio_channels", None)
    if (channels is not None and channels <= 0) or audio_format == "none":
        raise InputError(
            f"{path}: has no audio stream, and pano-pan follows the sound; pass a video with its audio"
        )
    if audio_format not in AUDIO_FORMATS:
        raise OptionError(f"--audio-format {audio_format!r} is not one of {', '.join(AUDIO_FORMATS[:-1])}")

    is_foa = audio_format in FOA_FORMATS or (audio_format == "auto" and bool(getattr(media, "is_foa", False)))
    if is_foa:
        fmt = audio_format if audio_format in FOA_FORMATS else getattr(media, "audio_format", "ambix")
        reason = f"first-order ambisonic audio ({fmt}) gives the sound's direction directly"
        if checkpoint:
            reason += "; the checkpoint is not needed (use --localizer network to use it instead)"
        return "ambisonic", reason
    layout = "mono" if channels in (None, 1) or audio_format == "mono" else f"{channels}-channel, downmixed"
    if channels not in (None, 1) and audio_format == "mono":
        layout = f"{channels}-channel downmixed to mono"
    if checkpoint:
        return "network", f"{layout} audio and a checkpoint: the trained audio-visual network"
    return "synchrony", (
        f"{layout} audio and no checkpoint: audio-visual synchrony (needs no training; "
        "pass --checkpoint for the trained network)"
    )
