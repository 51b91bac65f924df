"""The planner interface: pass 1 feeds observations, ``plan`` returns one view per frame.

Planners see each frame's saliency map once, in frame order, and must keep only small per-frame numbers
(a centroid, a confidence, scores for a fixed set of candidate views), never the maps themselves, so
that memory stays O(frames × small) whatever the video's length.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from common.errors import OptionError
from common.options import PluginOptions
from common.plugin import Plugin
from common.registry import Registry

if TYPE_CHECKING:
    from pano.context import RunContext


@dataclass
class Observation:
    """One batch of pass-1 results, in frame order."""

    times: np.ndarray  # (B,) seconds
    maps: np.ndarray  # (B, h, w) float32 ≥ 0, equirectangular
    yaw: np.ndarray  # (B,) spherical weighted centroid of each map, degrees
    pitch: np.ndarray  # (B,)
    confidence: np.ndarray  # (B,) in [0, 1]: source confidence × centroid concentration


@dataclass
class PlannedPath:
    yaw: np.ndarray  # (N,) degrees in [-180, 180)
    pitch: np.ndarray  # (N,)
    confidence: np.ndarray  # (N,)
    hfov: np.ndarray | None = None  # (N,) when the planner zooms; else the configured fov
    vfov: np.ndarray | None = None
    cut: np.ndarray | None = None  # (N,) bool: the frame starts a new shot (the view jumps there)


class Planner(Plugin, ABC):
    """Base class; created as ``cls(ctx, options)``: the frame rate and the view's field of view come
    from the run context, everything else from the planner's ``Options``."""

    family: ClassVar[str] = "planner"

    def __init__(self, ctx: RunContext | None = None, options: PluginOptions | None = None) -> None:
        from pano.context import RunContext

        super().__init__(ctx if ctx is not None else RunContext(), options)
        self.fps = float(self.ctx.fps)
        self.hfov = float(self.ctx.hfov)
        self.vfov = float(self.ctx.vfov)
        if not self.fps > 0:
            raise OptionError(f"{self.owner()} needs a positive frame rate, got {self.fps!r}")

    @abstractmethod
    def observe(self, obs: Observation) -> None:
        """Consume one batch of pass-1 results."""

    @abstractmethod
    def plan(self) -> PlannedPath:
        """The path for every observed frame."""

    def yaw_strip(self) -> np.ndarray | None:
        """(N, yaw bins) per-frame saliency over yaw for the path plot; None if the planner keeps none."""
        return None


# The planner family: one line per planner, imported on first use.
PLANNERS: Registry[Planner] = Registry("planner", {
    "autocam": "pano.planning.autocam:AutoCamPlanner",
    "centroid": "pano.planning.centroid:CentroidPlanner",
}, entry_point_group="pano_pan.planners")


def create_planner(name: str, ctx: RunContext | None = None, options: dict | None = None) -> Planner:
    """Instantiate a registered planner with validated options."""
    from pano.context import RunContext

    return PLANNERS.create(name, ctx if ctx is not None else RunContext(), options)
