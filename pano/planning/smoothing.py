"""Path clean-up shared by the planners: hold, smooth and speed-limit directions on the sphere.

Everything works on unit vectors (or great-circle steps), never on raw yaw numbers, so a path that
crosses the ±180° seam is smoothed and limited exactly like one that does not, and always the short
way round. A viewer feels camera speed, so the hard limit is on great-circle degrees per second; a
Gaussian pass sits between two limiting passes so pans start and stop softly while the limit still
holds exactly at the end.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pano.sphere.geometry import vec_to_yaw_pitch, wrap_yaw, yaw_pitch_to_vec


def frame_steps(times: np.ndarray, fps: float) -> np.ndarray:
    """Seconds between consecutive frames (first entry 0); non-increasing times fall back to 1/fps.

    Variable-frame-rate sources have uneven gaps, so speed limits use the real presentation times.
    """
    t = np.asarray(times, dtype=np.float64)
    dt = np.zeros(len(t))
    if len(t) > 1:
        d = np.diff(t)
        dt[1:] = np.where(np.isfinite(d) & (d > 0), d, 1.0 / fps)
    return dt


def hold_direction(
    yaw: np.ndarray,
    pitch: np.ndarray,
    confidence: np.ndarray,
    threshold: float,
    initial: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace low-confidence directions by the last confident one.

    Silence or a diffuse map gives a meaningless centroid; holding the last good direction keeps the
    camera still instead of wandering. Frames before the first confident one take ``initial`` when
    given (the state of a streaming planner), else the first confident direction, so the video opens
    on the first source. Returns ``(yaw, pitch, confident_mask)``.
    """
    yaw = np.asarray(yaw, dtype=np.float64)
    pitch = np.asarray(pitch, dtype=np.float64)
    ok = np.asarray(confidence, dtype=np.float64) >= threshold
    ok &= np.isfinite(yaw) & np.isfinite(pitch)
    n = len(yaw)
    if n == 0:
        return yaw.copy(), pitch.copy(), ok
    if not ok.any():
        y0, p0 = initial if initial is not None else (0.0, 0.0)
        return np.full(n, float(y0)), np.full(n, float(p0)), ok
    idx = np.where(ok, np.arange(n), -1)
    idx = np.maximum.accumulate(idx)
    first = int(np.argmax(ok))
    out_y = yaw[np.maximum(idx, first)]
    out_p = pitch[np.maximum(idx, first)]
    if initial is not None and first > 0:
        out_y[:first], out_p[:first] = initial
    return out_y.copy(), out_p.copy(), ok


def _segments(n: int, breaks: np.ndarray | None) -> list[tuple[int, int]]:
    """Half-open frame ranges between cuts; a break at i means frame i starts a new shot."""
    if breaks is None or len(breaks) == 0:
        return [(0, n)]
    b = sorted({int(i) for i in np.asarray(breaks).ravel() if 0 < int(i) < n})
    edges = [0, *b, n]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def smooth_vectors(vec: np.ndarray, sigma: float, breaks: np.ndarray | None = None) -> np.ndarray:
    """Gaussian smoothing (sigma in frames) of unit vectors (N, 3), renormalised; shots kept apart."""
    v = np.asarray(vec, dtype=np.float64)
    if sigma <= 0 or len(v) < 2:
        return v.copy()
    out = np.empty_like(v)
    for a, b in _segments(len(v), breaks):
        out[a:b] = gaussian_filter1d(v[a:b], sigma, axis=0, mode="nearest", truncate=3.0)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    # Antipodal averages (norm ~ 0) cannot happen with a speed-limited input; guard anyway.
    bad = norm[:, 0] < 1e-9
    out[bad] = v[bad]
    norm[bad] = 1.0
    return out / norm


def _step_towards(p: list[float], q: list[float], max_step: float) -> list[float]:
    """Move unit vector ``p`` towards ``q`` along the great circle by at most ``max_step`` radians."""
    dot = p[0] * q[0] + p[1] * q[1] + p[2] * q[2]
    cx = p[1] * q[2] - p[2] * q[1]
    cy = p[2] * q[0] - p[0] * q[2]
    cz = p[0] * q[1] - p[1] * q[0]
    sin_d = math.sqrt(cx * cx + cy * cy + cz * cz)
    d = math.atan2(sin_d, dot)
    if d <= max_step:
        return q
    if sin_d < 1e-12:  # antipodal: any great circle is shortest; turn in yaw (about z)
        axis = [0.0, 0.0, 1.0] if abs(p[2]) < 0.9 else [1.0, 0.0, 0.0]
        ax, ay, az = axis
        cx, cy, cz = ay * p[2] - az * p[1], az * p[0] - ax * p[2], ax * p[1] - ay * p[0]
        sin_d = math.sqrt(cx * cx + cy * cy + cz * cz)
    # Rotate p about the axis (p × q) by max_step: p·cos + (axis × p)·sin, axis ⟂ p.
    kx, ky, kz = cx / sin_d, cy / sin_d, cz / sin_d
    tx, ty, tz = ky * p[2] - kz * p[1], kz * p[0] - kx * p[2], kx * p[1] - ky * p[0]
    c, s = math.cos(max_step), math.sin(max_step)
    r = [p[0] * c + tx * s, p[1] * c + ty * s, p[2] * c + tz * s]
    n = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
    return [r[0] / n, r[1] / n, r[2] / n]


