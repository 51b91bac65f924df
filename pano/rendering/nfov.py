"""Rectilinear (NFOV) views of an equirectangular frame.

Each output pixel's ray is rotated into the world and looked up in the panorama with bicubic
interpolation (bilinear for the half-resolution chroma planes); horizontal lookups wrap around the
±180° seam (``BORDER_WRAP``) so a view straddling it has no visible join, and vertical lookups clamp
at the poles. Column and row map to yaw and pitch as fractions of the panorama's width and height, so
a full sphere stored stretched (16:9 equirectangular) renders undistorted.

Views are rendered straight from the decoder's Y, U, V planes into the encoder's (``render_yuv``):
no colour conversion at either end, and the chroma planes cost a quarter of the luma's lookups.
"""

from __future__ import annotations

import cv2
import numpy as np

from pano.media.video import to_8bit
from pano.sphere.geometry import camera_rotation
from pano.sphere.views import even


def yuv_planes(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empty uint8 Y, U, V planes of a 4:2:0 frame."""
    return (np.empty((height, width), np.uint8), np.empty((height // 2, width // 2), np.uint8),
            np.empty((height // 2, width // 2), np.uint8))

ENLARGE_DIRECTLY = 1.25  # views enlarging the panorama more than this are enlarged in two steps


def _inside(base: np.ndarray, shift: float, width: int) -> np.ndarray:
    """``base + shift`` (source x of a view at yaw 0, panned by ``shift``) brought back inside
    ``[0, width)`` where the view crosses the seam.

    ``cv2.remap`` sends every output pixel whose taps leave the source through its per-pixel border path
    (``BORDER_WRAP``), about twice the cost of its inner path; unwrapped, a view straddling ±180° sent
    the whole part beyond the seam through it. The same source pixels are read: x ≥ width moves by
    exactly ``width`` (the subtraction is exact in float32), x < 0 to within float32's rounding of
    ``x + width`` (1/8192 of a pixel at 4K, below remap's 1/32-pixel weights but for rare ties).
    """
    x = cv2.add(base, shift)
    low, high, _, _ = cv2.minMaxLoc(x)
    if low < 0:
        cv2.add(x, float(width), dst=x, mask=cv2.compare(x, 0.0, cv2.CMP_LT))
    if high >= width:
        cv2.subtract(x, float(width), dst=x, mask=cv2.compare(x, float(width), cv2.CMP_GE))
    return x


class NFOVRenderer:
    """Renders views of ``src_w × src_h`` panoramas into ``out_w × out_h`` frames.

    The source-pixel lookup of a view is a smooth function of the output pixel, so it is computed
    exactly on a coarse lattice (every ``step`` pixels, reaching a little past the borders) and
    interpolated bilinearly by an exact ``step``× ``cv2.resize`` (luma) or ``step/2``× (chroma), which
    costs about 1/step² of the trigonometry; views that contain a pole, where longitude is not smooth,
    are computed at every pixel. Lookups for a repeated view (a camera holding still) are reused, and a pan in yaw
    reuses the lookup of its pitch (see ``_shift``).
    """

    def __init__(
        self, src_width: int, src_height: int, out_width: int, out_height: int, hfov: float, vfov: float,
        step: int = 8, interpolation: int = cv2.INTER_CUBIC,
    ):
        self.interpolation = interpolation
        self.src_w, self.src_h = int(src_width), int(src_height)
        self.out_w, self.out_h = int(out_width), int(out_height)
        self.hfov, self.vfov = float(hfov), float(vfov)
        self._full_rays: np.ndarray | None = None  # made on first use: only views containing a pole need it
        # Lattice points at step·k − step/2 − 0.5: resizing the lattice by exactly ``step`` (cv2 maps
        # output x to input (x + 0.5)/step − 0.5) then puts output pixel x at index x + step, so the
        # crop [step : step + size] is bilinear interpolation with no clamping at the borders.
        self.step = max(2, int(step) & ~1)
        nx, ny = self.out_w // self.step + 3, self.out_h // self.step + 3
        offset = -self.step / 2 - 0.5
        kx = self.step * np.arange(nx, dtype=np.float64) + offset
        ky = self.step * np.arange(ny, dtype=np.float64) + offset
        self._coarse_shape = (ny, nx)
        self._coarse_rays = self._rays(ky, kx)
        self._cache_key: tuple | None = None
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._chroma_key: tuple | None = None
        self._chroma: tuple[np.ndarray, np.ndarray] | None = None
        self._base_key: tuple | None = None
        self._base_maps: tuple[np.ndarray, ...] | None = None
        self._work: NFOVRenderer | None | bool = False  # False: not decided yet

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
        if key != self._cache_key or self._cache is None:
            mx0, my, _, _ = self._base(pitch, roll)
            self._cache_key, self._cache = key, (_inside(mx0, self._shift(yaw), self.src_w), my)
        return self._cache

    def _shift(self, yaw: float) -> float:
        """Turning the camera in yaw only shifts the panorama horizontally: the lookup of any view is
        the one at yaw 0 plus ``yaw/360·W`` in x, so a panning camera costs an addition per frame."""
        return float(yaw) / 360.0 * self.src_w

    def _base(self, pitch: float, roll: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Luma and chroma lookups of the view at yaw 0 (x unwrapped around the view centre)."""
        key = (round(pitch, 3), round(roll, 3))
        if key == self._base_key and self._base_maps is not None:
            return self._base_maps
        rot = camera_rotation(0.0, pitch, roll)
        contains_pole = abs(pitch) + np.degrees(np.arctan(np.hypot(
            np.tan(np.radians(self.hfov) / 2), np.tan(np.radians(self.vfov) / 2)))) >= 89.0
        # Chroma (4:2:0): each chroma output pixel is the centre of 2×2 luma pixels, and each chroma
        # source sample the centre of 2×2 source luma samples.
        cw, ch = self.out_w // 2, self.out_h // 2
        if contains_pole:
            if self._full_rays is None:
                self._full_rays = self._rays(np.arange(self.out_h, dtype=np.float64),
                                             np.arange(self.out_w, dtype=np.float64))
            x, y = self._lookup(self._full_rays, rot, 0.0)
            mx = x.reshape(self.out_h, self.out_w).astype(np.float32)
            my = y.reshape(self.out_h, self.out_w).astype(np.float32)
            cx = cv2.resize(mx, (cw, ch), interpolation=cv2.INTER_AREA)
            cy = cv2.resize(my, (cw, ch), interpolation=cv2.INTER_AREA)
        else:
            x, y = self._lookup(self._coarse_rays, rot, 0.0)
            lx = x.reshape(self._coarse_shape).astype(np.float32)
            ly = y.reshape(self._coarse_shape).astype(np.float32)
            s, (ny, nx) = self.step, self._coarse_shape
            mx, my = (cv2.resize(m, (nx * s, ny * s), interpolation=cv2.INTER_LINEAR)[s : s + self.out_h,
                                                                                      s : s + self.out_w]
                      for m in (lx, ly))
            h = s // 2
            cx, cy = (cv2.resize(m, (nx * h, ny * h), interpolation=cv2.INTER_LINEAR)[h : h + ch, h : h + cw]
                      for m in (lx, ly))
        # BORDER_WRAP is right across the seam but wrong at the poles: keep every tap of the kernel
        # (bicubic reaches one row further) inside the panorama vertically.
        margin = 1.0 if self.interpolation == cv2.INTER_CUBIC and self.src_h > 4 else 0.0
        mx = np.ascontiguousarray(mx)
        my = np.clip(my, margin, self.src_h - 1.0 - margin)
        cx = cv2.subtract(cv2.multiply(np.ascontiguousarray(cx), 0.5), 0.25)
        cy = np.clip(cv2.subtract(cv2.multiply(np.ascontiguousarray(cy), 0.5), 0.25), 0.0, self.src_h // 2 - 1.0)
        self._base_key, self._base_maps = key, (mx, my, cx, cy)
        return self._base_maps

    def render(self, frame: np.ndarray, yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
        if frame.shape[0] != self.src_h or frame.shape[1] != self.src_w:
            raise ValueError(f"frame is {frame.shape[1]}×{frame.shape[0]}, renderer expects {self.src_w}×{self.src_h}")
        mx, my = self.maps(yaw, pitch, roll)
        return cv2.remap(frame, mx, my, interpolation=self.interpolation, borderMode=cv2.BORDER_WRAP)

    def _working_renderer(self) -> NFOVRenderer | None:
        """A bilinear renderer at 1.25× the panorama's resolution when this view enlarges more than that."""
        if self._work is False:
            self._work = None
            scale = self.magnification / ENLARGE_DIRECTLY
            if self.interpolation != cv2.INTER_LINEAR and scale > 1.0:
                w, h = even(self.out_w / scale), even(self.out_h / scale)
                if w >= 16 and h >= 16:
                    self._work = NFOVRenderer(self.src_w, self.src_h, w, h, self.hfov, self.vfov,
                                              interpolation=cv2.INTER_LINEAR)
        return self._work

    def chroma_maps(self, yaw: float, pitch: float, roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Lookups for the half-resolution chroma planes of 4:2:0 frames."""
        key = (round(yaw, 4), round(pitch, 4), round(roll, 4))
        if key != self._chroma_key or self._chroma is None:
            _, _, cx0, cy = self._base(pitch, roll)
            self._chroma_key, self._chroma = key, (_inside(cx0, self._shift(yaw) / 2, self.src_w // 2), cy)
        return self._chroma

    @property
    def magnification(self) -> float:
        """Output pixels per source pixel at the view centre (> 1: the view is an enlargement)."""
        out_focal = (self.out_w / 2) / np.tan(np.radians(self.hfov) / 2)
        return float(out_focal / min(self.src_w / (2 * np.pi), self.src_h / np.pi))

    def render_yuv(self, planes: tuple[np.ndarray, ...], shift: int, yaw: float, pitch: float, roll: float,
                   out: tuple[np.ndarray, ...]) -> None:
        """Render 4:2:0 ``planes`` (uint8, or uint16 with ``shift`` bits above 8) into the uint8 planes
        ``out`` (out_h × out_w, then two out_h/2 × out_w/2).

        An enlarged view (a 960-wide panorama seen at 1280×720 is 6.5×) is sampled bilinearly at a
        little above the panorama's own resolution and then enlarged bicubically by a separable resize:
        the same picture as a bicubic lookup at every output pixel, at a third of the cost.
        """
        y = planes[0]
        if y.shape[0] != self.src_h or y.shape[1] != self.src_w:
            raise ValueError(f"frame is {y.shape[1]}×{y.shape[0]}, renderer expects {self.src_w}×{self.src_h}")
        work = self._working_renderer()
        if work is not None:
            small = yuv_planes(work.out_w, work.out_h)
            work.render_yuv(planes, shift, yaw, pitch, roll, small)
            for src, dst in zip(small, out, strict=True):
                cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=self.interpolation)
            return
        mx, my = self.maps(yaw, pitch, roll)
        cx, cy = self.chroma_maps(yaw, pitch, roll)
        jobs = ((planes[0], mx, my, self.interpolation, out[0]), (planes[1], cx, cy, cv2.INTER_LINEAR, out[1]),
                (planes[2], cx, cy, cv2.INTER_LINEAR, out[2]))
        for src, px, py, interp, dst in jobs:
            if shift:
                dst[:] = to_8bit(cv2.remap(src, px, py, interpolation=interp, borderMode=cv2.BORDER_WRAP), shift)
            else:
                cv2.remap(src, px, py, dst=dst, interpolation=interp, borderMode=cv2.BORDER_WRAP)
