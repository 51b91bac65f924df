"""``auto``: pick the localizer the input can support, and say why in one line.

Order (ARCHITECTURE.md): a first-order ambisonic track carries the direction of the sound itself, so it
wins whenever it is there, even over a trained network (no learned prior beats a measured direction, and
it needs no decoding of frames). Without FOA, a checkpoint means the user trained or downloaded a model
for exactly this: ``network``. Otherwise the training-free ``audiovisual`` source: synchrony, motion
while sound is present, the stereo pair's lateral cue when there is one, and the front-and-horizon prior
that keeps the camera where the operator pointed it until evidence earns a move (``synchrony`` alone
turned the camera to the sky on real still talkers and players: benchmarks/mono_real.py).

``network`` rather than ``fusion(network, synchrony)`` with a checkpoint: the trained two-stream model
already localises from audio and image together; synchrony only adds motion-follows-loudness evidence,
which is silent for still talkers, and fusing the two is unvalidated (no benchmark shows it beats the
network alone) while it costs a second source's work per frame. Users can ask for ``fusion`` explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pano.run.context import RunContext


def choose_localizer(ctx: RunContext) -> tuple[str, str]:
    """``(name, reason)`` for ``--localizer auto``, from the run's decided audio format and checkpoint.

    The run has refused a video without audio before this (``require_audio``).
    """
    media = ctx.media
    channels = media.audio_channels if media is not None else None
    if ctx.is_foa:
        reason = f"first-order ambisonic audio ({ctx.audio_format}) gives the sound's direction directly"
        if ctx.checkpoint:
            reason += "; the checkpoint is not needed (use --localizer network to use it instead)"
        return "ambisonic", reason
    if channels in (None, 1):
        layout = "mono"
    elif channels == 2:
        layout = "stereo"
    elif media is not None and media.audio_format == "mono" and channels == 4:
        layout = f"{channels}-channel downmixed to mono"
    else:
        layout = f"{channels}-channel, downmixed"
    if ctx.checkpoint:
        return "network", f"{layout} audio and a checkpoint: the trained audio-visual network"
    cue = " and the stereo level difference" if channels is not None and channels in (2, 3, 5, 6, 7, 8) else ""
    return "audiovisual", (
        f"{layout} audio and no checkpoint: synchrony, motion while sounding{cue}, held to the front "
        "and horizon unless the evidence is strong (needs no training; pass --checkpoint for the "
        "trained network)"
    )
