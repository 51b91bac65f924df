"""Equirectangular geometry in the project's one convention.

Yaw is degrees in [-180, 180), 0 at the centre column, positive to the right; pitch is degrees,
0 at the horizon, positive up. World vectors use the ambisonic frame (x forward at yaw 0, y to the
left, z up) so that an FOA channel's X, Y, Z line up with the vector components and
``azimuth = -yaw``. Every average of directions is taken on unit vectors, never on pixel
coordinates, because pixel averages break at the ±180° seam and near the poles.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | float


def wrap_yaw(yaw: ArrayLike) -> ArrayLike:
    """Bring yaw (degrees) into [-180, 180)."""
    wrapped = (np.asarray(yaw, dtype=np.float64) + 180.0) % 360.0 - 180.0
    return float(wrapped) if np.ndim(wrapped) == 0 else wrapped


def yaw_pitch_to_vec(yaw: ArrayLike, pitch: ArrayLike) -> np.ndarray:
    """Unit vectors (..., 3) in the ambisonic frame for yaw/pitch in degrees."""
    yaw_r = np.radians(np.asarray(yaw, dtype=np.float64))
    pitch_r = np.radians(np.asarray(pitch, dtype=np.float64))
    cp = np.cos(pitch_r)
    return np.stack([cp * np.cos(yaw_r), -cp * np.sin(yaw_r), np.sin(pitch_r) * np.ones_like(yaw_r)], axis=-1)


def vec_to_yaw_pitch(vec: np.ndarray) -> tuple[ArrayLike, ArrayLike]:
    """Yaw and pitch in degrees of vectors (..., 3); they need not be unit length."""
    v = np.asarray(vec, dtype=np.float64)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    yaw = wrap_yaw(np.degrees(np.arctan2(-y, x)))
    pitch = np.degrees(np.arctan2(z, np.hypot(x, y)))
    if np.ndim(pitch) == 0:
        return float(yaw), float(pitch)
    return yaw, pitch


def yaw_to_x(yaw: ArrayLike, width: int) -> ArrayLike:
    """Pixel-centre column of a yaw, ``x = (yaw/360 + 0.5)·W − 0.5``."""
    return (np.asarray(yaw, dtype=np.float64) / 360.0 + 0.5) * width - 0.5


def pitch_to_y(pitch: ArrayLike, height: int) -> ArrayLike:
    """Pixel-centre row of a pitch, ``y = (0.5 − pitch/180)·H − 0.5``."""
    return (0.5 - np.asarray(pitch, dtype=np.float64) / 180.0) * height - 0.5


def x_to_yaw(x: ArrayLike, width: int) -> ArrayLike:
    """Yaw of a (fractional) pixel column; inverse of :func:`yaw_to_x`, wrapped."""
    return wrap_yaw(((np.asarray(x, dtype=np.float64) + 0.5) / width - 0.5) * 360.0)


def y_to_pitch(y: ArrayLike, height: int) -> ArrayLike:
    """Pitch of a (fractional) pixel row; inverse of :func:`pitch_to_y`."""
    return (0.5 - (np.asarray(y, dtype=np.float64) + 0.5) / height) * 180.0


def grid_angles(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre yaw (W,) and pitch (H,) of an equirectangular grid."""
    cols = np.arange(width, dtype=np.float64)
    rows = np.arange(height, dtype=np.float64)
    return ((cols + 0.5) / width - 0.5) * 360.0, (0.5 - (rows + 0.5) / height) * 180.0


def grid_vectors(height: int, width: int) -> np.ndarray:
    """Unit vectors (H, W, 3) of each pixel centre of an equirectangular grid."""
    yaw, pitch = grid_angles(height, width)
    return yaw_pitch_to_vec(yaw[None, :], pitch[:, None])


def area_weights(height: int) -> np.ndarray:
    """Relative solid angle (H, 1) of each row of an equirectangular grid: cos(latitude)."""
    _, pitch = grid_angles(height, 1)
    return np.cos(np.radians(pitch))[:, None]


def spherical_mean(weight_map: np.ndarray) -> tuple[float, float, float]:
    """Weighted mean direction of an equirectangular map (H, W), weights ≥ 0.

    Returns ``(yaw, pitch, resultant)``: ``resultant`` in [0, 1] is the length of the mean unit
    vector, 1 for all weight at one point and near 0 for weight spread evenly over the sphere, which
    makes it a natural confidence. A map with no weight returns ``(0, 0, 0)``.
    """
    m = np.asarray(weight_map, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"spherical_mean expects an (H, W) map, got shape {m.shape}")
    w = np.clip(m, 0.0, None) * area_weights(m.shape[0])
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        return 0.0, 0.0, 0.0
    vec = np.tensordot(w, grid_vectors(*m.shape), axes=([0, 1], [0, 1])) / total
    norm = float(np.linalg.norm(vec))
    if norm < 1e-12:
        return 0.0, 0.0, 0.0
    yaw, pitch = vec_to_yaw_pitch(vec)
    return float(yaw), float(pitch), min(norm, 1.0)