_FLOAT_ROWS = 4096  # rows converted to Python floats at a time by the sequential trackers


def limit_speed_vectors(
    vec: np.ndarray,
    max_step_deg: np.ndarray | float,
    start: np.ndarray | None = None,
    breaks: np.ndarray | None = None,
) -> np.ndarray:
    """Follow target unit vectors (N, 3) moving at most ``max_step_deg`` per frame (great circle).

    ``max_step_deg`` may be per frame (the step into frame i). ``start`` is the camera before frame 0
    (a streaming planner's last output); without it frame 0 starts on its target. A break at i lets
    frame i jump (a cut). Sequential by nature; plain-float arithmetic keeps 18,000 frames ~50 ms.
    """
    v = np.asarray(vec, dtype=np.float64).reshape(-1, 3)
    n = len(v)
    steps = np.broadcast_to(np.radians(np.asarray(max_step_deg, dtype=np.float64)), (n,))
    cuts = set() if breaks is None else {int(i) for i in np.asarray(breaks).ravel()}
    out = np.empty((n, 3), np.float64)
    prev = None if start is None else [float(x) for x in np.asarray(start, dtype=np.float64).ravel()]
    # A few thousand rows as Python floats at a time: the whole path as lists would hold ~300 bytes a
    # frame (60 MB for two hours) in Python's small-object heap, which keeps it after it is freed.
    for a in range(0, n, _FLOAT_ROWS):
        done = []
        for i, row in enumerate(v[a : a + _FLOAT_ROWS].tolist(), start=a):
            if prev is None or i in cuts:
                prev = row
            else:
                prev = _step_towards(prev, row, float(steps[i]))
            done.append(prev)
        out[a : a + len(done)] = done
    return out


def track_vectors(
    vec: np.ndarray,
    dt: np.ndarray,
    max_speed: float,
    max_accel: float,
    state: tuple | None = None,
    breaks: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple]:
    """Chase target unit vectors (N, 3) with bounded speed (deg/s) *and* acceleration (deg/s²).

    A pure speed limit starts and stops pans at full speed, which reads as a jolt; this tracker
    ramps up, cruises and brakes (speed ≤ √(2·a·distance)) so it lands on the target without
    overshoot. Velocity along a new heading keeps only its component along the old one, so a
    reversal brakes first. ``state`` is ``(position, speed, heading)`` from a previous call (streaming);
    a break at i jumps (a cut) and starts from rest. Returns ``(path, state)``.
    """
    v = np.asarray(vec, dtype=np.float64).reshape(-1, 3)
    n = len(v)
    dts = np.broadcast_to(np.asarray(dt, dtype=np.float64), (n,)).tolist()
    cuts = set() if breaks is None else {int(i) for i in np.asarray(breaks).ravel()}
    vmax, amax = math.radians(max_speed), math.radians(max_accel)
    pos, speed, head = (None, 0.0, None) if state is None else state
    pos = None if pos is None else [float(x) for x in pos]
    rows = v.tolist()
    out = []
    for i in range(n):
        q = rows[i]
        if pos is None or i in cuts:
            pos, speed, head = q, 0.0, None
            out.append(pos)
            continue
        p = pos
        dot = p[0] * q[0] + p[1] * q[1] + p[2] * q[2]
        tx, ty, tz = q[0] - dot * p[0], q[1] - dot * p[1], q[2] - dot * p[2]
        tn = math.sqrt(tx * tx + ty * ty + tz * tz)
        d = math.atan2(tn, dot)
        h = dts[i]
        if d < 1e-9 or tn < 1e-12 or h <= 0:
            speed = 0.0 if d < 1e-9 else speed
            out.append(p)
            continue
        t = (tx / tn, ty / tn, tz / tn)
        along = 0.0 if head is None else speed * max(0.0, head[0] * t[0] + head[1] * t[1] + head[2] * t[2])
        s = min(vmax, along + amax * h, math.sqrt(2.0 * amax * d))
        step = min(d, s * h)
        c, sn = math.cos(step), math.sin(step)
        r = [p[0] * c + t[0] * sn, p[1] * c + t[1] * sn, p[2] * c + t[2] * sn]
        nr = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
        pos = [r[0] / nr, r[1] / nr, r[2] / nr]
        # Heading at the new point: the tangent transported along the step.
        hx, hy, hz = -p[0] * sn + t[0] * c, -p[1] * sn + t[1] * c, -p[2] * sn + t[2] * c
        hn = math.sqrt(hx * hx + hy * hy + hz * hz) or 1.0
        head = (hx / hn, hy / hn, hz / hn)
        speed = step / h
        out.append(pos)
    return np.asarray(out, dtype=np.float64).reshape(n, 3), (pos, speed, head)


