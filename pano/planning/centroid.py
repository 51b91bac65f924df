"""The ``centroid`` planner: follow each frame's spherical saliency centroid, calmly.

The simplest useful camera: the paper's "weighted average of saliency locations" per frame, held still
through silence or low confidence, then smoothed and speed-limited on the sphere. It keeps a handful
of numbers per frame (centroid, confidence, a coarse yaw profile for the plot), never the maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from common.options import PluginOptions, option
from pano.planning.base import Observation, PlannedPath, Planner, max_accel_option, max_speed_option
from pano.planning.smoothing import calm_path, hold_direction
from pano.sphere.geometry import area_weights

if TYPE_CHECKING:
    from pano.run.context import RunContext


def yaw_profile(maps: np.ndarray, bins: int = 72) -> np.ndarray:
    """Per-frame saliency distribution over yaw (B, bins), each row summing to 1 (or 0 if empty).

    Rows are weighted by cos(latitude) so a polar smear does not dominate; bin k covers yaw
    ``[-180 + k·360/bins, -180 + (k+1)·360/bins)``. This is the strip behind the trajectory plot.
    """
    m = np.clip(np.nan_to_num(np.asarray(maps, dtype=np.float32)), 0, None)
    b, h, w = m.shape
    cols = (m * area_weights(h).astype(np.float32)[None]).sum(axis=1)  # (B, w)
    which = np.minimum((np.arange(w) * bins) // w, bins - 1)
    assign = np.zeros((w, bins), dtype=np.float32)
    assign[np.arange(w), which] = 1.0
    prof = cols @ assign
    tot = prof.sum(axis=1, keepdims=True)
    return np.divide(prof, tot, out=np.zeros_like(prof), where=tot > 0)


@dataclass(frozen=True)
class CentroidOptions(PluginOptions):
    min_confidence: float = option(0.15, "below it a frame's centroid is ignored and the last direction held",
                                   lo=0.0, hi=1.0)
    max_speed: float = max_speed_option("top great-circle speed (deg/s)")
    max_accel: float = max_accel_option()
    smooth: float = option(0.5, "Gaussian smoothing sigma (s)", lo=0.0, hi=60.0)
    strip_bins: int = option(72, "yaw bins of the plot strip (0 keeps none)", lo=0, hi=3600)


class CentroidPlanner(Planner):
    """Hold → smooth → speed/acceleration-limit the per-frame centroid."""

    name = "centroid"
    Options = CentroidOptions

    def __init__(self, ctx: RunContext | None = None, options: CentroidOptions | None = None) -> None:
        super().__init__(ctx, options)
        self._t: list[np.ndarray] = []
        self._yaw: list[np.ndarray] = []
        self._pitch: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._strip: list[np.ndarray] = []

    def observe(self, obs: Observation) -> None:
        self._t.append(np.asarray(obs.times, dtype=np.float64).ravel())
        self._yaw.append(np.asarray(obs.yaw, dtype=np.float32).ravel())
        self._pitch.append(np.asarray(obs.pitch, dtype=np.float32).ravel())
        self._conf.append(np.asarray(obs.confidence, dtype=np.float32).ravel())
        if self.options.strip_bins > 0 and obs.maps is not None:
            self._strip.append(yaw_profile(obs.maps, self.options.strip_bins) * self._conf[-1][:, None])

    def plan(self) -> PlannedPath:
        if not self._t:
            empty = np.zeros(0)
            return PlannedPath(yaw=empty, pitch=empty.copy(), confidence=empty.copy())
        t = np.concatenate(self._t)
        conf = np.concatenate(self._conf).astype(np.float64)
        o = self.options
        yaw, pitch, ok = hold_direction(np.concatenate(self._yaw), np.concatenate(self._pitch), conf, o.min_confidence)
        yaw, pitch = calm_path(yaw, pitch, t, self.fps, o.max_speed, o.smooth, active=ok, max_accel=o.max_accel)
        return PlannedPath(yaw=yaw, pitch=pitch, confidence=conf)

    def yaw_strip(self) -> np.ndarray | None:
        """(N, bins) confidence-weighted yaw profile of every observed frame, for ``write_plot``."""
        return np.concatenate(self._strip) if self._strip else None
