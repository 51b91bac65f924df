"""Zoom: one field of view per shot, changed only when what it must hold changes, and eased.

Su & Grauman (*Making 360° Video Watchable in 2D*, CVPR 2017) let AutoCam choose the field of view as
well as the direction. Here the planner says, per frame, which horizontal field of view the shot wants
(wide enough for a two-shot or for the subject, tighter on a small one; NaN where nothing asks) and this
turns that into a calm zoom: each shot (between cuts) starts at what its first second wants; within
a shot the view changes only when the want differs by more than ``tol`` (a fraction) for ``settle``
seconds on end (a subject that came closer, a second talker joining), and then eases over ``ease``
seconds with the same smooth start and stop as a pan. A cut changes it at once.
"""

from __future__ import annotations

import numpy as np


def _ease(n: int) -> np.ndarray:
    """(n,) 0 → 1 smoothstep (zero velocity at both ends, like an eased pan)."""
    if n <= 1:
        return np.ones(n)
    x = np.linspace(0.0, 1.0, n)
    return x * x * (3 - 2 * x)


def shot_spans(cuts: np.ndarray, n: int) -> list[tuple[int, int]]:
    """[start, end) of each shot of ``n`` frames, ``cuts`` being the frames that start a new one."""
    edges = sorted({0, n} | {int(c) for c in np.asarray(cuts, int).ravel() if 0 < c < n})
    return list(zip(edges[:-1], edges[1:], strict=False))


def shot_fovs(
    wanted: np.ndarray, cuts: np.ndarray, fps: float, nominal: float, lo: float, hi: float,
    tol: float = 0.1, settle: float = 1.0, ease: float = 1.0,
) -> np.ndarray:
    """(N,) horizontal field of view per frame from the per-frame ``wanted`` (NaN = the nominal view),
    clipped to [lo, hi]; ``cuts`` are the frames that start a new shot."""
    n = len(wanted)
    want = np.clip(np.where(np.isfinite(wanted), wanted, nominal), lo, hi)
    out = np.empty(n)
    m = max(1, int(round(settle * fps)))
    e = max(1, int(round(ease * fps)))
    for a, b in shot_spans(cuts, n):
        held = float(np.median(want[a : min(b, a + m)]))
        i = a
        while i < b:
            w = want[i : min(b, i + m)]
            away = np.abs(w - held) > tol * held
            if len(w) == m and np.all(away) and np.all(np.sign(w - held) == np.sign(w[0] - held)):
                new = float(np.median(w))
                k = min(e, b - i)
                out[i : i + k] = held + (new - held) * _ease(e)[:k]
                held = new if k == e else float(out[i + k - 1])
                i += k
                continue
            out[i] = held
            i += 1
    return out
