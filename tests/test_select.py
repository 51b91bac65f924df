"""``auto`` picks ambisonic for FOA, network with a checkpoint, audiovisual otherwise, and says why."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pano.localizers.select import choose_localizer
from pano.run.context import RunContext


@dataclass
class Media:
    """Stand-in with the MediaInfo attributes ``choose_localizer`` reads."""

    audio_channels: int = 1
    audio_format: str = "mono"
    path: str = "clip.mp4"
    fps: float = 30.0

    @property
    def is_foa(self) -> bool:
        return self.audio_format in ("ambix", "fuma")


def choose(media: Media, checkpoint: str | None = None) -> tuple[str, str]:
    return choose_localizer(RunContext(media=media, audio_format=media.audio_format, checkpoint=checkpoint))


@pytest.mark.parametrize("checkpoint", [None, "model.pt"])
def test_foa_picks_ambisonic(checkpoint):
    name, reason = choose(Media(4, "ambix"), checkpoint)
    assert name == "ambisonic" and "ambisonic" in reason
    assert "\n" not in reason
    if checkpoint:
        assert "checkpoint" in reason


def test_fuma_picks_ambisonic():
    assert choose(Media(4, "fuma"))[0] == "ambisonic"


def test_mono_with_checkpoint_picks_network():
    name, reason = choose(Media(1, "mono"), "model.pt")
    assert name == "network" and "checkpoint" in reason


def test_mono_without_checkpoint_picks_audiovisual():
    name, reason = choose(Media(2, "mono"))
    assert name == "audiovisual" and "no checkpoint" in reason and "stereo" in reason


@pytest.mark.parametrize(
    ("channels", "decided", "checkpoint", "expected"),
    [
        (4, "ambix", None, "ambisonic"),
        (4, "fuma", "m.pt", "ambisonic"),
        (2, "mono", "m.pt", "network"),
        (1, "mono", None, "audiovisual"),
    ],
)
def test_follows_the_probes_decided_format(channels, decided, checkpoint, expected):
    """The run context carries ``MediaInfo.audio_format`` (the probe's one decision)."""
    assert choose(Media(channels, decided), checkpoint)[0] == expected


def test_forced_mono_overrides_foa_track():
    name, reason = choose(Media(4, "mono"))
    assert name == "audiovisual" and "downmixed to mono" in reason and "stereo" not in reason
