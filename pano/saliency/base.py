"""The one interface every saliency source implements, and their registry.

The pipeline streams the video once in order and hands each source batches of frames (at the size the
source asks for, or none) and/or audio windows centred on each frame's time (at the rate and layout it
asks for, or none). A source returns one map per frame on an equirectangular grid of its choosing
(values ≥ 0) and a per-frame confidence in [0, 1]; low confidence tells the planner to hold the camera.
Sources may keep state between batches (batches arrive in frame order), so memory never has to grow
with the video's duration.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from common.errors import OptionError

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo


@dataclass(frozen=True)
class AudioSpec:
    """What audio a source wants with each frame."""

    sample_rate: int
    layout: str  # "foa": 4 channels AmbiX (W, Y, Z, X, SN3D); "mono": 1 channel
    window: float  # seconds, centred on each frame's presentation time; zero-padded at the ends


@dataclass
class FrameBatch:
    indices: np.ndarray  # (B,) int frame numbers
    times: np.ndarray  # (B,) float presentation times in seconds
    frames: np.ndarray | None = None  # (B, H, W, 3) uint8 RGB at the source's frame_size
    audio: np.ndarray | None = None  # (B, C, S) float32 windows per the source's AudioSpec


@dataclass
class SaliencyBatch:
    maps: np.ndarray  # (B, h, w) float32 ≥ 0 on an equirectangular grid
    confidence: np.ndarray  # (B,) float in [0, 1]


class SaliencySource(ABC):
    """Base class; subclasses set ``name`` and the class attributes they need."""

    name: ClassVar[str] = ""
    audio_spec: AudioSpec | None = None  # None: the source takes no audio windows
    frame_size: tuple[int, int] | None = None  # (H, W) of frames it wants; None: no frames (no decode)
    batch_size: int = 16

    def prepare(self, media: MediaInfo) -> None:  # noqa: B027 - optional hook
        """Optional whole-track pre-pass before the first batch (e.g. an audio embedding over the track)."""

    @abstractmethod
    def process(self, batch: FrameBatch) -> SaliencyBatch:
        """Maps and confidences for one batch, in frame order."""

    def describe(self) -> dict:
        """Parameters recorded in the trajectory JSON's generator.params."""
        return {}


SourceFactory = Callable[..., SaliencySource]
SOURCES: dict[str, SourceFactory] = {}
LAZY_SOURCES = {"network": "pano.saliency.network"}  # registered on first use: importing torch is slow


def register_source(name: str) -> Callable[[SourceFactory], SourceFactory]:
    """Class decorator: make a source available as ``--localizer NAME``."""

    def deco(factory: SourceFactory) -> SourceFactory:
        SOURCES[name] = factory
        return factory

    return deco


def source_factory(name: str) -> SourceFactory:
    """The registered factory for ``name``, importing a lazily registered source on first use."""
    import importlib

    import pano.saliency  # noqa: F401 - registers the built-in sources

    if name not in SOURCES and name in LAZY_SOURCES:
        importlib.import_module(LAZY_SOURCES[name])
    if name not in SOURCES:
        raise OptionError(
            f"unknown localizer {name!r}; choose one of: {', '.join(sorted(set(SOURCES) | set(LAZY_SOURCES)))}"
        )
    return SOURCES[name]


def create_source(name: str, **options) -> SaliencySource:
    """Instantiate a registered source; options a source does not know are an error in the source."""
    factory = source_factory(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            known = ", ".join(k for k in params if k != "self")
            raise OptionError(f"localizer {name!r} has no option(s) {', '.join(unknown)}; it accepts: {known}")
    return factory(**options)
