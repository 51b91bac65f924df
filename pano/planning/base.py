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
from common.options import PluginOptions, option
from common.registry import Registry
from pano.run.context import RunPlugin

if TYPE_CHECKING:
    from pano.run.context import RunContext


# The camera's limits: every planner's defaults, and the viewer's when a trajectory records none.
MAX_SPEED = 60.0  # deg/s
MAX_ACCEL = 120.0  # deg/s²


def max_speed_option(help: str = "top angular speed (deg/s)"):  # noqa: A002 - the option's help text
    """The ``max_speed`` option field, with the one default and range every planner shares."""
    return option(MAX_SPEED, help, lo=0.1, hi=3600.0)


def max_accel_option():
    """The ``max_accel`` option field, likewise."""
    return option(MAX_ACCEL, "top acceleration (deg/s²; 0 = plain speed limit)", lo=0.0, hi=100000.0)


@dataclass
class Observation:
    """One batch of pass-1 results, in frame order."""

    times: np.ndarray  # (B,) seconds
    maps: np.ndarray  # (B, h, w) float32 ≥ 0, equirectangular
    yaw: np.ndarray  # (B,) spherical weighted centroid of each map, degrees
    pitch: np.ndarray  # (B,)
    confidence: np.ndarray  # (B,) in [0, 1]: source confidence × centroid concentration
    # (B, 4) the sounding subject's box in the picture (yaw, pitch, width, height in degrees, NaN where
    # none), when the planner asked for it (``Planner.wants_subjects``); None otherwise. (B, 5): a fifth
    # column is the face's height (degrees) where a face found the person, whose box is then the head
    # and shoulders (``pano.localizers.subject``); NaN elsewhere.
    subject: np.ndarray | None = None


@dataclass
class PlannedPath:
    yaw: np.ndarray  # (N,) degrees in [-180, 180)
    pitch: np.ndarray  # (N,)
    confidence: np.ndarray  # (N,)
    hfov: np.ndarray | None = None  # (N,) when the planner zooms; else the configured fov
    vfov: np.ndarray | None = None
    cut: np.ndarray | None = None  # (N,) bool: the frame starts a new shot (the view jumps there)
    subject: np.ndarray | None = None  # (N, 4) the framed subject's box (yaw, pitch, width, height; NaN: none)


class Planner(RunPlugin, ABC):
    """Base class; created as ``cls(ctx, options)``: the frame rate and the view's field of view come
    from the run context, everything else from the planner's ``Options``."""

    family: ClassVar[str] = "planner"

    def __init__(self, ctx: RunContext | None = None, options: PluginOptions | None = None) -> None:
        super().__init__(ctx, options)
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

    @property
    def wants_subjects(self) -> bool:
        """Whether pass 1 should find the sounding subject's box in the picture (``Observation.subject``):
        it costs decoding the frames small in pass 1."""
        return False

    @property
    def subject_faces(self) -> str:
        """Which faces pass 1's subject finder finds people by, besides their bodies: ``"frontal"``,
        ``"profile"`` (frontal and in profile) or ``"off"``."""
        return "off"

    @property
    def subject_bodies(self) -> str:
        """What finds people's bodies in pass 1's subject finder: ``"pose"`` (BlazePose's person detector
        as well as HOG) or ``"hog"`` (HOG only)."""
        return "hog"

    def yaw_strip(self) -> np.ndarray | None:
        """(N, yaw bins) per-frame saliency over yaw for the path plot; None if the planner keeps none."""
        return None

    def release(self) -> None:
        """Drop the per-frame state ``plan`` read (the run calls it once the path is made, before the
        render, so a long video's planner arrays are not held through pass 2); ``yaw_strip`` and
        ``describe`` still answer. A planner that keeps nothing per frame need not override it."""


# The planner family: one line per planner, imported on first use.
PLANNERS: Registry[Planner] = Registry("planner", {
    "autocam": "pano.planning.autocam:AutoCamPlanner",
    "centroid": "pano.planning.centroid:CentroidPlanner",
}, entry_point_group="pano_pan.planners")


def create_planner(name: str, ctx: RunContext | None = None, options: dict | None = None) -> Planner:
    """Instantiate a registered planner with validated options."""
    return PLANNERS.create(name, ctx, options)
