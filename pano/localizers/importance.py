"""From a saliency map to the point of interest: the spherical weighted centroid and a confidence.

Following the paper's 360° application, each map's weighted centroid is the frame's importance
measure; it is taken on the sphere (cos-latitude weighted unit vectors) so it is right at the seam and
near the poles. The resultant length of that mean says how concentrated the map is; multiplied by the
source's own confidence it tells the planner when to trust the frame.
"""

from __future__ import annotations

import functools

import numpy as np

from pano.sphere.geometry import area_weights, grid_vectors, vec_to_yaw_pitch


@functools.lru_cache(maxsize=8)
def _weighted_vectors(height: int, width: int) -> np.ndarray:
    return (grid_vectors(height, width) * area_weights(height)[..., None]).reshape(-1, 3)


@functools.lru_cache(maxsize=8)
def _area(height: int, width: int) -> np.ndarray:
    return np.broadcast_to(area_weights(height), (height, width)).reshape(-1)


def batch_centroids(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spherical centroids of maps (B, h, w): yaw (B,), pitch (B,), resultant length (B,) in [0, 1]."""
    maps = np.clip(np.asarray(maps, dtype=np.float64), 0, None)
    b, h, w = maps.shape
    flat = maps.reshape(b, -1)
    total = flat @ _area(h, w)
    vec = flat @ _weighted_vectors(h, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total[:, None] > 0, vec / total[:, None], 0.0)
    resultant = np.clip(np.linalg.norm(mean, axis=1), 0.0, 1.0)
    yaw, pitch = vec_to_yaw_pitch(np.where(resultant[:, None] > 1e-12, mean, [1.0, 0.0, 0.0]))
    return np.atleast_1d(yaw), np.atleast_1d(pitch), resultant
