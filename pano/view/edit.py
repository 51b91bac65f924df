"""Keyframes over the automatic path: re-planned under the planner's own speed and acceleration limits.

A keyframe pins the view (direction and field of view) at its time for ``hold`` seconds. Between pins
the camera follows the automatic path; leaving a pin it is the planner's tracker (bounded speed and
acceleration, :func:`pano.planning.smoothing.track_vectors`) chasing the path forward from the
keyframe, and arriving at the next pin it is the same tracker run backwards from that keyframe, so the
camera reaches the keyframe exactly at its time. The two are cross-faded over the gap. Where a pin is
too far from the path to be reached in time at the planner's top speed, the path cuts to it instead,
as the autocam planner does with ``cuts`` (the jump is marked ``"cut": true``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import OptionError
from pano.paths.trajectory import Trajectory
from pano.planning.base import MAX_ACCEL, MAX_SPEED
from pano.planning.smoothing import frame_steps, path_speed, track_vectors
from pano.sphere.geometry import vec_to_yaw_pitch, wrap_yaw, yaw_pitch_to_vec

DEFAULT_HOLD = 2.0  # seconds a keyframe's view is held before the automatic path resumes
ZOOM_EASE = 1.0  # seconds over which the field of view eases between a keyframe and the path
SPEED_SLACK = 1.05  # a cross-fade may exceed the tracker's speed by this much before it counts as too fast


@dataclass
class Keyframe:
    t: float
    yaw: float
    pitch: float
    hfov: float
    hold: float = DEFAULT_HOLD

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Keyframe:
        try:
            k = cls(t=float(d["t"]), yaw=float(d["yaw"]), pitch=float(d["pitch"]), hfov=float(d["hfov"]),
                    hold=float(d.get("hold", DEFAULT_HOLD)))
        except (KeyError, TypeError, ValueError) as exc:
            raise OptionError(f"keyframe {d!r}: needs numeric t, yaw, pitch and hfov ({exc})") from None
        if not all(math.isfinite(v) for v in (k.t, k.yaw, k.pitch, k.hfov, k.hold)):
            raise OptionError(f"keyframe {d!r}: values must be finite")
        if not (1.0 <= k.hfov <= 170.0) or not (-90.0 <= k.pitch <= 90.0) or not (0.0 <= k.hold <= 3600.0):
            raise OptionError(f"keyframe {d!r}: hfov must be 1–170°, pitch −90–90°, hold 0–3600 s")
        k.yaw = float(wrap_yaw(k.yaw))
        return k

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


@dataclass
class Limits:
    """The camera's limits, read from the planner parameters recorded in the trajectory."""

    max_speed: float = MAX_SPEED  # deg/s
    max_accel: float = MAX_ACCEL  # deg/s²; 0 = a plain speed limit

    @classmethod
    def of(cls, traj: Trajectory) -> Limits:
        planner = ((traj.generator or {}).get("params") or {}).get("planner") or {}
        out = cls()
        for key in ("max_speed", "max_accel"):
            value = planner.get(key) if isinstance(planner, dict) else None
            if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
                setattr(out, key, float(value))
        out.max_speed = out.max_speed or MAX_SPEED
        return out


@dataclass
class EditedPath:
    yaw: np.ndarray
    pitch: np.ndarray
    hfov: np.ndarray
    vfov: np.ndarray
    cut: np.ndarray  # bool per frame: the view jumps into this frame
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "yaw": np.round(self.yaw, 3).tolist(),
            "pitch": np.round(self.pitch, 3).tolist(),
            "hfov": np.round(self.hfov, 3).tolist(),
            "vfov": np.round(self.vfov, 3).tolist(),
            "cuts": np.nonzero(self.cut)[0].tolist(),
            "notes": self.notes,
        }


def trajectory_cuts(traj: Trajectory) -> np.ndarray:
    """Bool per frame from the optional per-sample ``"cut": true`` (first frame of a new shot)."""
    return np.asarray(traj.cut, dtype=bool).reshape(len(traj)).copy()


