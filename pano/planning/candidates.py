"""Candidate views and what each captures: the AutoCam DP's fixed grid and its footprints.

Su, Jayaraman & Grauman (ACCV 2016) score a fixed grid of candidate view directions per time step. Each
frame's map is pooled to a small grid, and one matrix product with a precomputed candidates × cells
footprint matrix (cos-latitude area × a centre-weighted window of a rectilinear view) gives the
fraction of saliency each candidate view captures, plus the saliency moments inside it (for the aim).
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp

from pano.sphere.geometry import area_weights, grid_angles, grid_vectors, view_coordinates


def candidate_grid(yaw_step: float, pitch_step: float, pitch_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate yaw/pitch (C,) in degrees: yaw every ``yaw_step`` from -180, pitch ±``pitch_max``."""
    yaws = -180.0 + np.arange(0.0, 360.0 - 1e-9, yaw_step)
    n_p = max(1, int(round(2 * pitch_max / pitch_step)) + 1) if pitch_max > 0 else 1
    pitches = np.linspace(-pitch_max, pitch_max, n_p) if n_p > 1 else np.zeros(1)
    pp, yy = np.meshgrid(pitches, yaws, indexing="ij")
    return yy.ravel(), pp.ravel()


def footprint_matrix(
    cand_yaw: np.ndarray,
    cand_pitch: np.ndarray,
    height: int,
    width: int,
    hfov: float,
    vfov: float,
    aim_margin: float = 10.0,
) -> sp.csr_matrix:
    """Sparse (4C, H·W) float32 footprints (a few % non-zero for a 65° view).

    Rows [0, C) are score weights, rows [C, 4C) x/y/z moment weights, per candidate.

    Score weights are cos-latitude area × a centre-weighted window (1 at the centre, 0.5 at an edge,
    0 outside), so of several overlapping candidates that all contain a source, the one that frames it
    best scores highest. Moment weights use the plain area of the view widened by ``aim_margin``
    degrees on every side, so a source near the edge is not cut in half (which would bias the aim
    towards the centre of the candidate).
    """
    gy, gp = grid_angles(height, width)
    yaw = np.broadcast_to(gy[None, :], (height, width)).ravel()
    pitch = np.broadcast_to(gp[:, None], (height, width)).ravel()
    area = np.broadcast_to(area_weights(height), (height, width)).ravel()
    vec = grid_vectors(height, width).reshape(-1, 3)
    tx, ty = np.tan(np.radians(hfov) / 2), np.tan(np.radians(vfov) / 2)
    mx = np.tan(min(np.radians(hfov / 2 + aim_margin), np.radians(85))) / tx
    my = np.tan(min(np.radians(vfov / 2 + aim_margin), np.radians(85))) / ty
    c = len(cand_yaw)
    score = np.zeros((c, yaw.size), dtype=np.float32)
    inside_area = np.zeros((c, yaw.size), dtype=np.float32)
    for a in range(0, c, 64):  # chunks bound the temporary (chunk × cells) arrays
        fwd, left, up = view_coordinates(
            yaw[None, :], pitch[None, :], cand_yaw[a : a + 64, None], cand_pitch[a : a + 64, None]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            nx = left / (tx * fwd)
            ny = up / (ty * fwd)
        inside = (fwd > 1e-9) & (np.abs(nx) <= 1) & (np.abs(ny) <= 1)
        window = (1 - 0.5 * np.nan_to_num(nx) ** 2) * (1 - 0.5 * np.nan_to_num(ny) ** 2)
        score[a : a + 64] = np.where(inside, window * area, 0)
        wide = (fwd > 1e-9) & (np.abs(nx) <= mx) & (np.abs(ny) <= my)
        inside_area[a : a + 64] = np.where(wide, area, 0)
    moments = [inside_area * vec[:, k][None, :].astype(np.float32) for k in range(3)]
    full = np.concatenate([score, *moments], axis=0)
    return sp.csr_matrix(full)


def pool_maps(maps: np.ndarray, max_height: int) -> np.ndarray:
    """Area-average (B, h, w) maps down to at most ``max_height`` rows, keeping 2:1 when it is 2:1."""
    m = np.clip(np.nan_to_num(np.asarray(maps, dtype=np.float32)), 0, None)
    b, h, w = m.shape
    if h <= max_height:
        return m
    f = -(-h // max_height)
    if h % f == 0 and w % f == 0:
        return m.reshape(b, h // f, f, w // f, f).mean(axis=(2, 4))
    nh, nw = max_height, max(1, round(w * max_height / h))
    return np.stack([cv2.resize(x, (nw, nh), interpolation=cv2.INTER_AREA) for x in m])
