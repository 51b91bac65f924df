"""Rectilinear (NFOV) views of an equirectangular frame.

Each output pixel's ray is rotated into the world and looked up in the panorama with bilinear
interpolation; horizontal lookups wrap around the ±180° seam (``BORDER_WRAP``) so a view straddling it
has no visible join, and vertical lookups clamp at the poles.
"""

from __future__ import annotations

import cv2
import numpy as np

from common.errors import OptionError
from pano.geometry import camera_rotation, vertical_fov

DEFAULT_HFOV = 65.5  # AutoCam's horizontal field of view
DEFAULT_ASPECT = (16, 9)
MIN_OUTPUT_HEIGHT = 240


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def default_output_size(src_width: int, hfov: float, vfov: float | None = None) -> tuple[int, int]:
    """Output (width, height) at the panorama's own angular resolution at the view centre.

    No pointless upscaling: a 3840-wide panorama gives a 65.5° view about 786 px wide (442 lines); but
    very small sources are not rendered below 240 lines, where a view stops being watchable.
    """
    vfov = vfov if vfov is not None else vertical_fov(hfov, *DEFAULT_ASPECT)
    focal = src_width / (2 * np.pi)  # px per radian at the equator
    width = 2 * focal * np.tan(np.radians(hfov) / 2)
    height = 2 * focal * np.tan(np.radians(vfov) / 2)
    if height < MIN_OUTPUT_HEIGHT:
        width, height = width * MIN_OUTPUT_HEIGHT / height, MIN_OUTPUT_HEIGHT
    return _even(width), _even(height)


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` → (W, H), even and positive."""
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise OptionError(f"--size {text!r}: write it as WIDTHxHEIGHT, e.g. --size 1280x720") from None
    if w < 16 or h < 16 or w > 8192 or h > 8192:
        raise OptionError(f"--size {text!r}: width and height must be between 16 and 8192 pixels")
    if w % 2 or h % 2:
        raise OptionError(f"--size {text!r}: H.264 needs even numbers, e.g. --size {w + w % 2}x{h + h % 2}")
    return w, h


def parse_fov(text: str) -> tuple[float, float | None]:
    """``"H"`` or ``"HxV"`` in degrees; V is derived from the output aspect when omitted."""
    try:
        parts = [float(v) for v in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise OptionError(f"--fov {text!r}: write degrees as H or HxV, e.g. --fov 65.5 or --fov 90x60") from None
    if len(parts) not in (1, 2) or not all(1.0 <= p <= 170.0 for p in parts):
        raise OptionError(f"--fov {text!r}: give one or two angles between 1 and 170 degrees")
    return parts[0], (parts[1] if len(parts) == 2 else None)


class NFOVRenderer:
    """Renders views of ``src_w × src_h`` panoramas into ``out_w × out_h`` frames.

    The source-pixel lookup of a view is a smooth function of the output pixel, so it is computed
    exactly on a coarse lattice (every ``step`` pixels) and interpolated bilinearly, which costs about
    1/step² of the trigonometry; views that contain a pole, where longitude is not smooth, are computed
    at every pixel. Lookups for a repeated view (a camera holding still) are reused.
    """

    def __init__(
        self, src_width: int, src_height: int, out_width: int, out_height: int, hfov: float, vfov: float,
        step: int = 8,
    ):
        self.src_w, self.src_h = int(src_width), int(src_height)
        self.out_w, self.out_h = int(out_width), int(out_height)
        self.hfov, self.vfov = float(hfov), float(vfov)
        self._full_rays = self._rays(np.arange(self.out_h, dtype=np.float64), np.arange(self.out_w, dtype=np.float64))
        kx = np.unique(np.append(np.arange(0, self.out_w, step), self.out_w - 1)).astype(np.float64)
        ky = np.unique(np.append(np.arange(0, self.out_h, step), self.out_h - 1)).astype(np.float64)
        self._coarse_shape = (len(ky), len(kx))
        self._coarse_rays = self._rays(ky, kx)
        # Fractional lattice index of every output pixel: bilinear upsampling of the coarse lookup is
        # then itself a cv2.remap (fast, vectorised), exact at the lattice points.
        self._upsample = None
        if len(kx) > 1 and len(ky) > 1:
            gx = np.interp(np.arange(self.out_w), kx, np.arange(len(kx))).astype(np.float32)
            gy = np.interp(np.arange(self.out_h), ky, np.arange(len(ky))).astype(np.float32)
            self._upsample = (np.ascontiguousarray(np.broadcast_to(gx[None, :], (self.out_h, self.out_w))),
                              np.ascontiguousarray(np.broadcast_to(gy[:, None], (self.out_h, self.out_w))))
        self._cache_key: tuple | None = None
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def _rays(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        tx, ty = np.tan(np.radians(self.hfov) / 2), np.tan(np.radians(self.vfov) / 2)
        right = ((cols + 0.5) / self.out_w * 2 - 1) * tx
        up = (1 - (rows + 0.5) / self.out_h * 2) * ty
        rays = np.empty((len(rows), len(cols), 3), np.float64)
        rays[..., 0] = 1.0
        rays[..., 1] = -right[None, :]
        rays[..., 2] = up[:, None]
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
        return rays.reshape(-1, 3)

    def _lookup(self, rays: np.ndarray, rot: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
        world = rays @ rot.T
        lon = np.arctan2(-world[:, 1], world[:, 0]) - np.radians(yaw)
        lon = (lon + np.pi) % (2 * np.pi) - np.pi + np.radians(yaw)  # continuous around the view centre
        lat = np.arcsin(np.clip(world[:, 2], -1.0, 1.0))
        x = (lon / (2 * np.pi) + 0.5) * self.src_w - 0.5
        y = (0.5 - lat / np.pi) * self.src_h - 0.5
        return x, y

    def maps(self, yaw: float, pitch: float, roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Source pixel coordinates (x, y), float32 (out_h, out_w), for every output pixel of the view.

        x may fall outside [0, W): ``cv2.remap`` with ``BORDER_WRAP`` wraps it across the seam.
        """
        key = (round(yaw, 4), round(pitch, 4), round(roll, 4))
        if key == self._cache_key and self._cache is not None:
            return self._cache
        rot = camera_rotation(yaw, pitch, roll)
        contains_pole = abs(pitch) + np.degrees(np.arctan(np.hypot(
            np.tan(np.radians(self.hfov) / 2), np.tan(np.radians(self.vfov) / 2)))) >= 89.0
        if contains_pole or self._upsample is None:
            x, y = self._lookup(self._full_rays, rot, yaw)
            mx, my = x.reshape(self.out_h, self.out_w), y.reshape(self.out_h, self.out_w)
        else:
            x, y = self._lookup(self._coarse_rays, rot, yaw)
            cx = x.reshape(self._coarse_shape).astype(np.float32)
            cy = y.reshape(self._coarse_shape).astype(np.float32)
            ux, uy = self._upsample
            mx = cv2.remap(cx, ux, uy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            my = cv2.remap(cy, ux, uy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mx = np.ascontiguousarray(mx, dtype=np.float32)
        my = np.clip(my, 0.0, self.src_h - 1.0).astype(np.float32)
        self._cache_key, self._cache = key, (mx, my)
        return mx, my

    def render(self, frame: np.ndarray, yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
        if frame.shape[0] != self.src_h or frame.shape[1] != self.src_w:
            raise ValueError(f"frame is {frame.shape[1]}×{frame.shape[0]}, renderer expects {self.src_w}×{self.src_h}")
        mx, my = self.maps(yaw, pitch, roll)
        return cv2.remap(frame, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
