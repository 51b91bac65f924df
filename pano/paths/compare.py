"""Compare a camera path with reference paths (human edits), using the 360°-cinematography metrics.

* Pano2Vid "HumanEdit" (Su, Jayaraman & Grauman, ACCV 2016): mean **cosine similarity** of the
  viewing directions and mean **overlap** (intersection over union of the two views' footprints on the
  sphere), per frame, averaged over frames.
* Deep 360 Pilot (Hu et al., CVPR 2017): mean overlap (same quantity) and mean **velocity
  difference**: the norm of the difference of the two cameras' angular velocities, here in deg/s in
  the local tangent plane (yaw rate × cos pitch, pitch rate), so the seam and the poles are harmless.
* **inside**: fraction of frames whose reference direction lies inside this path's view.

With several references each is scored on its own; ``mean`` averages them, and ``best`` takes, per
frame, the closest reference (Pano2Vid's frame-wise variant) before averaging over frames. Roll is
ignored (views are compared unrolled). Samples are matched by time (``t``), as the trajectory contract
says: each sample of the path meets the reference sample nearest in time, if that one is within half a
frame. Paths made for different videos (their ``source`` fps or duration differ, or their time spans
do) are refused unless ``force``: frame-by-frame numbers of two different clips mean nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from common.errors import InputError
from pano.paths.trajectory import Trajectory, nearest_samples
from pano.sphere.geometry import wrap_yaw

_SAMPLES = 24  # per axis: 24×24 solid-angle-weighted samples inside each view


@dataclass
class Scores:
    """Per-frame-averaged metrics of one path against one reference (or an aggregate)."""

    frames: int
    cosine: float
    overlap: float
    velocity_diff: float  # deg/s
    inside: float

    def as_dict(self) -> dict:
        return asdict(self)


def _basis(yaw: np.ndarray, pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward, left and up unit vectors (N, 3) of unrolled views; matches geometry.view_coordinates."""
    y, p = np.radians(np.asarray(yaw, float)), np.radians(np.asarray(pitch, float))
    cy, sy, cp, sp = np.cos(y), np.sin(y), np.cos(p), np.sin(p)
    fwd = np.stack([cy * cp, -sy * cp, sp], axis=-1)
    left = np.stack([sy, cy, np.zeros_like(y)], axis=-1)
    up = np.stack([-cy * sp, sy * sp, cp], axis=-1)
    return fwd, left, up


def view_solid_angle(hfov: np.ndarray | float, vfov: np.ndarray | float) -> np.ndarray | float:
    """Solid angle (steradians) of a rectilinear view: 4·asin(sin(h/2)·sin(v/2))."""
    return 4 * np.arcsin(np.sin(np.radians(hfov) / 2) * np.sin(np.radians(vfov) / 2))


def view_overlap(
    yaw_a: np.ndarray,
    pitch_a: np.ndarray,
    hfov_a: np.ndarray,
    vfov_a: np.ndarray,
    yaw_b: np.ndarray,
    pitch_b: np.ndarray,
    hfov_b: np.ndarray,
    vfov_b: np.ndarray,
    samples: int = _SAMPLES,
) -> np.ndarray:
    """Per-frame IoU of two views' footprints on the sphere (N,).

    The intersection is estimated by a grid of directions inside view A, each weighted by the solid
    angle it stands for (du·dv / (1+u²+v²)^{3/2} on the image plane), tested against view B; the
    areas themselves are exact. Cost is O(N·samples²), a few ms per thousand frames.
    """
    n = len(np.atleast_1d(yaw_a))
    arr = [np.broadcast_to(np.asarray(x, float), (n,)) for x in (hfov_a, vfov_a, hfov_b, vfov_b)]
    ha, va, hb, vb = arr
    s = (np.arange(samples) + 0.5) / samples * 2 - 1  # cell centres in [-1, 1]
    su, sv = np.meshgrid(s, s, indexing="ij")
    su, sv = su.ravel(), sv.ravel()
    fa, la, ua = _basis(yaw_a, pitch_a)
    fb, lb, ub = _basis(yaw_b, pitch_b)
    tbx, tby = np.tan(np.radians(hb) / 2), np.tan(np.radians(vb) / 2)
    out = np.empty(n)
    for a in range(0, n, 2048):  # chunks bound the (chunk × samples², 3) temporaries
        sl = slice(a, min(n, a + 2048))
        tx = np.tan(np.radians(ha[sl]) / 2)[:, None]
        ty = np.tan(np.radians(va[sl]) / 2)[:, None]
        u, v = su[None, :] * tx, sv[None, :] * ty  # u to the right, v up on the image plane
        w = (4 * tx * ty / len(su)) / (1 + u**2 + v**2) ** 1.5
        d = fa[sl, None, :] - u[..., None] * la[sl, None, :] + v[..., None] * ua[sl, None, :]
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        f = np.einsum("nsk,nk->ns", d, fb[sl])
        lft = np.einsum("nsk,nk->ns", d, lb[sl])
        upc = np.einsum("nsk,nk->ns", d, ub[sl])
        inside = (f > 1e-9) & (np.abs(lft) <= tbx[sl, None] * f) & (np.abs(upc) <= tby[sl, None] * f)
        inter = (w * inside).sum(axis=1)
        area_a = w.sum(axis=1)  # ≈ exact solid angle; using the same estimate keeps IoU(A, A) = 1
        area_b = view_solid_angle(hb[sl], vb[sl]) * area_a / view_solid_angle(ha[sl], va[sl])
        out[sl] = inter / np.maximum(area_a + area_b - inter, 1e-12)
    return np.clip(out, 0.0, 1.0)


