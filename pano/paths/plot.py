"""A one-glance PNG of a camera path: the yaw × time saliency strip with the path over it, pitch below.

Drawn with OpenCV only (no matplotlib dependency). The strip is whatever per-frame yaw profile the
planner exposes (``planner.yaw_strip()``): autocam's best candidate score per yaw, or the centroid
planner's saliency distribution over yaw.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from common.errors import OptionError
from common.outputs import atomic_output
from common.ownership import png_with_mark
from pano.paths.exporters import Exporter, ExportJob
from pano.paths.trajectory import Trajectory

_MARGIN_L, _MARGIN_R, _MARGIN_T, _GAP, _MARGIN_B = 56, 12, 12, 26, 28


def _orient(strip: np.ndarray | None, n: int) -> np.ndarray | None:
    """Return the strip as (N, W_yaw); accept (W_yaw, N) too, decided by which axis matches N."""
    if strip is None:
        return None
    s = np.asarray(strip, dtype=np.float64)
    if s.ndim != 2:
        raise OptionError(f"plot strip must be 2-D (frames × yaw bins), got shape {s.shape}")
    if s.shape[0] == n:
        return s
    if s.shape[1] == n:
        return s.T
    raise OptionError(f"plot strip shape {s.shape} does not match the trajectory's {n} frames")


def _polyline(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, color, breaks: np.ndarray, thick: int = 2):
    """Draw a polyline, lifting the pen where ``breaks`` is True (e.g. yaw wrapping at ±180°)."""
    start = 0
    idx = [*np.nonzero(breaks)[0].tolist(), len(xs)]
    for stop in idx:
        seg = np.stack([xs[start:stop], ys[start:stop]], axis=1).round().astype(np.int32)
        if len(seg) >= 2:
            cv2.polylines(img, [seg], False, color, thick, cv2.LINE_AA)
        elif len(seg) == 1:
            cv2.circle(img, tuple(int(v) for v in seg[0]), thick, color, -1, cv2.LINE_AA)
        start = stop
    return img


def render_plot(
    strip: np.ndarray | None,
    traj: Trajectory,
    width: int = 1200,
    yaw_height: int = 360,
    pitch_height: int = 150,
) -> np.ndarray:
    """The plot as a BGR uint8 image (for tests and callers that compose their own figures)."""
    n = len(traj)
    s = _orient(strip, n)
    pw = max(64, width - _MARGIN_L - _MARGIN_R)
    h_total = _MARGIN_T + yaw_height + _GAP + pitch_height + _MARGIN_B
    img = np.full((h_total, _MARGIN_L + pw + _MARGIN_R, 3), 255, np.uint8)
    y0, p0 = _MARGIN_T, _MARGIN_T + yaw_height + _GAP
    # Strip: rows = yaw bins with +180 at the top, columns = time.
    if s is not None and s.size:
        hi = float(np.percentile(s, 99.5)) or float(s.max()) or 1.0
        heat = np.clip(s.T[::-1] / hi, 0, 1)
        heat = cv2.resize((heat * 255).astype(np.uint8), (pw, yaw_height), interpolation=cv2.INTER_LINEAR)
        img[y0 : y0 + yaw_height, _MARGIN_L : _MARGIN_L + pw] = cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO)
    else:
        img[y0 : y0 + yaw_height, _MARGIN_L : _MARGIN_L + pw] = 40
    img[p0 : p0 + pitch_height, _MARGIN_L : _MARGIN_L + pw] = 245
    tx = _MARGIN_L + (np.arange(n) + 0.5) / max(n, 1) * pw
    yy = y0 + (180.0 - np.asarray(traj.yaw)) / 360.0 * yaw_height
    wraps = np.concatenate([[False], np.abs(np.diff(traj.yaw)) > 180])
    _polyline(img, tx, yy, (255, 255, 0), wraps, 2)
    py = p0 + (90.0 - np.asarray(traj.pitch)) / 180.0 * pitch_height
    _polyline(img, tx, py, (200, 80, 0), np.zeros(n, bool), 2)
    font, col = cv2.FONT_HERSHEY_SIMPLEX, (30, 30, 30)
    for deg in (-180, -90, 0, 90, 180):
        y = int(round(y0 + (180 - deg) / 360 * yaw_height))
        cv2.line(img, (_MARGIN_L - 4, y), (_MARGIN_L, y), col, 1)
        cv2.putText(img, f"{deg}", (4, y + 4), font, 0.4, col, 1, cv2.LINE_AA)
    for deg in (-90, 0, 90):
        y = int(round(p0 + (90 - deg) / 180 * pitch_height))
        cv2.line(img, (_MARGIN_L, y), (_MARGIN_L + pw, y), (200, 200, 200), 1)
        cv2.putText(img, f"{deg}", (4, y + 4), font, 0.4, col, 1, cv2.LINE_AA)
    cv2.putText(img, "yaw", (4, y0 + yaw_height // 2 + 20), font, 0.4, col, 1, cv2.LINE_AA)
    cv2.putText(img, "pitch", (4, p0 + pitch_height // 2 + 20), font, 0.4, col, 1, cv2.LINE_AA)
    if n:
        t_end = float(traj.t[-1])
        for k in range(6):
            x = int(round(_MARGIN_L + k / 5 * pw))
            cv2.line(img, (x, p0 + pitch_height), (x, p0 + pitch_height + 4), col, 1)
            cv2.putText(
                img, f"{t_end * k / 5:.1f}s", (max(0, x - 16), h_total - 8), font, 0.4, col, 1, cv2.LINE_AA
            )
    return img


def write_plot(path: str | Path, strip: np.ndarray | None, traj: Trajectory, width: int = 1200) -> Path:
    """Write the PNG atomically. ``strip`` is (N, W_yaw) or (W_yaw, N) per-frame yaw profiles, or None."""
    path = Path(path)
    img = render_plot(strip, traj, width=width)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
        raise OptionError(f"{path}: could not encode the plot as PNG")
    with atomic_output(path) as tmp:
        tmp.write_bytes(png_with_mark(buf.tobytes()))
    return path


class PlotExporter(Exporter):
    """``<stem>.plot.png``: the yaw × time saliency strip with the path, pitch below."""

    name = "plot"
    suffixes = (".plot.png",)

    def write(self, job: ExportJob) -> list[Path]:
        return [write_plot(job.path(self.suffixes[0]), job.yaw_strip, job.trajectory)]
