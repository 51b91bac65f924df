"""Camera work on real FOA footage: is the source *framed*, not only in view? Per clip, against doing nothing.

For every FOA clip in DIR this plans the camera path exactly as pass 1 of ``pano-pan run`` does with
default options (``auto`` → the ``ambisonic`` localizer, the pipeline's own look at the picture for the
subject finder, the ``autocam`` planner, the default ``--fov-range``), or reads the trajectory of a real
``pano-pan run`` (``--via-run``), and scores it against the clip's reference direction:

* the reference: ``<clip>.truth.json`` where there is one (a path ``times``/``yaw``/``pitch``, or
  static ``sources``, any of which counts), else the FOA direction *per second* (the issue's "per-second
  source directions"): the medoid of the ``ambisonic`` map's peaks on the second's frames whose
  confidence is ≥ 0.5 (seconds with under a third of them are not scored). ``capt_f`` is the capture
  against every confident frame's own peak instead (as ``benchmarks/mono_real.py`` scores; an
  ensemble's peak hops between players frame by frame, so no camera path gets near 1 there);
* **capture**: fraction of scored frames with the reference inside the view (its own per-frame FOV);
* **central**: fraction with the reference inside the view's *central half*: within a quarter of the
  horizontal and a quarter of the vertical field of view of the centre (a rectilinear view of half the
  FOV in both axes, as ``tests/scenes.py`` scores the synthetic movers); ``central_mv`` the same on
  the moving frames only (below);
* **err**: mean angular distance (degrees) from the view centre to the reference;
* **head**: where the truth file gives the placed people's heads (``heads``: yaw, pitch, width,
  height), the fraction of frames with the sounding person's head (the one nearest the reference)
  whole in the view: its corners and edge midpoints inside (issue 21's "heads of close performers
  inside the frame");
* **ahead**: the worst degrees a pan ends *past* the source (along the pan, within 1 s after it
  ends; a pan: ≥ 0.2 s faster than the source + 8°/s, outside cuts; negative: it ends behind; the rule
  of ``tests/scenes.py``), on clips with a single reference path;
* **fov**: the median horizontal FOV of each shot (between cuts), distinct values in order;
* the same capture / central / err for the **front** view (yaw 0, pitch 0, 65.5°: the do-nothing baseline).

**Moving source.** A clip's source moves when its reference, between jumps (a change of more than 30°
between consecutive half-second medians: another source, not motion) and gaps (over 1 s unscored),
drifts steadily over a stretch of at least 3 s: a least-squares line through the half-second medians
travels more than 20° and explains at least 60% of their variance (an ensemble's wandering peak is no
motion); its frames in such stretches are the *moving frames*, and the clip counts as moving when
they are at least 20% of its scored frames. The
goals (issue 21) are capture ≥ 0.95 on every clip and central ≥ 0.85 on every moving clip.

    python benchmarks/camera_real.py DIR [DIR ...] [--clips c01,c06] [--planner-option two_shot=0] [--json out.json]
    python benchmarks/camera_real.py DIR --via-run          # real `pano-pan run`s (160×90), their trajectory JSON

Before/after: copy this file into another checkout's ``benchmarks/`` (it plans with the code of the tree
it sits in) and run it there, e.g. ``git worktree add /tmp/base main && cp benchmarks/camera_real.py
/tmp/base/benchmarks/``.

Real media is not in the repository (see the README, "Real footage to test on").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mono_real import MIN_CONFIDENCE, truth_reference  # noqa: E402

from pano.foa.scoring import track  # noqa: E402
from pano.localizers.base import create_localizer  # noqa: E402
from pano.localizers.batches import frame_batches  # noqa: E402
from pano.localizers.importance import batch_centroids  # noqa: E402
from pano.localizers.people import DETAIL_SIZE  # noqa: E402
from pano.localizers.subject import SubjectFinder  # noqa: E402
from pano.media.probe import probe  # noqa: E402
from pano.planning.base import Observation, create_planner  # noqa: E402
from pano.run.context import RunContext  # noqa: E402
from pano.sphere.geometry import angular_distance, in_view  # noqa: E402
from scenes import pan_ahead as scenes_pan_ahead  # noqa: E402

FRONT_HFOV = 65.5
FRONT_VFOV = 36.8  # the 16:9 view of 65.5° (the default geometry)
JUMP = 30.0  # degrees between half-second medians: another source
MOVE_SPAN = 20.0  # degrees the 1-s medians must span ...
MOVE_SECONDS = 3.0  # ... over a stretch at least this long between jumps
MOVE_R2 = 0.6  # ... along a line (a steady drift, not an ensemble's wandering peak)
GOAL_CAPTURE, GOAL_CENTRAL = 0.95, 0.85


def plan_default(info, planner_options: dict | None = None):
    """(localizer name, PlannedPath): pass 1 and the plan exactly as ``pano.pipeline._run`` with default
    ``RunOptions`` (the subject finder looks at the picture on every ``SUBJECT_EVERY``-th frame)."""
    from pano import pipeline

    opts = pipeline.RunOptions(planner_options=dict(planner_options or {}))
    ctx = pipeline.run_context(info, opts)
    name, _reason = pipeline.resolve_localizer(ctx, opts.localizer)
    source = create_localizer(name, ctx, None)
    planner = create_planner(opts.planner, ctx, opts.planner_options)
    times = info.frame_times()
    source.prepare(info)
    # Pass 1 as pano.pipeline runs it: the subject finder on SUBJECT_FRAME frames, person boxes from
    # DETAIL_SIZE frames every PEOPLE_EVERY seconds (or the localizer's own people).
    look = pipeline.SUBJECT_FRAME if getattr(planner, "wants_subjects", False) else None
    finder = (SubjectFinder(pipeline.SUBJECT_EVERY, faces=getattr(planner, "subject_faces", "off"),
                            bodies=getattr(planner, "subject_bodies", "hog"))
              if look is not None else None)
    detail = (DETAIL_SIZE, pipeline.PEOPLE_EVERY) if finder is not None and finder.track is not None else None
    for batch in frame_batches(info, source, times, frame_size=look, detail=detail,
                               look_every=pipeline.SUBJECT_EVERY):
        res = source.process(batch)
        yaw, pitch, resultant = batch_centroids(res.maps)
        conf = res.confidence * resultant
        boxes = None
        if finder is not None and (batch.frames is not None or batch.detail or batch.looks):
            boxes = finder.boxes(batch, res.people, yaw, pitch, conf)
        planner.observe(Observation(batch.times, res.maps, yaw, pitch, conf, subject=boxes))
    return name, planner.plan()


def path_via_run(clip: Path, tmp: Path, planner_options: dict) -> dict:
    """A real ``pano-pan run`` (small output, no saliency video) of ``clip``; its trajectory samples as arrays."""
    out = tmp / f"run-{clip.stem}"
    cmd = [sys.executable, "-m", "cli.main", "run", str(clip), "-o", str(out), "--no-saliency-video",
           "--size", "160x90", "-q"]
    for k, v in planner_options.items():
        cmd += ["--planner-option", f"{k}={v}"]
    subprocess.run(cmd, cwd=str(ROOT), check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    s = json.loads((out / f"{clip.stem}.trajectory.json").read_text())["samples"]
    return {k: np.array([x.get(k, d) for x in s], float) for k, d in
            (("yaw", 0), ("pitch", 0), ("hfov", FRONT_HFOV), ("vfov", FRONT_VFOV), ("cut", 0))}


def pan_ahead(ref_yaw: np.ndarray, yaw: np.ndarray, cut: np.ndarray, fps: float) -> float:
    """Worst signed degrees past the source within 1 s after each pan ends (module docstring); NaN: no pan.
    ``ref_yaw`` may be NaN on unscored frames. The synthetic scenes' rule (``tests/scenes.pan_ahead``), on
    the camera's yaw speed."""
    speed = np.r_[0.0, np.abs((np.diff(yaw) + 180.0) % 360.0 - 180.0) * fps]
    return scenes_pan_ahead(ref_yaw, yaw, speed, cut, fps)


