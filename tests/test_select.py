"""``auto`` picks ambisonic for FOA, network with a checkpoint, synchrony otherwise, and says why."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.errors import InputError, OptionError
from pano.saliency.select import choose_localizer


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


@pytest.mark.parametrize("checkpoint", [None, "model.pt"])
def test_foa_picks_ambisonic(checkpoint):
    name, reason = choose_localizer(Media(4, "ambix"), checkpoint, "auto")
    assert name == "ambisonic" and "ambisonic" in reason
    assert "\n" not in reason
    if checkpoint:
        assert "checkpoint" in reason


def test_explicit_foa_format_picks_ambisonic():
    assert choose_localizer(Media(4, "mono"), None, "fuma")[0] == "ambisonic"


def test_mono_with_checkpoint_picks_network():
    name, reason = choose_localizer(Media(1, "mono"), "model.pt", "auto")
    assert name == "network" and "checkpoint" in reason


def test_mono_without_checkpoint_picks_synchrony():
    name, reason = choose_localizer(Media(2, "mono"), None, "auto")
    assert name == "synchrony" and "no checkpoint" in reason and "2-channel" in reason


@pytest.mark.parametrize(
    ("channels", "decided", "checkpoint", "expected"),
    [
        (4, "ambix", None, "ambisonic"),
        (4, "fuma", "m.pt", "ambisonic"),
        (2, "mono", "m.pt", "network"),
        (1, "mono", None, "synchrony"),
    ],
)
def test_with_probes_decided_format(channels, decided, checkpoint, expected):
    """The pipeline passes ``MediaInfo.audio_format`` (probe's decision), not the raw request."""
    assert choose_localizer(Media(channels, decided), checkpoint, decided)[0] == expected


def test_forced_mono_overrides_foa_track():
    assert choose_localizer(Media(4, "ambix"), None, "mono")[0] == "synchrony"


def test_no_audio_and_bad_format_are_refused():
    with pytest.raises(InputError, match="clip.mp4"):
        choose_localizer(Media(0, "none"), None, "auto")
    with pytest.raises(InputError, match="no audio"):
        choose_localizer(Media(0, "none"), "m.pt", "none")
    with pytest.raises(OptionError):
        choose_localizer(Media(), None, "stereo")
