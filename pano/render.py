"""Rectilinear (NFOV) views of an equirectangular frame.

Each output pixel's ray is rotated into the world and looked up in the panorama with bilinear
interpolation; horizontal lookups wrap around the ±180° seam (``BORDER_WRAP``) so a view straddling it
has no visible join, and vertical lookups clamp at the poles.
"""

from __future__ import annotations

import cv2
import numpy as np

from pano.errors import OptionError
from pano.geometry import camera_rotation, vertical_fov

DEFAULT_HFOV = 65.5  # AutoCam's horizontal field of view
DEFAULT_ASPECT = (16, 9)
MIN_OUTPUT_HEIGHT = 240


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def default_output_size(src_width: int, hfov: float, vfov: float | None = None) -> tuple[int, int]:
    """Output (width, height) at the panorama's own angular resolution at the view centre.

    No pointless upscaling: a 3840-wide panorama has 10.7 px/deg, so a 65.5° view is ~1350 px wide; but
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


def parse_fov(text: str, size: tuple[int, int] | None = None) -> tuple[float, float | None]:
    """``"H"`` or ``"HxV"`` in degrees; V is derived from the output aspect when omitted."""
    try:
        parts = [float(v) for v in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise OptionError(f"--fov {text!r}: write degrees as H or HxV, e.g. --fov 65.5 or --fov 90x60") from None
    if len(parts) not in (1, 2) or not all(1.0 <= p <= 170.0 for p in parts):
        raise OptionError(f"--fov {text!r}: give one or two angles between 1 and 170 degrees")
    return parts[0], (parts[1] if len(parts) == 2 else None)


class NFOVRenderer:
    """Renders views of ``src_w × src_h`` panoramas into ``out_w × out_h`` frames."""

    def __init__(self, src_width: int, src_height: int, out_width: int, out_height: int, hfov: float, vfov: float):
        self.src_w, self.src_h = int(src_width), int(src_height)
        self.out_w, self.out_h = int(out_width), int(out_height)
        self.hfov, self.vfov = float(hfov), float(vfov)
        tx, ty = np.tan(np.radians(hfov) / 2), np.tan(np.radians(vfov) / 2)
        right = ((np.arange(self.out_w) + 0.5) / self.out_w * 2 - 1) * tx
        up = (1 - (np.arange(self.out_h) + 0.5) / self.out_h * 2) * ty
        rays = np.empty((self.out_h, self.out_w, 3), np.float32)
        rays[..., 0] = 1.0
        rays[..., 1] = -right[None, :]
        rays[..., 2] = up[:, None]
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
        self._rays = rays.reshape(-1, 3)

    def maps(self, yaw: float, pitch: float, roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Source pixel coordinates (x, y) for every output pixel of the view."""
        world = self._rays @ camera_rotation(yaw, pitch, roll).T.astype(np.float32)
        lon = np.arctan2(-world[:, 1], world[:, 0])  # yaw in radians, right positive
        lat = np.arcsin(np.clip(world[:, 2], -1.0, 1.0))
        x = (lon * (1 / (2 * np.pi)) + 0.5) * self.src_w - 0.5
        y = (0.5 - lat * (1 / np.pi)) * self.src_h - 0.5
        np.clip(y, 0.0, self.src_h - 1.0, out=y)
        return x.reshape(self.out_h, self.out_w), y.reshape(self.out_h, self.out_w)

    def render(self, frame: np.ndarray, yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
        if frame.shape[0] != self.src_h or frame.shape[1] != self.src_w:
            raise ValueError(f"frame is {frame.shape[1]}×{frame.shape[0]}, renderer expects {self.src_w}×{self.src_h}")
        mx, my = self.maps(yaw, pitch, roll)
        return cv2.remap(frame, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