def per_second_reference(yaw: np.ndarray, pitch: np.ndarray, keep: np.ndarray, fps: float):
    """The FOA reference per second, as the issue scored real footage: in each 1-s bin with confident peaks
    on at least a third of its frames, their medoid (the peak nearest, in sum of angles, to all the others:
    robust to a frame's jump to a reflection or another player, and to the ±180° seam); other bins are not
    scored. Returns per-frame (yaw, pitch, scored)."""
    n = len(yaw)
    k = max(1, int(round(fps)))
    ry, rp, ok = np.zeros(n), np.zeros(n), np.zeros(n, bool)
    for a in range(0, n, k):
        idx = np.flatnonzero(keep[a : a + k]) + a
        if len(idx) * 3 < min(k, n - a):
            continue
        d = np.asarray(angular_distance(yaw[idx, None], pitch[idx, None], yaw[None, idx], pitch[None, idx]))
        m = idx[int(np.argmin(d.sum(axis=1)))]
        ry[a : a + k], rp[a : a + k], ok[a : a + k] = yaw[m], pitch[m], True
    return ry, rp, ok


def moving_frames(ref_yaw: np.ndarray, ref_pitch: np.ndarray, scored: np.ndarray, fps: float) -> np.ndarray:
    """(N,) the frames in stretches where the reference moves (module docstring: *Moving source*)."""
    n = len(ref_yaw)
    half = max(1, int(round(0.5 * fps)))
    bins = []  # (first frame, end frame, median yaw, median pitch) of each half second with scored frames
    for a in range(0, n, half):
        k = np.flatnonzero(scored[a : a + half]) + a
        if len(k):
            y = np.degrees(np.unwrap(np.radians(ref_yaw[k])))
            bins.append((a, min(n, a + half), float(np.median(y)), float(np.median(ref_pitch[k]))))
    out = np.zeros(n, bool)
    if len(bins) < 2:
        return out
    by = np.array([b[2] for b in bins])
    bp = np.array([b[3] for b in bins])
    gap = np.array([bins[i + 1][0] - bins[i][1] for i in range(len(bins) - 1)]) > fps  # silence over 1 s
    jump = np.asarray(angular_distance(by[:-1], bp[:-1], by[1:], bp[1:])) > JUMP
    edges = [0, *list(np.flatnonzero(jump | gap) + 1), len(bins)]
    for s, e in zip(edges[:-1], edges[1:], strict=False):
        if (e - s) * half / fps < MOVE_SECONDS:
            continue
        t = np.array([b[0] for b in bins[s:e]]) / fps
        y = by[s] + (by[s:e] - by[s] + 180.0) % 360.0 - 180.0
        y = np.degrees(np.unwrap(np.radians(y)))
        p = bp[s:e]
        tc = t - t.mean()
        fit = [np.sum(tc * (v - v.mean())) / np.sum(tc * tc) for v in (y, p)]  # deg/s in yaw, pitch
        res = np.sum((y - y.mean() - fit[0] * tc) ** 2) + np.sum((p - p.mean() - fit[1] * tc) ** 2)
        tot = np.sum((y - y.mean()) ** 2) + np.sum((p - p.mean()) ** 2)
        travel = float(np.hypot(fit[0] * np.cos(np.radians(p.mean())), fit[1]) * np.ptp(t))
        if travel > MOVE_SPAN and tot > 0 and 1.0 - res / tot >= MOVE_R2:
            out[bins[s][0] : bins[e - 1][1]] = True
    return out & scored


