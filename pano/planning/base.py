"""The planner interface: pass 1 feeds observations, ``plan`` returns one view per frame.

Planners see each frame's saliency map once, in frame order, and must keep only small per-frame numbers
(a centroid, a confidence, scores for a fixed set of candidate views), never the maps themselves, so
that memory stays O(frames × small) whatever the video's length.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.errors import OptionError


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


class Planner(ABC):
    name: ClassVar[str] = ""

    def __init__(self, fps: float, hfov: float, vfov: float) -> None:
        self.fps = float(fps)
        self.hfov = float(hfov)
        self.vfov = float(vfov)

    @abstractmethod
    def observe(self, obs: Observation) -> None:
        """Consume one batch of pass-1 results."""

    @abstractmethod
    def plan(self) -> PlannedPath:
        """The path for every observed frame."""

    def describe(self) -> dict:
        """Parameters recorded in the trajectory JSON's generator.params."""
        return {}

    def strip(self) -> np.ndarray | None:
        """(N, yaw bins) per-frame saliency over yaw for the path plot; None if the planner keeps none."""
        return None


PlannerFactory = Callable[..., Planner]
PLANNERS: dict[str, PlannerFactory] = {}


def register_planner(name: str) -> Callable[[PlannerFactory], PlannerFactory]:
    def deco(factory: PlannerFactory) -> PlannerFactory:
        PLANNERS[name] = factory
        return factory

    return deco


def create_planner(name: str, fps: float, hfov: float, vfov: float, **options) -> Planner:
    import pano.planning  # noqa: F401 - registers the built-in planners

    if name not in PLANNERS:
        raise OptionError(f"unknown planner {name!r}; choose one of: {', '.join(sorted(PLANNERS))}")
    return PLANNERS[name](fps=fps, hfov=hfov, vfov=vfov, **options)
