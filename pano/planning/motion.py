"""How the camera moves once the AutoCam DP has said what to look at: shots, not wobble.

An operator filming a still performer locks the shot; when the subject walks, they pan steadily, with
eased starts and stops; when attention jumps far, the editor cuts. The DP's per-frame aim wobbles with
the saliency (reverberation, two sources, the aim's blend inside the chosen view), and smoothing that
wobble still leaves a camera that never stops. So the path is re-solved as Grundmann, Kwatra & Essa's
L1-optimal camera path (*Auto-Directed Video Stabilization with Robust L1 Optimal Camera Paths*, CVPR
2011), per axis (yaw unwrapped, pitch):

    minimise  w1·Σ|Δx| + w2·Σ|Δ²x| + w3·Σ|Δ³x| + w_c·Σ|x − aim| + w_s·Σ s
    subject to  |x − aim| ≤ zone + s,  s ≥ 0,  |Δx| ≤ max speed,  |Δ²x| ≤ max acceleration

L1 norms of derivatives are sparse at the optimum, so the path is made of exactly the pieces an
operator uses: still (Δx = 0), constant-velocity pans (Δ²x = 0) and eased transitions between them
(Δ³x = 0 almost everywhere). The aim only has to stay inside a central safe zone of the frame, so the
camera moves only when the source leaves it; a small centring term frames a source that stays, and the
soft zone (slack ``s`` at a high price) keeps the problem feasible when the aim jumps faster than the
camera may move. The derivatives are weighted per second (not per frame), so the result does not
depend on the frame rate.

Each shot (between cuts) is solved in overlapping windows (``window`` seconds, the first ``commit``
of them kept), each starting from the last kept frames' position, velocity and acceleration, so memory
and time are O(frames) on hour-long videos; an LP of a 20 s window of 10 Hz keyframes solves in tens of
ms with HiGHS. ``scipy.optimize.linprog`` is imported only when a path is planned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pano.planning.smoothing import limit_speed_vectors
from pano.sphere.geometry import unwrap_yaw, vec_to_yaw_pitch, yaw_pitch_to_vec


@dataclass(frozen=True)
class MotionStyle:
    """The L1 path's weights and limits; angles in degrees, times in seconds.

    ``zone`` is the safe zone's half-width as a fraction of the field of view: the aim may sit this far
    from the centre (0.15 × 65.5° ≈ 10° in yaw) before the camera has to move.
    """

    zone: float = 0.15
    # A source in motion (its aim moving faster than ``moving`` deg/s): the camera keeps it between
    # ``trail`` behind and ``lead`` ahead of the centre (fractions of the field of view), so a pan ends
    # on the source with a little room ahead of it, never a zone's width ahead to then hold while it
    # crosses the frame (the L1 optimum with a symmetric zone leads by the whole zone).
    moving: float = 3.0
    lead: float = 0.08
    trail: float = 0.04
    w_speed: float = 1.0  # per degree moved
    w_accel: float = 0.1 / 30.0  # per degree/s of velocity change
    w_jerk: float = 10.0 / 900.0  # per degree/s² of acceleration change
    w_centre: float = 0.1  # per degree·second off the aim (a still source is framed within seconds)
    w_slack: float = 300.0  # per degree·second outside the zone
    window: float = 20.0
    commit: float = 15.0


def _diff_matrix(n: int, order: int) -> sp.csr_matrix:
    """(n − order, n) finite-difference operator of the given order."""
    d = sp.identity(n, format="csr")
    for _ in range(order):
        d = (d[1:] - d[:-1]).tocsr()
    return d


def solve_axis(
    aim: np.ndarray,
    zone: np.ndarray,
    fps: float,
    max_speed: float,
    max_accel: float,
    style: MotionStyle,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """L1-optimal path (n,) for one axis of the aim (n,) degrees, with per-frame zone half-widths:
    ``zone`` (n,) the same both ways, or (2, n): how far the path may lie below and above the aim.

    ``start`` holds up to three earlier path values (oldest first) that the path must continue
    smoothly from: they are prepended as fixed frames, so position, velocity and acceleration carry
    over between windows. Returns only the new frames.
    """
    from scipy.optimize import linprog  # ~0.3 s to import; only when a path is planned

    aim = np.asarray(aim, dtype=np.float64)
    zone = np.asarray(zone, dtype=np.float64)
    below, above = (zone[0], zone[1]) if zone.ndim == 2 else (zone, zone)
    below, above = np.broadcast_to(below, aim.shape), np.broadcast_to(above, aim.shape)
    pre = np.zeros(0) if start is None else np.asarray(start, dtype=np.float64)[-3:]
    p, m = len(pre), len(aim)
    n = p + m
    if m == 0:
        return np.zeros(0)
    if n == 1:
        return aim.copy()
    if p == 3 and np.ptp(pre) < 1e-9 and np.all(
        (pre[-1] >= aim - below) & (pre[-1] <= aim + above)) and abs(np.median(aim) - pre[-1]) <= 1.0:
        # A locked shot whose aim stays in the safe zone stays locked: the LP would at most re-centre by
        # under a degree, a move no operator makes; this is most windows of most footage, and free.
        return np.full(m, float(pre[-1]))
    # Variables: x (n), e1 (n−1), e2 (n−2), e3 (n−3), s (m), c (m).
    orders = [o for o in (1, 2, 3) if n - o > 0]
    sizes = [n] + [n - o for o in orders] + [m, m]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    nv = int(offs[-1])
    dt = 1.0 / fps
    cost = np.zeros(nv)
    scale = {1: style.w_speed, 2: style.w_accel * fps, 3: style.w_jerk * fps * fps}
    for k, o in enumerate(orders):
        cost[offs[k + 1] : offs[k + 2]] = scale[o]
    s0, c0 = offs[len(orders) + 1], offs[len(orders) + 2]
    cost[s0 : s0 + m] = style.w_slack * dt
    cost[c0 : c0 + m] = style.w_centre * dt

    rows, rhs = [], []
    for k, o in enumerate(orders):  # ±Δ^o x − e_o ≤ 0
        d = _diff_matrix(n, o)
        e = sp.csr_matrix((np.ones(n - o), (np.arange(n - o), offs[k + 1] + np.arange(n - o))), shape=(n - o, nv))
        dx = sp.hstack([d, sp.csr_matrix((n - o, nv - n))]).tocsr()
        rows += [dx - e, -dx - e]
        rhs += [np.zeros(n - o)] * 2
    sel = sp.csr_matrix((np.ones(m), (np.arange(m), p + np.arange(m))), shape=(m, nv))
    slack = sp.csr_matrix((np.ones(m), (np.arange(m), s0 + np.arange(m))), shape=(m, nv))
    cen = sp.csr_matrix((np.ones(m), (np.arange(m), c0 + np.arange(m))), shape=(m, nv))
    rows += [sel - slack, -sel - slack, sel - cen, -sel - cen]  # −below − s ≤ x − aim ≤ above + s, |x − aim| ≤ c
    rhs += [aim + above, below - aim, aim, -aim]
    a_ub = sp.vstack(rows).tocsc()
    b_ub = np.concatenate(rhs)

    bounds = [(None, None)] * n
    for i, v in enumerate(pre):
        bounds[i] = (float(v), float(v))
    limits = {1: max_speed * dt, 2: max_accel * dt * dt if max_accel > 0 else None, 3: None}
    for o in orders:
        bounds += [(0.0, limits[o])] * (n - o)
    bounds += [(0.0, None)] * (2 * m)
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:  # cannot happen with the soft zone; stay safe anyway
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * n + bounds[n:], method="highs")
        if res.x is None:
            return aim.copy()
    return np.asarray(res.x[p:n], dtype=np.float64)


class ShotCamera:
    """Streaming L1 camera: ``push`` aims, get committed frames; shots are solved apart at cuts.

    Same interface as the smoothing chain it replaces, so the planner's fixed-lag mode works unchanged:
    the frames after the committed ones are look-ahead for the window that ends the commit. The LP runs
    on keyframes ``keyframe`` seconds apart (each the median aim around it, which also drops brief
    outliers an operator would ignore) and frames are interpolated between them with a monotone cubic
    (still stays exactly still, a constant pan stays linear).
    """

    def __init__(
        self, fps: float, hfov: float, vfov: float, max_speed: float, max_accel: float, style: MotionStyle,
        keyframe: float = 0.1,
    ) -> None:
        self.fps = float(fps)
        self.hfov, self.vfov = float(hfov), float(vfov)
        self.max_speed, self.max_accel = float(max_speed), float(max_accel)
        self.style = style
        self.q = max(1, int(round(keyframe * self.fps)))
        self._tail: list[tuple[float, float]] = []  # last ≤3 committed keyframes (yaw unwrapped, pitch)
        self._phase = 0  # frames since the open shot started
        self._last_yaw: float | None = None
        self._last_vec: np.ndarray | None = None

    def push(
        self, tgt: np.ndarray, dt: np.ndarray, n: int, cuts: np.ndarray, sbreaks: np.ndarray | None = None,
        room: np.ndarray | None = None,
    ) -> np.ndarray:
        """Commit the first ``n`` frames of aims ``tgt`` (unit vectors, the rest is look-ahead).

        ``room`` (frames, 2): per frame, the most the camera may stray from the aim in yaw and pitch
        (view degrees; inf = the safe zone), e.g. a two-shot that only just fits."""
        if n == 0:
            return np.zeros((0, 3))
        yaw, pitch = vec_to_yaw_pitch(np.asarray(tgt, dtype=np.float64).reshape(-1, 3))
        yaw, pitch = np.atleast_1d(yaw), np.atleast_1d(pitch)
        yaw = unwrap_yaw(yaw)  # np.unwrap's floats, a chunk at a time (no whole-video temporaries)
        if self._last_yaw is not None:
            yaw += 360.0 * np.round((self._last_yaw - yaw[0]) / 360.0)  # continue the open shot's turns
        inside = lambda a: {int(c) for c in np.asarray(a, dtype=int).ravel() if 0 < int(c) < len(yaw)}  # noqa: E731
        cut_set = inside(cuts)
        causal = inside([] if sbreaks is None else sbreaks) | inside(self._switches(yaw, pitch))
        edges = sorted({0, len(yaw)} | cut_set | causal)
        out_y, out_p = [], []
        for a, b in zip(edges[:-1], edges[1:], strict=False):
            if a >= n:
                break
            if a in cut_set:  # a cut: the new shot starts from rest, anywhere
                self._tail, self._phase = [], 0
            # Up to an onset or a switch of attention the path is solved without seeing past it (no
            # panning before a sound starts: an operator cannot know), then continues from there.
            y, p = self._solve_shot(yaw[a:b], pitch[a:b], min(b, n) - a, None if room is None else room[a:b])
            out_y.append(y)
            out_p.append(p)
        vec = yaw_pitch_to_vec(np.concatenate(out_y), np.concatenate(out_p)).reshape(-1, 3)
        # The cubic between keyframes may overshoot the speed limit slightly where a pan eases in or out.
        step = self.max_speed * np.asarray(dt, dtype=np.float64)[: len(vec)]
        vec = limit_speed_vectors(vec, step, start=self._last_vec, breaks=np.array(sorted(cut_set), dtype=int))
        self._last_yaw = float(np.concatenate(out_y)[-1])
        self._last_vec = vec[-1].copy()  # not a view: it would keep the whole committed path alive
        return vec

    def _switches(self, yaw: np.ndarray, pitch: np.ndarray) -> list[int]:
        """Frames where the aim jumps (the DP turns to another source): its 0.3 s median moves by more
        than the safe zone's half-width within 0.2 s, faster than any source a camera follows smoothly."""
        from scipy.ndimage import median_filter

        lag = max(1, int(round(0.2 * self.fps)))
        if len(yaw) <= lag:
            return []
        size = 2 * max(1, int(round(0.15 * self.fps))) + 1  # medians over 0.3 s: wobble is not a jump
        yaw, pitch = median_filter(yaw, size, mode="nearest"), median_filter(pitch, size, mode="nearest")
        jump = (np.abs(yaw[lag:] - yaw[:-lag]) > self.style.zone * self.hfov) | (
            np.abs(pitch[lag:] - pitch[:-lag]) > self.style.zone * self.vfov
        )
        starts = np.nonzero(jump & ~np.r_[False, jump[:-1]])[0]  # first frame of each jump, minus lag
        return [int(i) for i in starts]

    @staticmethod
    def _aim_velocity(aim: np.ndarray, kfps: float, span: float = 1.0) -> np.ndarray:
        """(keys,) deg/s of the aim at each keyframe: the median over the next ``span`` seconds minus the
        median over the last, over ``span`` (medians, so a still source's wobble reads as still)."""
        k = max(1, int(round(span * kfps)))
        n = len(aim)
        out = np.zeros(n)
        if n < 3:
            return out
        for i in range(n):
            a, b = aim[max(0, i - k) : i + 1], aim[i : min(n, i + k + 1)]
            dt = (len(a) - 1 + len(b) - 1) / 2.0 / kfps
            if dt > 0:
                out[i] = (np.median(b) - np.median(a)) / max(dt, span / 2)
        return out

    def _solve_shot(
        self, yaw: np.ndarray, pitch: np.ndarray, n: int, room: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frames [0, n) of one shot's path, solved window by window; ``yaw[n:]`` is look-ahead."""
        from scipy.interpolate import PchipInterpolator

        q, total = self.q, len(yaw)
        # Keyframe positions (frames, relative to this call) on the shot's grid, with the tail's before 0.
        first = (-self._phase) % q
        keys = np.arange(first, total, q)
        if len(keys) == 0 or keys[-1] != total - 1:
            keys = np.append(keys, total - 1)  # the last frame, so the end is never extrapolated
        on_grid = (keys - first) % q == 0
        half = max(1, q // 2)
        aims = np.array(
            [[np.median(yaw[max(0, k - half) : k + half + 1]), np.median(pitch[max(0, k - half) : k + half + 1])]
             for k in keys]
        )
        zy = self.style.zone * self.hfov / np.maximum(np.cos(np.radians(aims[:, 1])), 0.3)
        zp = np.full(len(keys), self.style.zone * self.vfov)
        zy = np.stack([zy, zy])  # below, above the aim
        vel = self._aim_velocity(aims[:, 0], self.fps / q)
        for side, sign in ((1, 1.0), (0, -1.0)):  # ahead of a moving aim: lead; behind it: trail
            ahead = sign * vel >= self.style.moving
            behind = -sign * vel >= self.style.moving
            scale = 1.0 / np.maximum(np.cos(np.radians(aims[:, 1])), 0.3)
            zy[side] = np.where(ahead, np.minimum(zy[side], self.style.lead * self.hfov * scale), zy[side])
            zy[side] = np.where(behind, np.minimum(zy[side], self.style.trail * self.hfov * scale), zy[side])
        if room is not None:
            r = np.array([room[max(0, k - half) : k + half + 1].min(axis=0) for k in keys]).reshape(-1, 2)
            zy = np.minimum(zy, (r[:, 0] / np.maximum(np.cos(np.radians(aims[:, 1])), 0.3))[None, :])
            zp = np.minimum(zp, r[:, 1])
        kfps = self.fps / q
        win = max(4, int(round(self.style.window * kfps)))
        keep = max(1, min(win - 1, int(round(self.style.commit * kfps))))
        out = np.empty((n, 2))
        done = 0  # frames committed
        i = 0  # next keyframe to solve
        while done < n:
            j = min(len(keys), i + win)
            last = j >= len(keys)
            tail = np.array(self._tail).reshape(-1, 2)
            args = (kfps, self.max_speed, self.max_accel, self.style)
            sy = solve_axis(aims[i:j, 0], zy[:, i:j], *args, start=tail[:, 0] if len(tail) else None)
            sp_ = solve_axis(aims[i:j, 1], zp[i:j], *args, start=tail[:, 1] if len(tail) else None)
            kx = np.concatenate([keys[i] - q * np.arange(len(tail), 0, -1), keys[i:j]])
            ky = np.concatenate([tail, np.stack([sy, sp_], axis=1)])
            upto = n if last else min(n, int(keys[min(i + keep, j - 1)]))
            frames = np.arange(done, upto)
            if len(kx) > 1:
                out[done:upto] = PchipInterpolator(kx, ky, axis=0, extrapolate=True)(frames)
            else:
                out[done:upto] = ky[0]
            n_keys = max(1, int(np.searchsorted(keys[i:j], upto - 1, side="right")))  # keyframes now behind
            behind = ky[len(tail) : len(tail) + n_keys][on_grid[i : i + n_keys]]
            self._tail = [tuple(r) for r in np.concatenate([tail, behind])[-3:]]
            i += n_keys
            done = upto
            if last:
                break
        self._phase += n
        out[:, 1] = np.clip(out[:, 1], -89.0, 89.0)
        return out[:, 0], out[:, 1]