def scores(refs: list, keep: np.ndarray, yaw, pitch, hfov, vfov) -> dict:
    """capture, central, err of a path (per-frame arrays) against the references on frames ``keep``."""
    n = len(keep)
    hit, mid, err = np.zeros(n, bool), np.zeros(n, bool), np.full(n, np.inf)
    y, p, h, v = yaw[keep], pitch[keep], hfov[keep], vfov[keep]
    for ry, rp in refs:
        hit |= np.asarray(in_view(ry[keep], rp[keep], y, p, h, v), bool)
        mid |= np.asarray(in_view(ry[keep], rp[keep], y, p, h / 2, v / 2), bool)
        err = np.minimum(err, np.asarray(angular_distance(ry[keep], rp[keep], y, p), float))
    nan = float("nan")
    return {"capture": float(hit.mean()) if n else nan, "central": float(mid.mean()) if n else nan,
            "err": float(err.mean()) if n else nan, "_mid": mid}


def truth_heads(clip: Path) -> np.ndarray | None:
    """(n, 4) heads of the truth file (yaw, pitch, width, height in degrees; ``benchmarks/real_set.py``
    marks them), or None."""
    tf = clip.with_name(clip.stem + ".truth.json")
    heads = json.loads(tf.read_text()).get("heads") if tf.exists() else None
    return np.asarray(heads, float).reshape(-1, 4) if heads else None


def head_in_frame(heads: np.ndarray, ref: tuple, keep: np.ndarray, yaw, pitch, hfov, vfov) -> float:
    """Fraction of frames ``keep`` whose sounding person's head is whole in the view: of the truth's
    heads, the one nearest the frame's reference direction; its corners and edge midpoints all inside
    (issue 21: "heads of close performers inside the frame")."""
    ry, rp = ref[0][keep], ref[1][keep]
    d = np.stack([angular_distance(ry, rp, h[0], h[1]) for h in heads])  # (heads, frames)
    head = heads[np.argmin(d, axis=0)]
    whole = np.ones(len(keep), bool)
    for fy in (-0.5, 0.0, 0.5):
        for fp in (-0.5, 0.0, 0.5):
            py = head[:, 0] + fy * head[:, 2]
            pp = head[:, 1] + fp * head[:, 3]
            whole &= np.asarray(in_view(py, pp, yaw[keep], pitch[keep], hfov[keep], vfov[keep]), bool)
    return float(whole.mean()) if len(keep) else float("nan")


