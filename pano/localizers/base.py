"""The one interface every saliency source implements, and their registry.

The pipeline streams the video once in order and hands each source batches of frames (at the size the
source asks for, or none) and/or audio windows centred on each frame's time (at the rate and layout it
asks for, or none). A source returns one map per frame on an equirectangular grid of its choosing
(values ≥ 0) and a per-frame confidence in [0, 1]; low confidence tells the planner to hold the camera.
Sources may keep state between batches (batches arrive in frame order), so memory never has to grow
with the video's duration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from common.options import PluginOptions
from common.registry import Registry
from pano.run.context import RunPlugin

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo
    from pano.run.context import RunContext


@dataclass(frozen=True)
class AudioSpec:
    """What audio a source wants with each frame."""

    sample_rate: int
    layout: str  # "foa": 4 channels AmbiX (W, Y, Z, X, SN3D); "mono": 1 channel; "stereo": 2 (left, right)
    window: float  # seconds, centred on each frame's presentation time; zero-padded at the ends


@dataclass
class FrameBatch:
    indices: np.ndarray  # (B,) int frame numbers
    times: np.ndarray  # (B,) float presentation times in seconds
    frames: np.ndarray | None = None  # (B, H, W, 3) uint8 RGB at the source's frame_size
    audio: np.ndarray | None = None  # (B, C, S) float32 windows per the source's AudioSpec
    # Position in the batch → RGB at a larger ``detail_size``, on a few frames (one every
    # ``detail_every`` seconds): for detectors that need more pixels than the analysis grid.
    detail: dict[int, np.ndarray] | None = None
    # Position in the batch → RGB at the pipeline's own look size (its subject finder), on the frames
    # it looks at (every few frames) when the source itself wants no frames (``frames`` is then None).
    looks: dict[int, np.ndarray] | None = None


@dataclass
class SaliencyBatch:
    """What a source returns; made float32 maps ≥ 0 and confidences in [0, 1] here, the one place
    that clips, so every consumer (planner, fusion, the saliency video) can rely on it."""

    maps: np.ndarray  # (B, h, w) float32 ≥ 0 on an equirectangular grid
    confidence: np.ndarray  # (B,) float in [0, 1]
    # Optional, per frame: (N, 6) people held at that frame (yaw, pitch, width, height, score, face
    # height or NaN; see pano.localizers.people), so the pipeline's subject finder does not detect them again.
    people: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.maps = np.maximum(np.asarray(self.maps, dtype=np.float32), 0.0)
        conf = np.nan_to_num(np.asarray(self.confidence, dtype=np.float64), nan=0.0)
        self.confidence = np.clip(conf, 0.0, 1.0)


class Localizer(RunPlugin, ABC):
    """Base class; subclasses set ``name``, ``Options`` and the class attributes they need.

    Created as ``cls(ctx, options)``; ``ctx`` is the run's :class:`pano.run.context.RunContext` (a default
    one when None: a library caller outside a run).
    """

    family: ClassVar[str] = "localizer"
    audio_spec: AudioSpec | None = None  # None: the source takes no audio windows
    frame_size: tuple[int, int] | None = None  # (H, W) of frames it wants; None: no frames (no decode)
    detail_size: tuple[int, int] | None = None  # (H, W) of FrameBatch.detail frames it wants; None: none
    detail_every: float = 2.0  # seconds of video between detail frames
    # True: it finds people itself and gives them per frame (SaliencyBatch.people), so the pipeline's
    # subject finder builds no detectors of its own (they would look again, and say again what is missing).
    finds_people: bool = False
    batch_size: int = 16

    def __init__(self, ctx: RunContext | None = None, options: PluginOptions | None = None) -> None:
        super().__init__(ctx, options)

    def prepare(self, media: MediaInfo) -> None:  # noqa: B027 - optional hook
        """Optional whole-track pre-pass before the first batch (e.g. an audio embedding over the track)."""

    @abstractmethod
    def process(self, batch: FrameBatch) -> SaliencyBatch:
        """Maps and confidences for one batch, in frame order."""


# The localizer family: one line per localizer. Modules are imported on first use, so a run that does
# not use the network never imports PyTorch.
LOCALIZERS: Registry[Localizer] = Registry("localizer", {
    "ambisonic": "pano.localizers.ambisonic:AmbisonicLocalizer",
    "network": "pano.localizers.network:NetworkLocalizer",
    "synchrony": "pano.localizers.synchrony:SynchronyLocalizer",
    "fusion": "pano.localizers.fusion:FusionLocalizer",
    "audiovisual": "pano.localizers.audiovisual:AudiovisualLocalizer",
}, entry_point_group="pano_pan.localizers")


def create_localizer(name: str, ctx: RunContext | None = None, options: dict | None = None) -> Localizer:
    """Instantiate a registered localizer with validated options."""
    return LOCALIZERS.create(name, ctx, options)
