"""Refinement: where inside the DP's chosen view the camera aims, per block and then per frame.

The chosen candidate per block only says *which* view; the camera aims at the saliency centroid
inside that view (accumulated per block and candidate), held through silence, interpolated between
block centres. Where the places the DP attended to within ``two_shot`` seconds all fit in the view (two
talkers in dialogue), the aim is instead the centre of their extent and the camera may stray only as
far as keeps them all in view (``pano.planning.framing``): the DP's centre-weighted scores alone always
prefer a view centred on whoever talks now, so it would pan at every turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pano.planning.dp import BlockScores
from pano.planning.framing import two_shot_aims
from pano.sphere.geometry import vec_to_yaw_pitch, yaw_pitch_to_vec


@dataclass(frozen=True)
class AimRules:
    """What the refinement needs besides the blocks: the candidates, timing, the view, the options."""

    cand_vec: np.ndarray  # (C, 3) candidate directions
    k: int  # frames per block
    fps: float
    hfov: float
    vfov: float
    aim_memory: float
    two_shot: float
    two_shot_margin: float
    max_hfov: float | None = None  # how wide a two-shot may zoom out (None: the view is fixed)

    @property
    def block_seconds(self) -> float:
        return self.k / self.fps


def block_aims(
    rules: AimRules, blocks: BlockScores, every: Mapping[int, int], cands: list[int], first_block: int,
    hold: np.ndarray | None, framed: dict[int, tuple],
) -> tuple[list, list, Any]:
    """Aim per block: the two-shot's (``framed``) where there is one, else the centroid inside the
    chosen view blended with its centre; held when silent. Returns aims, activity, the hold carried on."""
    out, active = [], []
    reach = int(round(rules.aim_memory * rules.fps / rules.k))
    for j, c in enumerate(cands):
        b = first_block + j
        w = blocks.w[b]
        if w > 0 and b in framed:
            tgt = hold = framed[b][0]
            active.append(True)
        elif w > 0:
            # The centroid of what this view held over the last and next aim_memory seconds while the
            # DP kept it: two talkers taking turns inside one view give one aim between them.
            near = [i for i in range(max(0, b - reach), min(len(blocks.w), b + reach + 1)) if every.get(i) == c]
            mom = np.sum([blocks.mom[i][c] for i in near], axis=0, dtype=np.float64)
            norm = np.linalg.norm(mom)
            frac = float(blocks.score[b][c]) / w  # mean captured fraction
            beta = min(1.0, frac / 0.25)
            cen = mom / norm if norm > 1e-12 else rules.cand_vec[c]
            tgt = beta * cen + (1 - beta) * rules.cand_vec[c]
            tgt = tgt / (np.linalg.norm(tgt) or 1.0)
            hold = tgt
            active.append(True)
        else:
            tgt = hold  # None until the first active block
            active.append(False)
        out.append(tgt)
    return out, active, hold


def two_shot_blocks(
    rules: AimRules, blocks: BlockScores, every: Mapping[int, int], first_block: int, n: int
) -> dict[int, tuple]:
    """Two-shot aims (``pano.planning.framing``) for blocks [first_block, first_block + n), from the
    centroids inside the views the DP chose over the window around them."""
    if not rules.two_shot or n == 0:
        return {}
    sec = rules.block_seconds
    pad = int(np.ceil((rules.two_shot + 1.0) / sec))  # the window plus the dwell test's reach
    lo, hi = max(0, first_block - pad), min(len(blocks.w), first_block + n + pad)
    dirs = np.zeros((hi - lo, 3))
    act = np.zeros(hi - lo, bool)
    for i in range(lo, hi):
        c = every.get(i)
        if c is None or blocks.w[i] <= 0:
            continue
        m = blocks.mom[i][c].astype(np.float64)
        norm = np.linalg.norm(m)
        if norm > 1e-12:
            dirs[i - lo], act[i - lo] = m / norm, True
    got = two_shot_aims(dirs, act, range(first_block - lo, first_block - lo + n), sec, rules.hfov, rules.vfov,
                        window=rules.two_shot, margin=rules.two_shot_margin, max_hfov=rules.max_hfov)
    return {lo + i: v for i, v in got.items()}


def level_aims(tgts: list[np.ndarray], first_block: int, framed: dict[int, tuple], deadband: float) -> list:
    """Block aims with ``deadband`` degrees of elevation taken off (pitch p → sign(p)·max(0, |p| − deadband)),
    two-shots (``framed``) left alone: they were framed to hold every place at its own pitch.

    Real FOA elevation is the least reliable part of the direction: a floor, a platform or a ceiling
    reflects the sound and pulls the intensity vector 10–20° off the source (measured on the real clips
    of ``benchmarks/camera_real.py``), while an operator keeps the horizon level and tilts only to a
    subject that is clearly high or low. So a small elevation is read as the horizon, and a large one
    still tilts the camera, by that much less (the view's half-height, 18° at 65.5°, keeps the source in)."""
    if deadband <= 0:
        return tgts
    out = list(tgts)
    for j, t in enumerate(tgts):
        if t is None or first_block + j in framed:
            continue
        y, p = vec_to_yaw_pitch(np.asarray(t, dtype=np.float64))
        p = float(np.sign(p) * max(0.0, abs(float(p)) - deadband))
        out[j] = yaw_pitch_to_vec(float(y), p).reshape(3)
    return out


def frame_aims(
    rules: AimRules, blocks: BlockScores, active: np.ndarray, tgts: list[np.ndarray], first_block: int,
    f0: int, f1: int, cut_after_block: Callable[[int], bool],
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame aims for frames [f0, f1) by interpolating block-centre aims ``tgts`` (blocks from
    ``first_block``); and the cut frames (relative to ``f0``). ``active`` (frames,) says which frames
    vote; ``cut_after_block(b)`` whether the move from block b to b+1 is a cut."""
    k = rules.k
    nb = len(tgts)
    centres = np.array([(b + 0.5) * k - 0.5 for b in range(first_block, first_block + nb)])
    frames = np.arange(f0, f1)
    vec = np.array(tgts, dtype=np.float64).reshape(nb, 3)
    pos = np.interp(frames, centres, np.arange(nb))
    lo = np.clip(np.floor(pos).astype(int), 0, nb - 1)
    hi = np.clip(lo + 1, 0, nb - 1)
    frac = (pos - lo)[:, None]
    cut_after = np.array([cut_after_block(first_block + i) for i in range(nb)] + [False])
    # Nor from a silent block into an active one: the aim jumps at the onset, not before it.
    wake = np.array(
        [
            blocks.w[first_block + i] <= 0 < blocks.w[first_block + i + 1]
            if first_block + i + 1 < len(blocks.w)
            else False
            for i in range(nb)
        ]
        + [False]
    )
    cut_after = cut_after | wake
    # Across a cut, no interpolation: each side keeps its own aim.
    blk = frames // k - first_block
    crossing = cut_after[lo] if nb > 1 else np.zeros(len(frames), bool)
    frac = np.where(crossing[:, None], (blk[:, None] > lo[:, None]).astype(float), frac)
    # In the block that wakes up, frames before its first active one keep the held aim.
    for i in np.nonzero(wake[:nb])[0]:
        b = first_block + i + 1
        a0, a1 = b * k, min((b + 1) * k, len(active))
        first_active = a0 + int(np.argmax(active[a0:a1])) if active[a0:a1].any() else a1
        sel = (frames >= a0) & (frames < first_active)
        frac[sel] = 0.0
        lo[sel] = i
    v = (1 - frac) * vec[lo] + frac * vec[hi]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    is_cut_frame = np.array([f % k == 0 and cut_after_block(f // k - 1) for f in frames])
    return v, np.nonzero(is_cut_frame)[0]