def bench_clip(clip: Path, planner_options: dict, via_run: bool, tmp: Path) -> dict:
    info = probe(clip)
    if not info.is_foa:
        raise SystemExit(f"{clip}: not FOA ({info.audio_channels} audio channels); camera_real needs FOA clips "
                         "(4-channel AmbiX)")
    fps = float(info.fps)
    times = info.frame_times()
    t0 = time.perf_counter()
    if via_run:
        got = path_via_run(clip, tmp, planner_options)
        used = "run"
    else:
        used, path = plan_default(info, planner_options)
        m = len(path.yaw)
        got = {"yaw": path.yaw, "pitch": path.pitch,
               "hfov": path.hfov if path.hfov is not None else np.full(m, FRONT_HFOV),
               "vfov": path.vfov if path.vfov is not None else np.full(m, FRONT_VFOV),
               "cut": path.cut if path.cut is not None else np.zeros(m)}
    took = time.perf_counter() - t0
    n = min(len(times), len(got["yaw"]))
    refs = truth_reference(clip, times[:n])
    if refs is None:
        ref = track(info, "ambisonic", RunContext.for_media(info))
        n = min(n, len(ref.yaw))
        frame_keep = ref.confidence[:n] >= MIN_CONFIDENCE
        frame_refs = [(ref.yaw[:n], ref.pitch[:n])]
        sy, sp_, keep = per_second_reference(ref.yaw[:n], ref.pitch[:n], frame_keep, fps)
        refs = [(sy, sp_)]
        kind = "foa"
    else:
        keep = np.ones(n, bool)
        frame_keep, frame_refs = keep, refs
        kind = "truth"
    yaw, pitch = got["yaw"][:n], got["pitch"][:n]
    hfov, vfov, cut = got["hfov"][:n], got["vfov"][:n], got["cut"][:n].astype(bool)
    single = len(refs) == 1
    ry = np.where(keep, refs[0][0], np.nan) if single else np.full(n, np.nan)
    moving = moving_frames(refs[0][0], refs[0][1], keep, fps) if single else np.zeros(n, bool)
    idx = np.flatnonzero(keep)
    cam = scores(refs, idx, yaw, pitch, hfov, vfov)
    front = scores(refs, idx, np.zeros(n), np.zeros(n), np.full(n, FRONT_HFOV), np.full(n, FRONT_VFOV))
    mid = cam.pop("_mid")
    fk = np.flatnonzero(frame_keep)
    capt_f = scores(frame_refs, fk, yaw, pitch, hfov, vfov)["capture"]
    front.pop("_mid")
    heads = truth_heads(clip) if kind == "truth" and single else None
    head = head_in_frame(heads, refs[0], idx, yaw, pitch, hfov, vfov) if heads is not None else float("nan")
    front_head = (head_in_frame(heads, refs[0], idx, np.zeros(n), np.zeros(n), np.full(n, FRONT_HFOV),
                                np.full(n, FRONT_VFOV)) if heads is not None else float("nan"))
    mv = moving[idx]
    starts = np.r_[0, np.flatnonzero(cut), n]
    shots = [float(np.median(hfov[a:b])) for a, b in zip(starts[:-1], starts[1:], strict=False) if b > a]
    return {
        "clip": clip.name, "ref": kind, "seconds": n / fps, "frames": int(len(idx)), "localizer": used,
        "moving": bool(mv.mean() >= 0.2) if len(mv) else False, "moving_frac": float(mv.mean()) if len(mv) else 0.0,
        **cam, "capt_f": capt_f, "central_mv": float(mid[mv].mean()) if mv.any() else float("nan"),
        "ahead": pan_ahead(ry, yaw, cut, fps) if single else float("nan"),
        "head": head, "front_head": front_head,
        "cuts": int(cut.sum()), "fov": "/".join(f"{v:.0f}" for v in dict.fromkeys(round(v) for v in shots)),
        "front_capture": front["capture"], "front_central": front["central"], "front_err": front["err"],
        "plan_seconds": took,
    }


