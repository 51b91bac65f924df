"""The ``centroid`` planner: follow each frame's spherical saliency centroid, calmly.

The simplest useful camera: the paper's "weighted average of saliency locations" per frame, held still
through silence or low confidence, then smoothed and speed-limited on the sphere. It keeps a handful
of numbers per frame (centroid, confidence, a coarse yaw profile for the plot), never the maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common.errors import OptionError
from pano.geometry import area_weights
from pano.planning.base import Observation, PlannedPath, Planner, register_planner
from pano.planning.smoothing import calm_path, hold_direction


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


def check_options(name: str, options: dict[str, Any], allowed: set[str]) -> None:
    """Refuse misspelled options instead of silently ignoring them."""
    unknown = set(options) - allowed
    if unknown:
        raise OptionError(
            f"planner {name!r} has no option(s) {', '.join(sorted(unknown))}; "
            f"it accepts: {', '.join(sorted(allowed))}"
        )


def positive(name: str, value: float, allow_zero: bool = False) -> float:
    """Parse a planner option that must be a (non-negative when ``allow_zero``) finite number."""
    kind = "non-negative" if allow_zero else "positive"
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise OptionError(f"planner option {name}={value!r} must be a {kind} number")
    return v


@register_planner("centroid")
class CentroidPlanner(Planner):
    """Hold → smooth → speed/acceleration-limit the per-frame centroid.

    Options: ``min_confidence`` (below it a frame's centroid is ignored and the last confident
    direction held, default 0.15), ``max_speed`` (great-circle deg/s, default 60), ``max_accel``
    (deg/s², default 120; 0 = plain speed limit), ``smooth`` (Gaussian sigma in seconds, default 0.5),
    ``strip_bins`` (yaw bins of the plot strip, default 72; 0 keeps none).
    """

    name = "centroid"
    OPTIONS = {"min_confidence", "max_speed", "max_accel", "smooth", "strip_bins"}

    def __init__(self, fps: float, hfov: float, vfov: float, **options: Any) -> None:
        super().__init__(fps, hfov, vfov)
        check_options(self.name, options, self.OPTIONS)
        self.min_confidence = float(options.get("min_confidence", 0.15))
        self.max_speed = positive("max_speed", options.get("max_speed", 60.0))
        self.max_accel = positive("max_accel", options.get("max_accel", 120.0), allow_zero=True)
        self.smooth = positive("smooth", options.get("smooth", 0.5), allow_zero=True)
        self.strip_bins = int(options.get("strip_bins", 72))
        if self.fps <= 0:
            raise OptionError(f"planner needs a positive frame rate, got {fps!r}")
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
        if self.strip_bins > 0 and obs.maps is not None:
            self._strip.append(yaw_profile(obs.maps, self.strip_bins) * self._conf[-1][:, None])

    def plan(self) -> PlannedPath:
        if not self._t:
            empty = np.zeros(0)
            return PlannedPath(yaw=empty, pitch=empty.copy(), confidence=empty.copy())
        t = np.concatenate(self._t)
        conf = np.concatenate(self._conf).astype(np.float64)
        yaw, pitch, ok = hold_direction(
            np.concatenate(self._yaw), np.concatenate(self._pitch), conf, self.min_confidence
        )
        yaw, pitch = calm_path(
            yaw, pitch, t, self.fps, self.max_speed, self.smooth, active=ok, max_accel=self.max_accel
        )
        return PlannedPath(yaw=yaw, pitch=pitch, confidence=np.clip(conf, 0.0, 1.0))

    def strip(self) -> np.ndarray | None:
        """(N, bins) confidence-weighted yaw profile of every observed frame, for ``write_plot``."""
        return np.concatenate(self._strip) if self._strip else None

    def describe(self) -> dict:
        return {
            "min_confidence": self.min_confidence,
            "max_speed": self.max_speed,
            "max_accel": self.max_accel,
            "smooth": self.smooth,
        }