def angular_distance(yaw1: ArrayLike, pitch1: ArrayLike, yaw2: ArrayLike, pitch2: ArrayLike) -> ArrayLike:
    """Great-circle angle in degrees between two directions (broadcasting)."""
    a = yaw_pitch_to_vec(yaw1, pitch1)
    b = yaw_pitch_to_vec(yaw2, pitch2)
    # atan2 of |a×b| and a·b stays accurate for tiny and near-180° angles alike.
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    out = np.degrees(np.arctan2(cross, dot))
    return float(out) if np.ndim(out) == 0 else out


_UNWRAP_CHUNK = 1 << 16


def unwrap_yaw(yaw: np.ndarray) -> np.ndarray:
    """Continuous yaw track (degrees) without ±360° jumps, for smoothing across the seam.

    A long track is unwrapped a chunk at a time with ``np.unwrap``'s own arithmetic (the same floats:
    its running sum of corrections carried over), so a two-hour path's seven whole-length temporaries
    (~12 MB, which the heap keeps after they are freed) are never held at once."""
    yaw = np.asarray(yaw, dtype=np.float64)
    if yaw.ndim != 1 or len(yaw) <= _UNWRAP_CHUNK:
        return np.degrees(np.unwrap(np.radians(yaw)))
    period = 2 * np.pi
    high = period / 2
    out = np.empty(len(yaw))
    out[0] = np.degrees(np.radians(yaw[0]))
    carry = None  # the corrections' running sum so far (np.unwrap's cumsum, continued)
    for a in range(1, len(yaw), _UNWRAP_CHUNK):
        p = np.radians(yaw[a - 1 : a + _UNWRAP_CHUNK])
        dd = np.diff(p)
        ddmod = np.mod(dd - -high, period) + -high
        np.copyto(ddmod, high, where=(ddmod == -high) & (dd > 0))
        correct = ddmod - dd
        np.copyto(correct, 0, where=abs(dd) < high)
        total = correct.cumsum() if carry is None else np.cumsum(np.concatenate([[carry], correct]))[1:]
        carry = total[-1]
        out[a : a + len(dd)] = np.degrees(p[1:] + total)
    return out


def camera_rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """World-from-camera rotation (3, 3) for a camera looking at (yaw, pitch), rolled by ``roll``.

    Camera axes are x forward, y left, z up, so the identity looks at yaw 0, pitch 0. Yaw turns right
    (about −z), pitch tilts up (about −y in the yawed frame), roll turns the image clockwise as seen by
    the viewer (about the forward axis).
    """
    cy, sy = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    cp, sp = np.cos(np.radians(pitch)), np.sin(np.radians(pitch))
    cr, sr = np.cos(np.radians(roll)), np.sin(np.radians(roll))
    r_yaw = np.array([[cy, sy, 0.0], [-sy, cy, 0.0], [0.0, 0.0, 1.0]])
    r_pitch = np.array([[cp, 0.0, -sp], [0.0, 1.0, 0.0], [sp, 0.0, cp]])
    r_roll = np.array([[1.0, 0.0, 0.0], [0.0, cr, sr], [0.0, -sr, cr]])
    return r_yaw @ r_pitch @ r_roll


def vertical_fov(hfov: float, width: int, height: int) -> float:
    """Vertical field of view (degrees) of a rectilinear view of ``width × height`` pixels."""
    return float(np.degrees(2.0 * np.arctan(np.tan(np.radians(hfov) / 2.0) * height / width)))


def view_coordinates(
    yaw: ArrayLike, pitch: ArrayLike, view_yaw: ArrayLike, view_pitch: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directions in an unrolled camera's frame: (forward, left, up) components, broadcasting."""
    d = yaw_pitch_to_vec(yaw, pitch)
    vy = np.radians(np.asarray(view_yaw, dtype=np.float64))
    vp = np.radians(np.asarray(view_pitch, dtype=np.float64))
    cy, sy, cp, sp = np.cos(vy), np.sin(vy), np.cos(vp), np.sin(vp)
    fwd = d[..., 0] * cy * cp - d[..., 1] * sy * cp + d[..., 2] * sp
    left = d[..., 0] * sy + d[..., 1] * cy
    up = -d[..., 0] * cy * sp + d[..., 1] * sy * sp + d[..., 2] * cp
    return fwd, left, up


def in_view(
    yaw: ArrayLike, pitch: ArrayLike, view_yaw: ArrayLike, view_pitch: ArrayLike, hfov: float, vfov: float
) -> ArrayLike:
    """Whether a direction falls inside a rectilinear view's footprint (broadcasting)."""
    fwd, left, up = view_coordinates(yaw, pitch, view_yaw, view_pitch)
    tx, ty = np.tan(np.radians(hfov) / 2), np.tan(np.radians(vfov) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (fwd > 1e-9) & (np.abs(left) <= tx * fwd) & (np.abs(up) <= ty * fwd)
    return bool(inside) if np.ndim(inside) == 0 else inside
