"""The ``autocam`` planner: Pano2Vid's AutoCam path search on sound-saliency scores.

Su, Jayaraman & Grauman (ACCV 2016) score a fixed grid of candidate view directions per time step and
pick the path with dynamic programming under a smoothness (maximum motion) constraint. Here:

* **scores** — each frame's map is pooled to a small grid, and one matrix product with a precomputed
  candidates × cells footprint matrix (cos-latitude area × a centre-weighted window of a rectilinear
  view) gives the fraction of saliency each candidate view captures; the map is then dropped. Scores
  are weighted by the frame's confidence, so diffuse or silent frames barely vote.
* **coarse time** — a 10° grid at 30 fps with a 60°/s limit means 2° per frame, less than one grid
  step, so a per-frame DP could never move. The DP runs on blocks of ``k`` frames with
  ``k · max_step ≥`` grid spacing; block scores are sums over the block, and transitions go only to
  candidates within ``max_speed · k / fps`` degrees (great circle, so the ±180° seam is not special).
* **motion cost** — a small penalty per degree keeps the camera still when nothing is gained by moving
  (silence, ties) and makes it take the short way round.
* **cuts** — with ``cuts="auto"`` (the default) a transition further than ``max_speed · max_pan_time``
  may jump, at a fixed cost, instead of panning for longer than ``max_pan_time``. An editor's rules then
  apply to the chosen path: no shot shorter than ``min_shot`` seconds and no cut to a view whose sound
  lasts less than ``min_sound`` seconds (such a shot is given back to the one before it, which also
  rules out cutting back and forth).
* **refinement** — the chosen candidate per block only says *which* view; the camera aims at the
  saliency centroid inside that view (also accumulated per block and candidate), held through silence,
  interpolated between block centres. Where the places the DP attended to within ``two_shot`` seconds
  all fit in the view (two talkers in dialogue), the aim is instead the centre of their extent and the
  camera may stray only as far as keeps them all in view (``pano.planning.framing``): the DP's
  centre-weighted scores alone always prefer a view centred on whoever talks now, so it would pan at
  every turn. How the camera then moves is ``motion``: ``"shots"`` (default)
  solves the L1-optimal path of ``pano.planning.motion`` (still shots, eased steady pans; the camera
  moves only when the aim leaves a central safe zone), ``"smooth"`` the older limit → smooth → limit
  chain (``pano.planning.smoothing``), which follows every wobble of the aim.

Memory per block of ``k`` frames: C scores + 3·C moments (float32), C back-pointers (int16).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import scipy.sparse as sp

from common.options import PluginOptions, option
from pano.planning.base import Observation, PlannedPath, Planner, max_accel_option, max_speed_option
from pano.planning.framing import two_shot_aims
from pano.planning.motion import MotionStyle, ShotCamera
from pano.planning.smoothing import (
    frame_steps,
    limit_speed_vectors,
    onset_breaks,
    smooth_vectors,
    track_vectors,
)
from pano.sphere.geometry import area_weights, grid_angles, grid_vectors, view_coordinates, yaw_pitch_to_vec

if TYPE_CHECKING:
    from pano.run.context import RunContext


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


class _Calmer:
    """Streaming limit → smooth → limit. Offline use is one ``push`` with every frame committed.

    Frames are committed in order; a look-ahead of tentative frames feeds the Gaussian's right side so
    a fixed-lag stream matches the offline result whenever the lag covers the smoothing window.
    """

    def __init__(self, sigma_frames: float, max_speed: float, max_accel: float) -> None:
        self.sigma = sigma_frames
        self.max_speed = max_speed
        self.max_accel = max_accel
        self.track_state: tuple | None = None
        self.hist: deque[np.ndarray] = deque(maxlen=max(1, int(np.ceil(3 * sigma_frames)) + 1))
        self.last_limited: np.ndarray | None = None
        self.last_out: np.ndarray | None = None

    def push(
        self, tgt: np.ndarray, dt: np.ndarray, n: int, cuts: np.ndarray, sbreaks: np.ndarray,
        room: np.ndarray | None = None,
    ) -> np.ndarray:
        """Commit the first ``n`` of ``tgt`` (the rest is look-ahead); indices relative to ``tgt[0]``.
        ``room`` (the two-shot's) is ignored: this chain follows the aim closely anyway."""
        if n == 0:
            return np.zeros((0, 3))
        cuts = np.asarray(cuts, dtype=int)
        step = self.max_speed * np.asarray(dt, dtype=np.float64)
        lim = limit_speed_vectors(tgt, step, start=self.last_limited, breaks=cuts)
        h = len(self.hist)
        window = np.concatenate([np.array(self.hist).reshape(h, 3), lim])
        breaks = np.unique(np.concatenate([cuts, np.asarray(sbreaks, dtype=int)])) + h
        sm = smooth_vectors(window, self.sigma, breaks=breaks)[h : h + n]
        c_cuts = cuts[cuts < n]
        if self.max_accel:
            out, self.track_state = track_vectors(
                sm, dt[:n], self.max_speed, self.max_accel, state=self.track_state, breaks=c_cuts
            )
        else:
            out = limit_speed_vectors(sm, step[:n], start=self.last_out, breaks=c_cuts)
        self.last_limited, self.last_out = lim[n - 1], out[-1]
        b_in = breaks[(breaks >= h) & (breaks < h + n)] - h
        keep = lim[int(b_in.max()) : n] if len(b_in) else lim[:n]
        if len(b_in):
            self.hist.clear()
        self.hist.extend(keep[-self.hist.maxlen :])
        return out


class _BlockPath(Mapping):
    """Candidate per block: the decided ones, then ``cands`` from ``first`` on (they override from there).

    A view, not a copy: a streaming plan looks up a few blocks around its window on every step, and
    copying every decided block each time made that quadratic in the video's length.
    """

    def __init__(self, decided: list[int], cands: list[int], first: int) -> None:
        self.decided, self.cands, self.first = decided, cands, first

    def __getitem__(self, b: int) -> int:
        if self.first <= b < self.first + len(self.cands):
            return self.cands[b - self.first]
        if 0 <= b < len(self.decided):
            return self.decided[b]
        raise KeyError(b)

    def __iter__(self) -> Iterator[int]:
        return (b for b in range(max(len(self.decided), self.first + len(self.cands))) if b in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class AutoCamOptions(PluginOptions):
    max_speed: float = max_speed_option()
    yaw_step: float = option(10.0, "candidate spacing in yaw (degrees)", lo=1.0, hi=90.0)
    pitch_step: float = option(20.0, "candidate spacing in pitch (degrees)", lo=1.0, hi=90.0)
    pitch_max: float = option(60.0, "highest candidate pitch (degrees)", lo=0.0, hi=89.0)
    motion_cost: float = option(0.008, "score-seconds per degree moved (enough that two sources that fit in "
                                "one view are framed together rather than panned between)", lo=0.0, hi=10.0)
    min_confidence: float = option(0.15, "frames below it do not vote and the aim is held", lo=0.0, hi=1.0)
    smooth: float = option(0.4, "Gaussian smoothing sigma of the path (s; motion=smooth only)", lo=0.0, hi=60.0)
    max_accel: float = max_accel_option()
    cuts: str = option("auto", "auto = cut instead of panning longer than max_pan_time to a new source "
                       "(editor's rules: min_shot, min_sound); never = always pan", choices=("auto", "never"))
    max_pan_time: float = option(2.0, "longest pan before a cut (s)", lo=0.1, hi=60.0)
    cut_cost: float = option(0.5, "score-seconds a cut costs", lo=0.0, hi=100.0)
    score_grid: int = option(32, "maps are pooled to at most this many rows", lo=4, hi=512)

    min_shot: float = option(1.5, "cuts: no shot shorter than this (s)", lo=0.0, hi=60.0)
    min_sound: float = option(0.5, "cuts: no cut to a view whose sound lasts less than this (s)", lo=0.0, hi=10.0)
    motion: str = option("shots", "how the camera moves: shots = L1-optimal still shots and eased pans; "
                         "smooth = the older Gaussian smoothing", choices=("shots", "smooth"))
    safe_zone: float = option(0.15, "half-width of the central zone (fraction of the field of view) the aim "
                              "may wander in without moving the camera", lo=0.0, hi=0.45)
    aim_memory: float = option(2.0, "the aim is the centroid of what the chosen view held over ± this many "
                               "seconds (two talkers taking turns in one view: one aim between them)",
                               lo=0.0, hi=30.0)
    two_shot: float = option(8.0, "two-shot: where the places attended to within ± this many seconds all fit "
                             "in the view, frame them all (dialogue) instead of panning at each turn; 0 = off",
                             lo=0.0, hi=120.0)
    two_shot_margin: float = option(2.0, "two-shot: degrees kept free inside each edge of the view",
                                    lo=0.0, hi=20.0)


class AutoCamPlanner(Planner):
    """AutoCam-style planner (see module docstring). All angles in degrees, times in seconds."""

    name = "autocam"
    Options = AutoCamOptions

    def __init__(self, ctx: RunContext | None = None, options: AutoCamOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        self.cuts = o.cuts == "auto"

        self.cand_yaw, self.cand_pitch = candidate_grid(o.yaw_step, o.pitch_step, o.pitch_max)
        self.cand_vec = yaw_pitch_to_vec(self.cand_yaw, self.cand_pitch)
        c = len(self.cand_yaw)
        n_p = c // len(np.unique(self.cand_yaw))
        spacing = max(o.yaw_step, (2 * o.pitch_max / (n_p - 1)) if n_p > 1 else 0.0)
        self.k = max(1, int(np.ceil(spacing / (o.max_speed / self.fps) - 1e-9)))
        self.reach = o.max_speed * self.k / self.fps
        dist = np.degrees(np.arccos(np.clip(self.cand_vec @ self.cand_vec.T, -1, 1)))
        self._dist = dist
        allowed = dist <= self.reach + 1e-6
        width = int(allowed.sum(axis=1).max())
        order = np.argsort(~allowed, axis=1, kind="stable")[:, :width]
        self._nbr = order.astype(np.int64)
        ok = np.take_along_axis(allowed, order, axis=1)
        self._nbr_cost = np.where(ok, o.motion_cost * np.take_along_axis(dist, order, axis=1), np.inf)
        self._far = dist > o.max_speed * o.max_pan_time if self.cuts else None
        # A whisper of preference for the front and the horizon, on the first block only, breaks ties
        # in an all-silent video (which then looks ahead instead of at candidate 0, the floor behind).
        self._prior = (1e-4 * (self.cand_vec @ np.array([1.0, 0.0, 0.0]))).astype(np.float64)

        self._footprints: dict[tuple[int, int], sp.csr_matrix] = {}
        self._times: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._act: list[np.ndarray] = []  # per frame: confident and not empty (it votes)
        self._n = 0
        # Block accumulators: the open block plus lists of closed ones.
        self._acc_score = np.zeros(c, np.float64)
        self._acc_mom = np.zeros((c, 3), np.float64)
        self._acc_w = 0.0
        self._acc_n = 0
        self._blk_score: list[np.ndarray] = []
        self._blk_mom: list[np.ndarray] = []
        self._blk_w: list[float] = []
        # Forward Viterbi state.
        self._value: np.ndarray | None = None
        self._bp: list[np.ndarray] = []
        self._bp_dtype = np.int16 if c < 2**15 else np.int32
        # Commitment state (frames handed out so far).
        self._decided: list[int] = []  # final candidate per block, in order
        self._hold: np.ndarray | None = None  # last aim carried into the next block
        if o.motion == "shots":
            self._calmer = ShotCamera(
                self.fps, self.hfov, self.vfov, o.max_speed, o.max_accel, MotionStyle(zone=o.safe_zone)
            )
        else:
            self._calmer = _Calmer(o.smooth * self.fps, o.max_speed, o.max_accel)
        self._cut_frames: list[np.ndarray] = []
        self._out: list[np.ndarray] = []
        self._committed = 0

    # ----------------------------------------------------------------- pass 1
    def _footprint(self, h: int, w: int) -> sp.csr_matrix:
        if (h, w) not in self._footprints:
            self._footprints[(h, w)] = footprint_matrix(
                self.cand_yaw, self.cand_pitch, h, w, self.hfov, self.vfov
            )
        return self._footprints[(h, w)]

    def observe(self, obs: Observation) -> None:
        times = np.asarray(obs.times, dtype=np.float64).ravel()
        conf = np.clip(np.nan_to_num(np.asarray(obs.confidence, dtype=np.float64).ravel()), 0, 1)
        b = len(times)
        if b == 0:
            return
        maps = pool_maps(obs.maps, self.options.score_grid)
        h, w = maps.shape[1:]
        fp = self._footprint(h, w)
        flat = maps.reshape(b, -1)
        total = flat @ np.broadcast_to(area_weights(h), (h, w)).ravel().astype(np.float32)
        res = np.asarray(fp @ np.ascontiguousarray(flat.T), dtype=np.float64)  # (4C, B)
        c = len(self.cand_yaw)
        vote = np.where(conf >= self.options.min_confidence, conf, 0.0) / self.fps
        scale = np.divide(vote, total, out=np.zeros(b), where=total > 0)  # per frame
        scores = res[:c] * scale[None, :]
        moms = res[c:].reshape(3, c, b) * scale[None, None, :]
        self._times.append(times)
        self._conf.append(conf.astype(np.float32))
        self._act.append((vote > 0) & (total > 0))
        i = 0
        while i < b:  # fill the open block, closing it whenever k frames are in
            m = min(self.k - self._acc_n, b - i)
            self._acc_score += scores[:, i : i + m].sum(axis=1)
            self._acc_mom += moms[:, :, i : i + m].sum(axis=2).T
            self._acc_w += float(vote[i : i + m].sum())
            self._acc_n += m
            i += m
            if self._acc_n == self.k:
                self._close_block()
        self._n += b

    def _close_block(self) -> None:
        self._blk_score.append(self._acc_score.astype(np.float32))
        self._blk_mom.append(self._acc_mom.astype(np.float32))
        self._blk_w.append(self._acc_w)
        self._acc_score = np.zeros_like(self._acc_score)
        self._acc_mom = np.zeros_like(self._acc_mom)
        self._acc_w, self._acc_n = 0.0, 0
        self._forward(self._blk_score[-1].astype(np.float64))

    def _forward(self, score: np.ndarray) -> None:
        """One Viterbi step: best predecessor within reach (or a cut), plus this block's score."""
        if self._value is None:
            self._value = score + self._prior
            self._bp.append(np.full(len(score), -1, self._bp_dtype))
            return
        if not score.any():  # silence: nothing to gain, so nobody moves (no drift, no pre-panning)
            self._bp.append(np.arange(len(score), dtype=self._bp_dtype))
            return
        cand = self._value[self._nbr] - self._nbr_cost
        best = np.argmax(cand, axis=1)
        val = cand[np.arange(len(score)), best]
        bp = self._nbr[np.arange(len(score)), best]
        if self._far is not None:
            far_val = np.where(self._far, self._value[None, :], -np.inf)
            far_best = np.argmax(far_val, axis=1)
            fv = far_val[np.arange(len(score)), far_best] - self.options.cut_cost
            use = fv > val
            val = np.where(use, fv, val)
            bp = np.where(use, far_best, bp)
        v = val + score
        self._value = v - v.max()
        self._bp.append(bp.astype(self._bp_dtype))

    def _backtrack(self, upto: int) -> list[int]:
        """Candidates of blocks [len(decided), upto) traced back from the current best end state."""
        n = len(self._bp)
        path = [0] * n
        c = int(np.argmax(self._value))
        for i in range(n - 1, len(self._decided) - 1, -1):
            path[i] = c
            if i > 0:
                c = int(self._bp[i][c])
        return path[len(self._decided) : upto] if upto <= n else path[len(self._decided) :]

    # ------------------------------------------------------------- refinement
    def _targets(
        self, cands: list[int], first_block: int, hold: np.ndarray | None, framed: dict[int, tuple]
    ) -> tuple[list, list, Any]:
        """Aim per block: the two-shot's (``framed``) where there is one, else the centroid inside the
        chosen view blended with its centre; held when silent."""
        out, active = [], []
        every = self._decided_and(cands, first_block)
        reach = int(round(self.options.aim_memory * self.fps / self.k))
        for j, c in enumerate(cands):
            b = first_block + j
            w = self._blk_w[b]
            if w > 0 and b in framed:
                tgt = hold = framed[b][0]
                active.append(True)
            elif w > 0:
                # The centroid of what this view held over the last and next aim_memory seconds while the
                # DP kept it: two talkers taking turns inside one view give one aim between them.
                near = [i for i in range(max(0, b - reach), min(len(self._blk_w), b + reach + 1)) if every.get(i) == c]
                mom = np.sum([self._blk_mom[i][c] for i in near], axis=0, dtype=np.float64)
                norm = np.linalg.norm(mom)
                frac = float(self._blk_score[b][c]) / w  # mean captured fraction
                beta = min(1.0, frac / 0.25)
                cen = mom / norm if norm > 1e-12 else self.cand_vec[c]
                tgt = beta * cen + (1 - beta) * self.cand_vec[c]
                tgt = tgt / (np.linalg.norm(tgt) or 1.0)
                hold = tgt
                active.append(True)
            else:
                tgt = hold  # None until the first active block
                active.append(False)
            out.append(tgt)
        return out, active, hold

    def _two_shots(self, every: Mapping[int, int], first_block: int, n: int) -> dict[int, tuple]:
        """Two-shot aims (``pano.planning.framing``) for blocks [first_block, first_block + n), from the
        centroids inside the views the DP chose over the window around them."""
        if not self.options.two_shot or n == 0:
            return {}
        sec = self.k / self.fps
        pad = int(np.ceil((self.options.two_shot + 1.0) / sec))  # the window plus the dwell test's reach
        lo, hi = max(0, first_block - pad), min(len(self._blk_w), first_block + n + pad)
        dirs = np.zeros((hi - lo, 3))
        act = np.zeros(hi - lo, bool)
        for i in range(lo, hi):
            c = every.get(i)
            if c is None or self._blk_w[i] <= 0:
                continue
            m = self._blk_mom[i][c].astype(np.float64)
            norm = np.linalg.norm(m)
            if norm > 1e-12:
                dirs[i - lo], act[i - lo] = m / norm, True
        got = two_shot_aims(dirs, act, range(first_block - lo, first_block - lo + n), sec, self.hfov, self.vfov,
                            window=self.options.two_shot, margin=self.options.two_shot_margin)
        return {lo + i: v for i, v in got.items()}

    def _frame_targets(
        self, tgts: list[np.ndarray], cands: list[int], first_block: int, f0: int, f1: int,
        framed: dict[int, tuple] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame aims for frames [f0, f1) by interpolating block-centre aims; cut frames (relative)."""
        nb = len(tgts)
        centres = np.array([(b + 0.5) * self.k - 0.5 for b in range(first_block, first_block + nb)])
        frames = np.arange(f0, f1)
        vec = np.array(tgts, dtype=np.float64).reshape(nb, 3)
        pos = np.interp(frames, centres, np.arange(nb))
        lo = np.clip(np.floor(pos).astype(int), 0, nb - 1)
        hi = np.clip(lo + 1, 0, nb - 1)
        frac = (pos - lo)[:, None]
        all_cands = self._decided_and(cands, first_block)
        cut_after = np.array([self._is_cut(all_cands, first_block + i, framed) for i in range(nb)] + [False])
        # Nor from a silent block into an active one: the aim jumps at the onset, not before it.
        wake = np.array(
            [
                self._blk_w[first_block + i] <= 0 < self._blk_w[first_block + i + 1]
                if first_block + i + 1 < len(self._blk_w)
                else False
                for i in range(nb)
            ]
            + [False]
        )
        cut_after = cut_after | wake
        # Across a cut, no interpolation: each side keeps its own aim.
        blk = frames // self.k - first_block
        crossing = cut_after[lo] if nb > 1 else np.zeros(len(frames), bool)
        frac = np.where(crossing[:, None], (blk[:, None] > lo[:, None]).astype(float), frac)
        # In the block that wakes up, frames before its first active one keep the held aim.
        act = np.concatenate(self._act)
        for i in np.nonzero(wake[:nb])[0]:
            b = first_block + i + 1
            a0, a1 = b * self.k, min((b + 1) * self.k, len(act))
            first_active = a0 + int(np.argmax(act[a0:a1])) if act[a0:a1].any() else a1
            sel = (frames >= a0) & (frames < first_active)
            frac[sel] = 0.0
            lo[sel] = i
        v = (1 - frac) * vec[lo] + frac * vec[hi]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        is_cut_frame = np.array(
            [f % self.k == 0 and self._is_cut(all_cands, f // self.k - 1, framed) for f in frames]
        )
        return v, np.nonzero(is_cut_frame)[0]

    def _decided_and(self, cands: list[int], first_block: int) -> Mapping[int, int]:
        return _BlockPath(self._decided, cands, first_block)

    def _is_cut(self, cands: Mapping[int, int], b: int, framed: dict[int, tuple] | None = None) -> bool:
        """Whether the move from block b to b+1 is a cut (further than one block's reach); never inside a
        two-shot (``framed``), where the DP's jump from one talker to the other leaves the aim in place."""
        if not self.cuts or b < 0 or b not in cands or b + 1 not in cands:
            return False
        if self._dist[cands[b], cands[b + 1]] <= self.reach + 1e-6:
            return False
        if framed and b + 1 in framed:
            a = b
            while a > 0 and a not in framed and self._blk_w[a] <= 0:  # silence holds the aim before it
                a -= 1
            if a in framed and float(framed[a][0] @ framed[b + 1][0]) > np.cos(np.radians(1.0)):
                return False
        return True

    def _decide(self) -> None:
        """Decide every block and commit its frames to the output."""
        if self._acc_n:
            self._close_block()
        nb = len(self._bp)
        if nb == 0:
            return
        upto = nb
        tentative = self._edit_shots(self._backtrack(nb))  # blocks [decided, nb)
        n_new = max(0, upto - len(self._decided))
        if n_new == 0:
            return
        first = len(self._decided)
        framed = self._two_shots(self._decided_and(tentative, first), first, len(tentative))
        tgts, _, _ = self._targets(tentative, first, self._hold, framed)
        if all(t is None for t in tgts):
            # Nothing heard in the whole window: look ahead (front, horizon) rather than hold output
            # back indefinitely; a streaming viewer cannot wait for the first sound.
            tgts = [self.cand_vec[int(np.argmax(self._prior))]] * len(tgts)
        first_tgt = next(t for t in tgts if t is not None)
        tgts = [first_tgt if t is None else t for t in tgts]
        times = np.concatenate(self._times)
        f0 = self._committed
        f1 = self._n
        v, cuts = self._frame_targets(tgts, tentative, first, f0, self._n, framed)
        dt = frame_steps(times, self.fps)[f0:]
        onsets = onset_breaks(np.concatenate(self._act), int(np.ceil(3 * self.options.smooth * self.fps)))
        onsets = onsets[onsets >= f0] - f0
        room = None  # inside a two-shot the camera may stray only as far as keeps everyone in view
        if framed:
            blk = np.arange(f0, self._n) // self.k
            room = np.array([framed[b][1:] if b in framed else (np.inf, np.inf) for b in blk]).reshape(-1, 2)
        out = self._calmer.push(v, dt, f1 - f0, cuts, onsets, room=room)
        self._out.append(out)
        self._cut_frames.append(f0 + cuts[cuts < f1 - f0])
        self._committed = f1
        # Commit the decided blocks and the hold state they leave.
        self._decided.extend(tentative[:n_new])
        _, _, self._hold = self._targets(tentative[:n_new], first, self._hold, framed)
        if self._hold is None:  # the committed frames were back-filled with the first aim
            self._hold = first_tgt

    def _edit_shots(self, cands: list[int]) -> list[int]:
        """An editor's rules on the DP's cuts, for the undecided blocks ``cands``.

        A shot that starts with a cut and is shorter than ``min_shot``, or whose view holds its sound for
        less than ``min_sound``, is given back to the shot before it (the camera holds instead of
        cutting away and back). Repeated until no such shot is left.
        """
        if not self.cuts or not cands:
            return cands
        first = len(self._decided)
        path = self._decided + list(cands)
        sec = self.k / self.fps
        min_blocks = int(np.ceil(self.options.min_shot / sec - 1e-9))

        def heard(b0: int, b1: int) -> float:
            """Seconds of blocks in [b0, b1) in which the shot's view holds confident sound."""
            n = 0
            for b in range(b0, b1):
                w = self._blk_w[b] if b < len(self._blk_w) else 0.0
                if w > 0 and float(self._blk_score[b][path[b]]) / w >= 0.3:
                    n += 1
            return n * sec

        changed = True
        while changed:
            changed = False
            starts = [
                b for b in range(max(first, 1), len(path)) if self._dist[path[b - 1], path[b]] > self.reach + 1e-6
            ]
            for i, b in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else len(path)
                if end - b < min_blocks or heard(b, end) < self.options.min_sound:
                    # Only where the camera can then go on from the held view without a jump cut: to the
                    # next shot by a pan within reach, or by a cut that is itself far enough.
                    gap = self._dist[path[b - 1], path[end]] if end < len(path) else 0.0
                    cut_reach = self.options.max_speed * self.options.max_pan_time
                    if end < len(path) and self.reach + 1e-6 < gap <= cut_reach:
                        continue
                    path[b:end] = [path[b - 1]] * (end - b)
                    changed = True
                    break
        return path[first:]

    def cut_frames(self) -> np.ndarray:
        """Indices of committed frames that start a new shot (the view jumps there)."""
        return np.concatenate(self._cut_frames).astype(int) if self._cut_frames else np.zeros(0, int)

    # ------------------------------------------------------------------ output
    def _path(self, start: int) -> PlannedPath:
        vec = np.concatenate(self._out)[start:] if self._out else np.zeros((0, 3))
        x, y, z = vec[:, 0], vec[:, 1], vec[:, 2]
        yaw = ((np.degrees(np.arctan2(-y, x)) + 180.0) % 360.0) - 180.0
        pitch = np.degrees(np.arctan2(z, np.hypot(x, y)))
        conf = np.concatenate(self._conf)[start : start + len(vec)] if self._conf else np.zeros(0)
        cut = np.zeros(len(vec), bool)
        frames = self.cut_frames() - start
        cut[frames[(frames >= 0) & (frames < len(vec))]] = True
        return PlannedPath(yaw=yaw, pitch=pitch, confidence=conf.astype(np.float64), cut=cut)

    def plan(self) -> PlannedPath:
        self._decide()
        return self._path(0)

    def yaw_strip(self) -> np.ndarray | None:
        """(N, yaw candidates) best captured fraction over pitch per yaw, block-constant, for plots."""
        if not self._blk_score:
            return None
        n_y = len(np.unique(self.cand_yaw))
        s = np.array(self._blk_score).reshape(len(self._blk_score), -1, n_y).max(axis=1)
        w = np.array(self._blk_w)[:, None]
        s = np.divide(s, w, out=np.zeros_like(s), where=w > 0)
        return np.repeat(s, self.k, axis=0)[: self._n]

    def describe(self) -> dict:
        return super().describe() | {"dp_block_frames": self.k}