def angular_velocity(yaw: np.ndarray, pitch: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, 2) tangent-plane angular velocity in deg/s: (shortest yaw rate × cos pitch, pitch rate).

    Entry i is the step into frame i (entry 0 repeats entry 1), so paths of equal length compare
    frame by frame.
    """
    yaw, pitch, t = (np.asarray(x, float) for x in (yaw, pitch, t))
    vel = np.zeros((len(yaw), 2))
    if len(yaw) > 1:
        dt = np.diff(t)
        dt = np.where(dt > 0, dt, np.nan)
        dyaw = wrap_yaw(np.diff(yaw))
        mid = np.radians(0.5 * (pitch[1:] + pitch[:-1]))
        vel[1:, 0] = dyaw * np.cos(mid) / dt
        vel[1:, 1] = np.diff(pitch) / dt
        vel[0] = vel[1]
    return np.nan_to_num(vel)


def _frame_step(traj: Trajectory) -> float:
    fps = float((traj.source or {}).get("fps") or 0)
    if fps > 0:
        return 1.0 / fps
    d = np.diff(np.sort(traj.t))
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 1 / 30


def _different_sources(traj: Trajectory, ref: Trajectory) -> str | None:
    """Why the two paths look made for different videos, or None."""
    a, b = traj.source or {}, ref.source or {}
    fa, fb = float(a.get("fps") or 0), float(b.get("fps") or 0)
    if fa > 0 and fb > 0 and abs(fa - fb) > 0.01 * max(fa, fb):
        return f"{fa:g} fps vs {fb:g} fps"
    tol = 2 * max(_frame_step(traj), _frame_step(ref)) + 0.05
    da, db = float(a.get("duration") or 0), float(b.get("duration") or 0)
    if da > 0 and db > 0 and abs(da - db) > tol:
        return f"videos of {da:.2f} s vs {db:.2f} s"
    return None


def _by_time(traj: Trajectory) -> Trajectory:
    order = np.argsort(traj.t, kind="stable")
    if np.all(order == np.arange(len(order))):
        return traj
    return Trajectory(t=traj.t[order], yaw=traj.yaw[order], pitch=traj.pitch[order], hfov=traj.hfov[order],
                      vfov=traj.vfov[order], roll=traj.roll[order], confidence=traj.confidence[order],
                      frame=traj.frame[order], source=traj.source, generator=traj.generator)


def _align(traj: Trajectory, ref: Trajectory, name: str, force: bool = False) -> tuple[np.ndarray, np.ndarray]:
    why = _different_sources(traj, ref)
    if why and not force:
        raise InputError(
            f"{name}: made for a different video than the trajectory ({why}); compare paths of the same "
            "video, or pass --force to compare them on the times they share"
        )
    idx, gap = nearest_samples(ref.t, traj.t)
    ok = gap <= 0.5 * min(_frame_step(traj), _frame_step(ref)) + 1e-6
    if not np.any(ok):
        raise InputError(
            f"{name}: has no frame at the trajectory's times (matched by t); compare paths of the same video"
        )
    return np.flatnonzero(ok), idx[ok]


def frame_metrics(traj: Trajectory, ref: Trajectory, name: str = "reference",
                  force: bool = False) -> dict[str, np.ndarray]:
    """Per-frame metric arrays on the times both paths have, plus the matched frame numbers."""
    traj, ref = _by_time(traj), _by_time(ref)
    ia, ib = _align(traj, ref, name, force)
    fa, _, _ = _basis(traj.yaw[ia], traj.pitch[ia])
    fb, _, _ = _basis(ref.yaw[ib], ref.pitch[ib])
    cosine = np.clip(np.sum(fa * fb, axis=1), -1.0, 1.0)
    overlap = view_overlap(
        traj.yaw[ia],
        traj.pitch[ia],
        traj.hfov[ia],
        traj.vfov[ia],
        ref.yaw[ib],
        ref.pitch[ib],
        ref.hfov[ib],
        ref.vfov[ib],
    )
    va = angular_velocity(traj.yaw, traj.pitch, traj.t)[ia]
    vb = angular_velocity(ref.yaw, ref.pitch, ref.t)[ib]
    vel = np.linalg.norm(va - vb, axis=1)
    # Reference direction inside this path's view (rectilinear footprint).
    f, lft, up = (np.sum(fb * x, axis=1) for x in _basis(traj.yaw[ia], traj.pitch[ia]))
    tx, ty = np.tan(np.radians(traj.hfov[ia]) / 2), np.tan(np.radians(traj.vfov[ia]) / 2)
    inside = (f > 1e-9) & (np.abs(lft) <= tx * f) & (np.abs(up) <= ty * f)
    return {
        "frame": traj.frame[ia],
        "cosine": cosine,
        "overlap": overlap,
        "velocity_diff": vel,
        "inside": inside.astype(float),
    }


def _mean(m: dict[str, np.ndarray]) -> Scores:
    return Scores(
        frames=len(m["cosine"]),
        cosine=float(np.mean(m["cosine"])),
        overlap=float(np.mean(m["overlap"])),
        velocity_diff=float(np.mean(m["velocity_diff"])),
        inside=float(np.mean(m["inside"])),
    )


def compare(traj: Trajectory, refs: list[Trajectory], names: list[str] | None = None, force: bool = False) -> dict:
    """Scores against each reference, their mean, and the frame-wise best reference.

    Returns ``{"references": [{"name", **Scores}], "mean": Scores-dict, "best": Scores-dict}``;
    ``best`` uses the frames every reference has (per frame: highest cosine, highest overlap, lowest
    velocity difference, inside any).
    """
    if not refs:
        raise InputError("compare needs at least one reference trajectory")
    names = names or [f"reference {i + 1}" for i in range(len(refs))]
    per = [frame_metrics(traj, r, n, force) for r, n in zip(refs, names, strict=True)]
    scores = [_mean(m) for m in per]
    mean = Scores(
        frames=int(np.mean([s.frames for s in scores])),
        **{
            k: float(np.mean([getattr(s, k) for s in scores]))
            for k in ("cosine", "overlap", "velocity_diff", "inside")
        },
    )
    common = per[0]["frame"]
    for m in per[1:]:
        common = np.intersect1d(common, m["frame"])
    picked = [{k: v[np.isin(m["frame"], common)] for k, v in m.items()} for m in per]
    best_m = {
        "cosine": np.max([p["cosine"] for p in picked], axis=0),
        "overlap": np.max([p["overlap"] for p in picked], axis=0),
        "velocity_diff": np.min([p["velocity_diff"] for p in picked], axis=0),
        "inside": np.max([p["inside"] for p in picked], axis=0),
    }
    best = _mean(best_m) if len(common) else Scores(0, float("nan"), float("nan"), float("nan"), float("nan"))
    return {
        "references": [{"name": n, **s.as_dict()} for n, s in zip(names, scores, strict=True)],
        "mean": mean.as_dict(),
        "best": best.as_dict(),
    }


def format_table(result: dict) -> str:
    """A plain-text table of :func:`compare`'s result, one row per reference plus mean and best."""
    rows = [(r["name"], r) for r in result["references"]]
    if len(rows) > 1:
        rows += [("mean", result["mean"]), ("best per frame", result["best"])]
    width = max(12, *(len(n) for n, _ in rows))
    head = (
        f"{'reference':<{width}}  {'frames':>6}  {'cosine':>7}  {'overlap':>7}  {'vel.diff°/s':>11}  "
        f"{'inside':>6}"
    )
    lines = [head, "-" * len(head)]
    for name, s in rows:
        lines.append(
            f"{name:<{width}}  {s['frames']:>6d}  {s['cosine']:>7.3f}  {s['overlap']:>7.3f}  "
            f"{s['velocity_diff']:>11.2f}  {s['inside']:>6.3f}"
        )
    return "\n".join(lines)