def travel_time(angle: float, limits: Limits) -> float:
    """Shortest time (s) to turn ``angle`` degrees from rest to rest under the speed/accel limits."""
    v, a = limits.max_speed, limits.max_accel
    if angle <= 0:
        return 0.0
    if not a:
        return angle / v
    if angle <= v * v / a:
        return 2.0 * math.sqrt(angle / a)
    return angle / v + v / a


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _track(start: np.ndarray, targets: np.ndarray, dt: np.ndarray, limits: Limits, cuts: np.ndarray) -> np.ndarray:
    """The planner's tracker from ``start`` chasing ``targets`` (which may jump at ``cuts``)."""
    breaks = np.nonzero(cuts)[0]
    path, _ = track_vectors(targets, dt, limits.max_speed, limits.max_accel or 1e9,
                            state=(start, 0.0, None), breaks=breaks)
    return path


def apply_keyframes(base: Trajectory, keyframes: list[Keyframe], limits: Limits | None = None) -> EditedPath:
    """The automatic path with ``keyframes`` pinned; see the module docstring."""
    limits = limits or Limits.of(base)
    n = len(base)
    t = np.asarray(base.t, dtype=np.float64)
    auto = yaw_pitch_to_vec(base.yaw, base.pitch).reshape(n, 3)
    vec = auto.copy()
    hfov = np.asarray(base.hfov, dtype=np.float64).copy()
    ratio = np.tan(np.radians(base.vfov) / 2) / np.tan(np.radians(base.hfov) / 2)  # keeps each frame's aspect
    cut = trajectory_cuts(base)
    notes: list[str] = []
    if not keyframes or n == 0:
        return EditedPath(base.yaw.copy(), base.pitch.copy(), hfov, base.vfov.copy(), cut, notes)
    dt = frame_steps(t, float((base.source or {}).get("fps") or 30.0))

    # Pins: frame ranges [start, stop) held at a keyframe; a later keyframe on the same frame wins.
    pins: dict[int, Keyframe] = {}
    for k in sorted(keyframes, key=lambda k: k.t):
        pins[int(np.clip(np.searchsorted(t, k.t - 1e-6), 0, n - 1))] = k
    starts = sorted(pins)
    spans = []
    for j, s in enumerate(starts):
        k = pins[s]
        stop = int(np.searchsorted(t, t[s] + k.hold + 1e-6, side="right"))
        stop = max(s + 1, min(stop, starts[j + 1] if j + 1 < len(starts) else n))
        spans.append((s, stop, k))
        vec[s:stop] = yaw_pitch_to_vec(k.yaw, k.pitch)
        hfov[s:stop] = k.hfov
        cut[s + 1 : stop] = False

    # Gaps [a, b) before the first pin, between pins and after the last: (a, left keyframe, b, right keyframe).
    gaps = [(0, None, spans[0][0], spans[0][2])]
    gaps += [(stop, k, *(spans[j + 1][::2] if j + 1 < len(spans) else (n, None))) for j, (_s, stop, k) in
             enumerate(spans)]
    for a, left, b, right in gaps:
        fwd = auto[a:b]
        if left is not None and b > a:
            fwd = _track(yaw_pitch_to_vec(left.yaw, left.pitch), auto[a:b], dt[a:b], limits, _inner_cuts(cut[a:b]))
        bwd = None
        if right is not None and b > 0:
            k_vec = yaw_pitch_to_vec(right.yaw, right.pitch)
            before = fwd[-1] if b > a else vec[a - 1]
            angle = math.degrees(math.acos(float(np.clip(np.dot(before, k_vec), -1.0, 1.0))))
            span = float(t[b] - t[a - 1 if left is not None else a]) if b > a or left is not None else 0.0
            if b > a and travel_time(angle, limits) <= span + 1e-6:
                # The tracker run backwards in time from the keyframe: it arrives exactly at t[b].
                rev_dt = np.diff(t[a : b + 1])[::-1]
                idx = np.nonzero(_inner_cuts(cut[a:b]))[0]
                rev_cuts = np.zeros(b - a, dtype=bool)
                rev_cuts[(b - a) - idx] = True  # a forward cut into i is a backward cut into (len - i)
                bwd = _track(k_vec, auto[a:b][::-1], rev_dt, limits, rev_cuts)[::-1]
            elif angle > 1e-3:
                cut[b] = True
                notes.append(f"keyframe at {right.t:.2f} s is {angle:.0f}° from the path, too far to pan in "
                             f"{span:.2f} s at {limits.max_speed:g}°/s: the view cuts there")
        if b <= a:
            continue
        seg_t = t[a:b]
        if bwd is None:
            mix = fwd
        elif left is None:
            mix = bwd
        else:
            w = _smoothstep((seg_t - seg_t[0]) / max(float(t[b] - seg_t[0]), 1e-9))[:, None]
            mix = (1.0 - w) * fwd + w * bwd
            mix = mix / np.maximum(np.linalg.norm(mix, axis=1, keepdims=True), 1e-12)
        vec[a:b] = mix
        hfov[a:b] = _ease_hfov(seg_t, hfov[a:b], left, right, t[b] if b < n else None)
    yaw, pitch = vec_to_yaw_pitch(vec)
    yaw = np.atleast_1d(wrap_yaw(yaw)).astype(np.float64)
    pitch = np.atleast_1d(pitch).astype(np.float64)
    vfov = np.degrees(2 * np.arctan(np.tan(np.radians(hfov) / 2) * ratio))
    speed = path_speed(yaw, pitch, t)
    fast = (speed > limits.max_speed * SPEED_SLACK + 1e-6) & ~cut
    if fast.any():
        notes.append(f"{int(fast.sum())} frame(s) turn faster than {limits.max_speed:g}°/s "
                     f"(up to {speed[fast].max():.0f}°/s): keyframes are close together")
    return EditedPath(yaw, pitch, hfov, vfov, cut, notes)


