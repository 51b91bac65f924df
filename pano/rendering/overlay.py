"""The saliency video: the panorama with its sound-saliency heat map and the planned view drawn on it.

It is a diagnostic for the user ("why did the camera go there?"), so it shows the map scaled by its
confidence (a silent frame shows no heat rather than amplified noise), the view's centre, and the
view's true footprint on the panorama (curved, and split at the seam).
"""

from __future__ import annotations

import cv2
import numpy as np

from pano.sphere.geometry import camera_rotation, pitch_to_y, vec_to_yaw_pitch, yaw_to_x

_EDGE_SAMPLES = 24


def view_outline(yaw: float, pitch: float, hfov: float, vfov: float, width: int, height: int) -> list[np.ndarray]:
    """Polylines (pixel coordinates) of a view's footprint, split where it crosses the seam."""
    tx, ty = np.tan(np.radians(hfov) / 2), np.tan(np.radians(vfov) / 2)
    s = np.linspace(-1, 1, _EDGE_SAMPLES)
    one = np.ones_like(s)
    edges = [(s * tx, one * ty), (one * tx, -s * ty), (-s * tx, -one * ty), (-one * tx, s * ty)]
    right = np.concatenate([e[0] for e in edges])
    up = np.concatenate([e[1] for e in edges])
    cam = np.stack([np.ones_like(right), -right, up], axis=-1)
    world = cam @ camera_rotation(yaw, pitch).T
    yaws, pitches = vec_to_yaw_pitch(world)
    pts = np.stack([yaw_to_x(yaws, width), pitch_to_y(pitches, height)], axis=-1)
    pts = np.concatenate([pts, pts[:1]])
    lines, start = [], 0
    for i in range(1, len(pts)):
        if abs(pts[i, 0] - pts[i - 1, 0]) > width / 2:
            lines.append(pts[start:i])
            start = i
    lines.append(pts[start:])
    return [ln for ln in lines if len(ln) > 1]


def draw_saliency_frame(
    frame: np.ndarray,
    saliency: np.ndarray | None,
    confidence: float,
    yaw: float,
    pitch: float,
    hfov: float,
    vfov: float,
) -> np.ndarray:
    """RGB frame with the heat map blended in and the view drawn; ``saliency`` is any-size (h, w) ≥ 0."""
    height, width = frame.shape[:2]
    out = frame.copy()
    if saliency is not None and saliency.size:
        peak = float(saliency.max())
        if peak > 0:
            # Colour and weight the heat at the map's own (analysis) size, premultiplied, then scale the
            # two small images up: the full-size work is two uint8 resizes and one multiply-add.
            norm = np.clip(saliency.astype(np.float32) * np.float32(1.0 / peak), 0.0, 1.0)
            heat = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET)
            cv2.cvtColor(heat, cv2.COLOR_BGR2RGB, dst=heat)
            alpha = norm * np.float32(0.7 * (0.25 + 0.75 * float(np.clip(confidence, 0, 1))))
            tinted = (heat * alpha[..., None]).astype(np.uint8)
            keep = np.repeat(((1.0 - alpha) * 255)[..., None], 3, axis=2).astype(np.uint8)
            tinted = cv2.resize(tinted, (width, height), interpolation=cv2.INTER_LINEAR)
            keep = cv2.resize(keep, (width, height), interpolation=cv2.INTER_LINEAR)
            out = cv2.add(cv2.multiply(frame, keep, scale=1.0 / 255), tinted)
    thickness = max(1, width // 480)
    for line in view_outline(yaw, pitch, hfov, vfov, width, height):
        cv2.polylines(out, [np.round(line).astype(np.int32)], False, (255, 255, 255), thickness, cv2.LINE_AA)
    cx, cy = int(round(yaw_to_x(yaw, width))), int(round(pitch_to_y(pitch, height)))
    cv2.drawMarker(out, (cx, cy), (255, 255, 255), cv2.MARKER_CROSS, 6 * thickness + 6, thickness, cv2.LINE_AA)
    bar = int(round(np.clip(confidence, 0, 1) * (width // 6)))
    cv2.rectangle(out, (4, height - 10), (4 + width // 6, height - 4), (40, 40, 40), -1)
    cv2.rectangle(out, (4, height - 10), (4 + bar, height - 4), (255, 220, 0), -1)
    return out
