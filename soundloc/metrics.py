"""Localization metrics of Senocak et al. (Sec. 5): consensus maps, cIoU, success rate, AUC, baselines.

Everything here works on numpy arrays so that it can be checked by hand and reused by any evaluator.
Public evaluation code for Flickr-SoundNet disagrees on details (threshold rule, resolution,
interpolation), so each way of turning a response map into the set A(τ) is a named *protocol*:

- ``senocak``: the paper's definition. The map is upsampled (bilinear) to the ground-truth frame
  (256×256 for Flickr-SoundNet), min–max normalised, and A = {i | α_i > 0.5}.
- ``lvs``: the protocol of Chen et al. (LVS) used by much later work. Map and ground truth are both
  resampled to 224×224, the min–max normalised map is thresholded at its median with ``>``.

cIoU itself (eq. 10) is the same in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PROTOCOLS = ("senocak", "lvs")
#: Thresholds of the success-vs-cIoU curve; AUC is the trapezoid area under it (0 … 1 in steps of 0.05).
CURVE_THRESHOLDS = np.round(np.linspace(0.0, 1.0, 21), 4)

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in pixels of the annotation frame


def box_mask(box: Box, size: int | tuple[int, int]) -> np.ndarray:
    """Binary (H,W) float32 mask of a box; pixel rows ymin:ymax and columns xmin:xmax (end exclusive)."""
    h, w = (size, size) if isinstance(size, int) else size
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    m = np.zeros((h, w), np.float32)
    m[max(0, y0) : max(0, min(h, y1)), max(0, x0) : max(0, min(w, x1))] = 1.0
    return m


def consensus_map(
    boxes_per_annotator: Sequence[Sequence[Box]], size: int | tuple[int, int] = 256, consensus: int = 2
) -> np.ndarray:
    """Score map g of eq. 9: ``min(Σ_j b_j / #consensus, 1)``.

    ``boxes_per_annotator[j]`` holds annotator j's boxes (their union is b_j). A pixel marked by at
    least ``consensus`` annotators scores 1, one marked by fewer scores proportionally.
    """
    if consensus < 1:
        raise ValueError("consensus must be >= 1")
    h, w = (size, size) if isinstance(size, int) else size
    total = np.zeros((h, w), np.float32)
    for boxes in boxes_per_annotator:
        b = np.zeros((h, w), np.float32)
        for box in boxes:
            b = np.maximum(b, box_mask(box, (h, w)))
        total += b
    return np.minimum(total / float(consensus), 1.0).astype(np.float32)


def ciou(pred_mask: np.ndarray, g: np.ndarray) -> float:
    """cIoU of eq. 10 for a binary prediction A and score map g of the same shape.

    ``Σ_{i∈A} g_i / (Σ_i g_i + |A − G|)`` with G = {g > 0}. An empty ground truth gives 0.
    """
    a = np.asarray(pred_mask, bool)
    g = np.asarray(g, np.float64)
    if a.shape != g.shape:
        raise ValueError(f"prediction {a.shape} and ground truth {g.shape} differ in shape")
    denom = g.sum() + np.count_nonzero(a & (g <= 0))
    if denom <= 0:
        return 0.0
    return float(g[a].sum() / denom)


def normalize_map(m: np.ndarray) -> np.ndarray:
    """Min–max normalise to [0,1]; a constant map becomes all zeros (no location preferred)."""
    m = np.asarray(m, np.float64)
    lo, hi = float(m.min()), float(m.max())
    if hi - lo < 1e-12:
        return np.zeros_like(m, np.float32)
    return ((m - lo) / (hi - lo)).astype(np.float32)


def resize_map(m: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resize an (h,w) map to (H,W) (cv2 takes (W,H))."""
    h, w = size
    if m.shape == (h, w):
        return np.asarray(m, np.float32)
    return cv2.resize(np.asarray(m, np.float32), (w, h), interpolation=interpolation)


def prediction_mask(response: np.ndarray, gt_shape: tuple[int, int], protocol: str = "senocak",
                    tau: float = 0.5) -> tuple[np.ndarray, tuple[int, int]]:
    """Binary set A(τ) for a response map (any resolution) under ``protocol``.

    Returns the mask and the shape the ground truth must have for it (the gt shape for ``senocak``,
    224×224 for ``lvs``).
    """
    if protocol == "senocak":
        m = normalize_map(resize_map(response, gt_shape))
        return m > tau, gt_shape
    if protocol == "lvs":
        m = normalize_map(resize_map(response, (224, 224)))
        thr = np.sort(m.ravel())[m.size // 2]
        return m > thr, (224, 224)
    raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def sample_ciou(response: np.ndarray, g: np.ndarray, protocol: str = "senocak", tau: float = 0.5) -> float:
    """cIoU of one response map against its score map g under ``protocol``."""
    mask, shape = prediction_mask(response, tuple(g.shape), protocol, tau)
    if tuple(g.shape) != shape:
        g = resize_map(g, shape, cv2.INTER_NEAREST)
    return ciou(mask, g)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (stays inside [0,1], sane for small n)."""
    if n <= 0:
        return (0.0, 0.0)
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def success_curve(cious: Sequence[float], thresholds: np.ndarray = CURVE_THRESHOLDS) -> np.ndarray:
    """Fraction of samples whose cIoU is ≥ each threshold."""
    c = np.asarray(cious, np.float64)
    if c.size == 0:
        return np.zeros(len(thresholds))
    return np.array([(c >= t).mean() for t in thresholds])


def auc(cious: Sequence[float], thresholds: np.ndarray = CURVE_THRESHOLDS) -> float:
    """Area under the success-vs-cIoU-threshold curve over [0,1] (trapezoid rule)."""
    curve = success_curve(cious, thresholds)
    t = np.asarray(thresholds, np.float64)
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(t) / 2.0))


@dataclass
class Summary:
    """Aggregate scores of a set of per-sample cIoUs (fractions in [0,1])."""

    n: int
    success: float  # fraction with cIoU ≥ success_threshold
    ci_low: float
    ci_high: float
    auc: float
    mean_ciou: float
    curve: list[float]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(cious: Sequence[float], success_threshold: float = 0.5) -> Summary:
    """Success rate with its Wilson interval, AUC, mean cIoU and the success curve."""
    c = np.asarray(cious, np.float64)
    n = int(c.size)
    k = int((c >= success_threshold).sum())
    lo, hi = wilson_interval(k, n)
    return Summary(n=n, success=k / n if n else 0.0, ci_low=lo, ci_high=hi, auc=auc(c),
                   mean_ciou=float(c.mean()) if n else 0.0, curve=success_curve(c).tolist())


def centre_box_map(shape: tuple[int, int], fraction: float = 0.5) -> np.ndarray:
    """The "centre attention" baseline: a centred box whose sides are ``fraction`` of the image's."""
    h, w = shape
    bh, bw = h * fraction, w * fraction
    return box_mask(((w - bw) / 2, (h - bh) / 2, (w + bw) / 2, (h + bh) / 2), (h, w))


def random_pattern_map(shape: tuple[int, int], rng: np.random.Generator, grid: int = 20) -> np.ndarray:
    """The random-pattern baseline: uniform noise on a coarse grid (the network's map size at 320 px)."""
    return rng.random((grid, grid)).astype(np.float32) if grid else rng.random(shape).astype(np.float32)


def baselines(gts: Sequence[np.ndarray], protocol: str = "senocak", repeats: int = 100, seed: int = 0,
              centre_fraction: float = 0.5, grid: int = 20) -> dict:
    """Table 1 baselines on the given score maps.

    ``random``: mean and standard deviation over ``repeats`` runs of random patterns;
    ``centre``: the fixed centre box. Fractions in [0,1].
    """
    rng = np.random.default_rng(seed)
    succ, aucs, curves = [], [], []
    for _ in range(repeats):
        cs = [sample_ciou(random_pattern_map(g.shape, rng, grid), g, protocol) for g in gts]
        s = summarize(cs)
        succ.append(s.success)
        aucs.append(s.auc)
        curves.append(s.curve)
    centre = summarize([sample_ciou(centre_box_map(g.shape, centre_fraction), g, protocol) for g in gts])
    # A binary centre map normalises to itself; under ``lvs`` ties at the median keep it the same box.
    return {
        "random": {"success": float(np.mean(succ)), "success_std": float(np.std(succ)),
                   "auc": float(np.mean(aucs)), "auc_std": float(np.std(aucs)), "repeats": repeats,
                   "curve": np.mean(curves, axis=0).tolist()},
        "centre": {"success": centre.success, "auc": centre.auc, "mean_ciou": centre.mean_ciou,
                   "fraction": centre_fraction, "curve": centre.curve},
    }
