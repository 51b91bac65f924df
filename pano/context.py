"""The run context: every run-wide decision, made once and handed to every plugin at creation.

Before this, the audio format was decided in five places, the output size and field of view in four,
and plugins sniffed constructor signatures for the checkpoint or device. Now ``RunContext.for_media``
decides them from the probe and the user's options, and localizers, planners and exporters read them
from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pano.geometry import vertical_fov
from pano.render import DEFAULT_ASPECT, DEFAULT_HFOV, default_output_size

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo

FOA_FORMATS = ("ambix", "fuma")


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True)
class OutputGeometry:
    """The NFOV view: field of view in degrees and frame size in pixels."""

    hfov: float
    vfov: float
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def output_geometry(src_width: int, hfov: float = DEFAULT_HFOV, vfov: float | None = None,
                    size: tuple[int, int] | None = None) -> OutputGeometry:
    """The one rule for the view's size and vertical fov: a given size fixes the aspect (and so vfov
    when not given); otherwise a 16:9 view at :func:`pano.render.default_output_size`."""
    if size is not None:
        vf = float(vfov) if vfov is not None else vertical_fov(hfov, *size)
        return OutputGeometry(float(hfov), vf, int(size[0]), int(size[1]))
    vf = float(vfov) if vfov is not None else vertical_fov(hfov, *DEFAULT_ASPECT)
    w, h = default_output_size(src_width, hfov, vf)
    return OutputGeometry(float(hfov), vf, w, h)


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
            geometry=geometry or output_geometry(media.width),
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

    def with_(self, **changes) -> RunContext:
        """A copy with some fields changed (e.g. a test's frame rate)."""
        return replace(self, **changes)