def _inner_cuts(cuts: np.ndarray) -> np.ndarray:
    """Cuts inside a gap; one into the gap's first frame is replaced by the tracker's departure."""
    c = np.asarray(cuts, dtype=bool).copy()
    c[:1] = False
    return c


def _ease_hfov(seg_t: np.ndarray, auto: np.ndarray, left: Keyframe | None, right: Keyframe | None,
               t_right: float | None) -> np.ndarray:
    out = auto.copy()
    if left is not None:
        w = _smoothstep((seg_t - seg_t[0]) / ZOOM_EASE)
        out = (1 - w) * left.hfov + w * out
    if right is not None and t_right is not None:
        w = _smoothstep((t_right - seg_t) / ZOOM_EASE)
        out = (1 - w) * right.hfov + w * out
    return out


def edited_trajectory(base: Trajectory, keyframes: list[Keyframe], path: EditedPath, base_name: str) -> Trajectory:
    """A copy of ``base`` on the edited path: unknown keys kept, cuts re-marked, keyframes recorded."""
    extras = [dict(e) for e in base.sample_extra] if base.sample_extra else [{} for _ in range(len(base))]
    for i, e in enumerate(extras):
        e.pop("cut", None)
        if path.cut[i]:
            e["cut"] = True
    generator = dict(base.generator or {})
    params = dict(generator.get("params") or {})
    params["keyframes"] = [k.to_dict() for k in sorted(keyframes, key=lambda k: k.t)]
    params["edited_from"] = base_name
    params["edit_limits"] = asdict(Limits.of(base))
    generator["params"] = params
    # Cuts travel as the per-sample key "cut"; a Trajectory that models them as its own field (issue 10)
    # gets them there too, since it then writes the key from that field.
    own_cut = {"cut": path.cut.copy()} if "cut" in {f.name for f in dataclasses.fields(Trajectory)} else {}
    return Trajectory(
        t=base.t.copy(), yaw=path.yaw, pitch=path.pitch, hfov=path.hfov, vfov=path.vfov, roll=base.roll.copy(),
        confidence=base.confidence.copy(), frame=base.frame.copy(), source=dict(base.source),
        generator=generator, extra=dict(base.extra), sample_extra=extras if any(extras) else None, **own_cut,
    )


def recorded_keyframes(traj: Trajectory) -> list[Keyframe]:
    """Keyframes an earlier ``pano-pan view`` Save recorded in ``generator.params``."""
    raw = ((traj.generator or {}).get("params") or {}).get("keyframes") or []
    return [Keyframe.from_dict(k) for k in raw if isinstance(k, dict)]


def save_edit(base: Trajectory, keyframes: list[Keyframe], target: Path, base_name: str) -> Path:
    path = apply_keyframes(base, keyframes)
    return edited_trajectory(base, keyframes, path, base_name).save(target)
