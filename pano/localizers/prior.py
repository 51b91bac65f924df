"""The front-and-horizon prior: without strong evidence, look where the operator pointed the camera.

A 360° operator points the camera's front at what matters, and 360° viewing data shows a strong bias to
the equator and the front. Mono (and stereo) audio carries little or no direction, so a localizer that
works from one channel is often unsure, and a camera that follows an unsure map wanders to the sky or
to the wall behind. The prior makes "do nothing" the default that evidence must beat.

It is applied on the localizer side (the planner stays the same for every audio format, and FOA runs,
whose direction is measured, are untouched): the evidence map, made a distribution on the sphere, is
weighted by its confidence ``c`` and added to the prior distribution weighted by ``strength``::

    map = c · E/|E| + strength · P/|P|        confidence = min(1, c + strength)

so the planner's score of a view is ``c·E(view) + strength·P(view)``: a move away from the front pays
only when the evidence in the new view outweighs the prior's mass in the front view. ``P`` is a
Gaussian on the sphere around yaw 0 / pitch 0 (separate widths in yaw and pitch) with a small floor, so
a stereo cone multiplied into it still has mass everywhere on the cone.
"""

from __future__ import annotations

import functools

import numpy as np

from pano.sphere.geometry import area_weights, grid_angles

FLOOR = 1e-3  # relative to the prior's peak: never exactly zero


@functools.lru_cache(maxsize=16)
def front_prior(h: int, w: int, yaw_sigma: float, pitch_sigma: float) -> np.ndarray:
    """(h, w) float32 distribution on the sphere (area-weighted sum 1) peaked at yaw 0, pitch 0."""
    yaw, pitch = grid_angles(h, w)
    p = np.exp(-0.5 * (yaw[None, :] / max(yaw_sigma, 1e-3)) ** 2 - 0.5 * (pitch[:, None] / max(pitch_sigma, 1e-3)) ** 2)
    p = p + FLOOR
    p /= float((p * area_weights(h)).sum())
    p.setflags(write=False)
    return p.astype(np.float32)


def as_distribution(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps (B, h, w) divided by their area-weighted mass, and whether each had any mass."""
    maps = np.maximum(np.asarray(maps, np.float32), 0.0)
    mass = (maps * area_weights(maps.shape[1]).astype(np.float32)[None]).sum(axis=(1, 2))
    has = mass > 0
    return maps / np.where(has, mass, 1.0)[:, None, None], has


def blend_prior(maps: np.ndarray, confidence: np.ndarray, strength: float, yaw_sigma: float,
                pitch_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """``(maps, confidence)`` with the prior added (module docstring); strength 0 returns them as they are."""
    confidence = np.clip(np.asarray(confidence, np.float64), 0.0, 1.0)
    if strength <= 0:
        return np.asarray(maps, np.float32), confidence
    dist, has = as_distribution(maps)
    c = np.where(has, confidence, 0.0)
    prior = front_prior(dist.shape[1], dist.shape[2], float(yaw_sigma), float(pitch_sigma))
    k = strength * (1.0 - c)
    out = c[:, None, None].astype(np.float32) * dist + k[:, None, None].astype(np.float32) * prior[None]
    return out, np.minimum(1.0, c + k)
