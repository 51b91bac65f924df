"""The run context: every run-wide decision, made once and handed to every plugin at creation.

Before this, the audio format was decided in five places, the output size and field of view in four,
and plugins sniffed constructor signatures for the checkpoint or device. Now ``RunContext.for_media``
decides them from the probe and the user's options, and localizers, planners and exporters read them
from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common.options import PluginOptions
from common.plugin import Plugin
from pano.sphere.views import OutputGeometry, output_geometry

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo

FOA_FORMATS = ("ambix", "fuma")


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True)
class RunContext:
    """What every plugin may know about the run (see the module docstring).

    ``audio_format`` is the decided format ("ambix", "fuma", "mono" or "none"), never "auto".
    ``media`` is None only for plugins built outside a run (tests, library callers).
    """

    media: MediaInfo | None = None
    audio_format: str = "none"
    checkpoint: str | None = None
    device: str = "cpu"
    fps: float = 30.0
    geometry: OutputGeometry = field(default_factory=lambda: output_geometry(1920))
    notify: Callable[[str], None] = _quiet

    @classmethod
    def for_media(cls, media: MediaInfo, *, checkpoint: str | Path | None = None, device: str = "cpu",
                  geometry: OutputGeometry | None = None, notify: Callable[[str], None] | None = None) -> RunContext:
        return cls(
            media=media,
            audio_format=media.audio_format,
            checkpoint=str(checkpoint) if checkpoint else None,
            device=device,
            fps=float(media.fps),
            geometry=geometry or output_geometry(*media.pano_size[:1], src_height=media.pano_size[1]),
            notify=notify or _quiet,
        )

    @property
    def is_foa(self) -> bool:
        return self.audio_format in FOA_FORMATS

    @property
    def hfov(self) -> float:
        return self.geometry.hfov

    @property
    def vfov(self) -> float:
        return self.geometry.vfov


class RunPlugin(Plugin):
    """The base of pano's plugin families (localizers, planners, exporters): the one place where a
    plugin built outside a run (a library caller, a test) gets the default context."""

    def __init__(self, ctx: RunContext | None = None, options: PluginOptions | None = None) -> None:
        super().__init__(ctx if ctx is not None else RunContext(), options)