def onset_breaks(active: np.ndarray, min_run: int) -> np.ndarray:
    """Frames where activity resumes after at least ``min_run`` inactive frames.

    Smoothing is split there (the speed limit is not): a Gaussian across the onset would start the
    pan before anyone speaks, so the camera would drift during silence; split, it holds still and
    then eases into the pan from the first active frame.
    """
    a = np.asarray(active, dtype=bool)
    if len(a) < 2:
        return np.zeros(0, dtype=int)
    idx = np.arange(len(a))
    last_active = np.maximum.accumulate(np.where(a, idx, -1))
    starts = np.nonzero(a[1:] & ~a[:-1])[0] + 1
    idle_run = starts - 1 - last_active[starts - 1]
    return starts[idle_run >= max(1, min_run)].astype(int)


def calm_vectors(
    vec: np.ndarray,
    dt: np.ndarray,
    max_speed: float,
    sigma_frames: float,
    start: np.ndarray | None = None,
    breaks: np.ndarray | None = None,
    smooth_breaks: np.ndarray | None = None,
    max_accel: float | None = None,
) -> np.ndarray:
    """Limit → smooth → track: denoised, eased pans under a hard speed (and acceleration) limit.

    ``breaks`` are cuts (the camera may jump there); ``smooth_breaks`` only keep the Gaussian from
    reaching across (see :func:`onset_breaks`). Without ``max_accel`` the last pass is a plain
    speed limit.
    """
    step = max_speed * np.asarray(dt, dtype=np.float64)
    out = limit_speed_vectors(vec, step, start=start, breaks=breaks)
    sb = _merge(breaks, smooth_breaks)
    out = smooth_vectors(out, sigma_frames, breaks=sb)
    if max_accel:
        state = None if start is None else (start, 0.0, None)
        return track_vectors(out, dt, max_speed, max_accel, state=state, breaks=breaks)[0]
    return limit_speed_vectors(out, step, start=start, breaks=breaks)


def _merge(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    parts = [np.asarray(x, dtype=int).ravel() for x in (a, b) if x is not None]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=int)


def calm_path(
    yaw: np.ndarray,
    pitch: np.ndarray,
    times: np.ndarray,
    fps: float,
    max_speed: float,
    smooth_s: float,
    breaks: np.ndarray | None = None,
    active: np.ndarray | None = None,
    max_accel: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`calm_vectors` on yaw/pitch degrees; yaw comes back wrapped to [-180, 180).

    ``active`` (per frame) marks frames with a confident direction; smoothing does not reach from an
    onset back into the silence before it.
    """
    dt = frame_steps(times, fps)
    vec = yaw_pitch_to_vec(np.asarray(yaw, float), np.asarray(pitch, float)).reshape(-1, 3)
    sigma = smooth_s * fps
    sb = None if active is None else onset_breaks(active, int(np.ceil(3 * sigma)))
    out = calm_vectors(vec, dt, max_speed, sigma, breaks=breaks, smooth_breaks=sb, max_accel=max_accel)
    y, p = vec_to_yaw_pitch(out)
    return np.atleast_1d(wrap_yaw(y)).astype(np.float64), np.atleast_1d(p).astype(np.float64)


def path_speed(yaw: np.ndarray, pitch: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Great-circle speed (deg/s) into each frame; entry 0 is 0. For tests, plots and metrics."""
    v = yaw_pitch_to_vec(np.asarray(yaw, float), np.asarray(pitch, float)).reshape(-1, 3)
    t = np.asarray(times, dtype=np.float64)
    sp = np.zeros(len(v))
    if len(v) > 1:
        cross = np.linalg.norm(np.cross(v[:-1], v[1:]), axis=1)
        dot = np.sum(v[:-1] * v[1:], axis=1)
        ang = np.degrees(np.arctan2(cross, dot))
        dt = np.diff(t)
        sp[1:] = np.where(dt > 0, ang / np.where(dt > 0, dt, 1.0), np.where(ang > 0, np.inf, 0.0))
    return sp


class SmoothCamera:
    """The ``motion=smooth`` camera: streaming limit → smooth → limit (the older chain, which follows
    every wobble of the aim). Offline use is one ``push`` with every frame committed.

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