COLUMNS = [("capture", "capt", ".3f"), ("capt_f", "capt_f", ".3f"), ("central", "cent", ".3f"),
           ("central_mv", "cent_mv", ".3f"),
           ("err", "err", ".1f"), ("head", "head", ".3f"),
           ("ahead", "ahead", ".1f"), ("cuts", "cuts", "d"), ("front_capture", "f.capt", ".3f"),
           ("front_central", "f.cent", ".3f"), ("front_err", "f.err", ".1f"),
           ("front_head", "f.head", ".3f")]


def format_table(rows: list[dict]) -> str:
    width = max([6, *(len(r["clip"]) for r in rows)]) + 2
    head = f"{'clip':{width}s}{'ref':>6s}{'secs':>6s}{'mv':>5s}" + "".join(f"{h:>8s}" for _, h, _ in COLUMNS)
    lines = [head]
    for r in rows:
        cells = "".join(f"{format(r[k], f):>8s}" if r[k] == r[k] else f"{'-':>8s}" for k, _, f in COLUMNS)
        flag = []
        if r["capture"] < GOAL_CAPTURE:
            flag.append("capture")
        if r["moving"] and r["central"] < GOAL_CENTRAL:
            flag.append("central")
        lines.append(f"{r['clip']:{width}s}{r['ref']:>6s}{r['seconds']:>6.0f}{'yes' if r['moving'] else '':>5s}{cells}"
                     f"  fov {r['fov']}" + (f"  MISSES {','.join(flag)}" if flag else ""))
    mean = {k: float(np.nanmean([r[k] for r in rows])) for k, _, _ in COLUMNS if k != "cuts"}
    lines.append(f"{'mean':{width}s}{'':>17s}" + "".join(
        f"{format(mean[k], f):>8s}" if k in mean and mean[k] == mean[k] else f"{'':>8s}" for k, _, f in COLUMNS))
    mv = [r for r in rows if r["moving"]]
    if mv:
        lines.append(f"{'mean mv':{width}s}{'':>17s}" + "".join(
            f"{format(float(np.nanmean([r[k] for r in mv])), f):>8s}" if k != "cuts" else f"{'':>8s}"
            for k, _, f in COLUMNS))
    lines.append("capt/cent: reference in the view / in its central half (¼ FOV each side of the centre, both axes); "
                 "cent_mv: central on the moving frames; err: mean degrees from the view centre; ahead: worst degrees "
                 "a pan ends past the source; f.*: the fixed front view (65.5°); mv: the source moves (a steady "
                 "drift over 20° in ≥ 3 s between jumps, on ≥ 20% of the scored frames); capt_f: capture against "
                 "each frame's own FOA peak; head: the sounding person's head whole in the view (truth files "
                 "with heads, benchmarks/real_set.py)")
    lines.append(f"goals: capture ≥ {GOAL_CAPTURE} on every clip, central ≥ {GOAL_CENTRAL} on every moving clip; "
                 f"clips missing one: {sum('MISSES' in x for x in lines[1:len(rows) + 1])}")
    return "\n".join(lines)


def parse_options(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--planner-option {item!r}: write KEY=VALUE, e.g. two_shot=0")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", type=Path, nargs="+", help="folders of FOA clips (and their .truth.json files)")
    ap.add_argument("--clips", default=None, help="comma-separated name prefixes to run (default all)")
    ap.add_argument("--planner-option", action="append", default=[], help="KEY=VALUE for autocam, e.g. two_shot=0")
    ap.add_argument("--via-run", action="store_true", help="score real `pano-pan run` trajectories instead")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    clips = []
    for d in args.dirs:
        if not d.is_dir():
            raise SystemExit(f"{d}: not a folder; give folders of FOA clips such as /work/media/foa_clips")
        clips += sorted(p for p in d.glob("*.mp4") if not p.name.endswith((".nfov.mp4", ".saliency.mp4", ".part.mp4")))
    if args.clips:
        clips = [c for c in clips if c.name.startswith(tuple(args.clips.split(",")))]
    if not clips:
        raise SystemExit("no clips found (*.mp4 in the folders given, --clips prefixes)")
    opts = parse_options(args.planner_option)
    rows = []
    with tempfile.TemporaryDirectory(prefix="camera-real-") as tmp:
        for clip in clips:
            row = bench_clip(clip, opts, args.via_run, Path(tmp))
            rows.append(row)
            print(f"{clip.name}: capture {row['capture']:.3f} central {row['central']:.3f} err {row['err']:.1f} "
                  f"(front {row['front_capture']:.3f}) planned in {row['plan_seconds']:.0f} s", file=sys.stderr,
                  flush=True)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
