"""Does the camera move like an operator? A fixed suite of ≥ 60 s scenes, scored per scene.

Scenes (``tests/scenes.py``): a sustained engine circling, stopping and circling back across the seam;
a sustained chord at a fixed place; a static talker dry and in simulated rooms (pyroomacoustics,
RT60 0.4 s and 1.0 s); two talkers taking turns at 60° and 150°; two sources at once (40° apart: frame
both; 120° apart: stay with the louder); a silent gap before a talker at a new place. Each runs
through ``pano-pan run`` with default options (``--no-saliency-video``, a small output), and the
trajectory JSON is scored: capture (every target in view while it sounds), mean speed while the targets
are still, p95 angular acceleration outside cuts, cuts and the shortest shot, time to frame a new
source.

Issue 21 adds scenes for moving sources (one source sweeping 60° in 8 s, a slow mover after a
talker, a fast mover) and for subjects in the picture (a tall figure whose sound comes from its middle,
a subject nearer than 65.5° can hold, a sound 20° below its subject), scored also on the central-half
fraction while the source moves, how far a pan ends ahead of its source, the subject's box in view,
headroom and the field of view of each shot (goals: central ≥ 0.9, no pan ends > 10° ahead, the whole
subject in view on ≥ 90% of frames where it fits).

Goals (issue 10), with default options: capture ≥ 0.95 on every scene; mean speed ≤ 0.5°/s while a
source is still; p95 acceleration ≤ 30°/s² outside cuts; no shot shorter than 1.5 s.

    python benchmarks/cinematography.py                      # this tree
    python benchmarks/cinematography.py --before /tmp/base   # also a checkout of the old code, side by side
    python benchmarks/cinematography.py --only 3,7           # some scenes (1-based)
    python benchmarks/cinematography.py --speed              # the motion layer on 10 and 60 minutes

``--speed`` times the L1 motion layer against the smoothing chain it replaced (baseline, same process)
on synthetic aims (a talker that stands, walks, stops, with wobble), and its peak memory
(tracemalloc) on 10 vs 60 minutes: both must stay O(frames).

``--before DIR``: e.g. ``mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base``.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from scenes import MOVING, SUBJECTS, SUITE, score  # noqa: E402

GOALS = {"capture": (">=", 0.95), "still_speed": ("<=", 0.5), "p95_accel": ("<=", 30.0), "min_shot": (">=", 1.5)}
# Issue 21's goals for the moving-source and subject scenes.
FRAMING_GOALS = {"central": (">=", 0.9), "pan_ahead": ("<=", 10.0), "whole": (">=", 0.9)}


def run_tree(tree: Path, clip: Path, outdir: Path, extra: list[str]) -> tuple[dict, float]:
    """``pano-pan run`` with the code of ``tree``; returns the trajectory JSON and the wall time."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "cli.main", "run", str(clip), "-o", str(outdir), "--no-saliency-video",
           "--size", "160x90", "-q", *extra]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=str(tree), check=True)
    took = time.perf_counter() - start
    return json.loads((outdir / f"{clip.stem}.trajectory.json").read_text()), took


def scored(scene, traj: dict) -> dict:
    import numpy as np

    s = traj["samples"]
    yaw = np.array([x["yaw"] for x in s])
    pitch = np.array([x["pitch"] for x in s])
    cut = np.array([bool(x.get("cut")) for x in s])
    hfov = np.array([x["hfov"] for x in s])
    out = score(scene, yaw, pitch, hfov, np.array([x["vfov"] for x in s]), cut)
    starts = np.r_[0, np.nonzero(cut)[0], len(s)]
    shots = [float(np.median(hfov[a:b])) for a, b in zip(starts[:-1], starts[1:], strict=False) if b > a]
    out["fov"] = "/".join(f"{v:.0f}" for v in dict.fromkeys(round(v) for v in shots))  # distinct, in order
    out["fov_range"] = f"{hfov.min():.0f}-{hfov.max():.0f}"
    return out


def fmt_framing(metrics: dict) -> str:
    def f(key: str, spec: str) -> str:
        v = metrics[key]
        return format(v, spec) if v == v else format("-", spec.split(".")[0].rstrip("f") + "s")

    return (f"{f('capture', '5.2f')} {f('central', '5.2f')} {f('pan_ahead', '6.1f')} {f('subject_in', '5.2f')} "
            f"{f('whole', '5.2f')} {f('headroom', '5.1f')} {f('still_speed', '5.2f')} {metrics['fov']:>9s}")


def fmt(metrics: dict) -> str:
    return (f"{metrics['capture']:5.2f} {metrics['still_speed']:6.2f} {metrics['p95_accel']:6.1f} "
            f"{metrics['cuts']:3d} {metrics['min_shot']:5.1f} {metrics['time_to_frame']:5.2f}")


def misses(metrics: dict, goals: dict = GOALS) -> list[str]:
    out = []
    for key, (op, goal) in goals.items():
        v = metrics[key]
        if v != v:  # nan: no still frames in this scene
            continue
        if (op == ">=" and v < goal) or (op == "<=" and v > goal):
            out.append(key)
    return out


def speed() -> None:
    """Motion layer vs the old smoothing chain on long synthetic aims: time and peak memory."""
    import tracemalloc

    import numpy as np

    from pano.planning.motion import MotionStyle, ShotCamera
    from pano.planning.smoothing import SmoothCamera, frame_steps
    from pano.sphere.geometry import yaw_pitch_to_vec

    fps = 30.0
    for minutes in (10, 60):
        n = int(minutes * 60 * fps)
        t = np.arange(n) / fps
        rng = np.random.default_rng(0)
        phase = (t % 60.0) / 60.0  # per minute: stands 40 s, walks 10 s at 12°/s, stands again
        walk = np.clip((phase - 40 / 60) * 60.0, 0.0, 10.0) * 12.0
        yaw = (t // 60.0) * 120.0 + walk + 3.0 * rng.standard_normal(n)
        pitch = 2.0 * rng.standard_normal(n)
        vec = yaw_pitch_to_vec(yaw, pitch)
        dt = frame_steps(t, fps)
        none = np.zeros(0, int)
        start = time.perf_counter()
        SmoothCamera(0.4 * fps, 60.0, 120.0).push(vec, dt, n, none, none)
        base = time.perf_counter() - start
        tracemalloc.start()
        start = time.perf_counter()
        ShotCamera(fps, 65.5, 36.8, 60.0, 120.0, MotionStyle()).push(vec, dt, n, none, none)
        took = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{minutes:3d} min at 30 fps: smoothing chain {base:6.2f} s, L1 motion layer {took:6.2f} s "
              f"(ratio {took / base:4.1f}, {took / minutes * 60:5.1f} s per hour of video), "
              f"peak {peak:6.1f} MB = {peak * 2**20 / n:5.0f} B/frame")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare with")
    ap.add_argument("--only", default=None, help="comma-separated 1-based scene numbers")
    ap.add_argument("--option", action="append", default=[], help="extra pano-pan option for this tree, e.g. "
                    "--option=--cuts --option=never")
    ap.add_argument("--speed", action="store_true", help="time the motion layer on 10 and 60 minutes")
    args = ap.parse_args()
    if args.speed:
        speed()
        return
    extra = [*MOVING, *SUBJECTS]
    every = [*SUITE, *extra]
    picks = [int(x) - 1 for x in args.only.split(",")] if args.only else range(len(every))
    head = "capt  still  p95a cuts shot  ttf"
    print(f"{'scene':44s} | {'before: ' + head if args.before else '':46s} | after: {head}")
    failures = 0
    framing_rows = []
    with tempfile.TemporaryDirectory(prefix="pano-cine-") as tmp:
        for k in picks:
            t0 = time.perf_counter()
            scene = every[k]()
            build = time.perf_counter() - t0
            clip = scene.write(Path(tmp) / f"scene{k + 1}.mp4")
            before = b_metrics = None
            if args.before:
                traj, _ = run_tree(args.before, clip, Path(tmp) / f"b{k}", [])
                b_metrics = scored(scene, traj)
                before = fmt(b_metrics)
            traj, took = run_tree(ROOT, clip, Path(tmp) / f"a{k}", args.option)
            after = scored(scene, traj)
            miss = misses(after) if k < len(SUITE) else misses(after, FRAMING_GOALS)
            failures += bool(miss)
            print(f"{k + 1:2d} {scene.name:41s} | {before or '':46s} | {fmt(after)}"
                  f"{'  MISSES ' + ','.join(miss) if miss else ''}   ({scene.seconds:.0f} s scene, built {build:.1f} s,"
                  f" run {took:.1f} s)", flush=True)
            if k >= len(SUITE):
                framing_rows.append((k, scene.name, b_metrics, after))
    print("columns: capture, mean speed while still (deg/s), p95 acceleration outside cuts (deg/s²), cuts, "
          "shortest shot (s), mean time to frame a new source (s)")
    if framing_rows:
        head = " capt  cent  ahead  subj whole  head still       fov"
        print(f"\nframing (issue 21)                           | {'before:' + head if args.before else '':56s} | "
              f"after:{head}")
        for k, name, b, a in framing_rows:
            print(f"{k + 1:2d} {name:41s} | {('       ' + fmt_framing(b)) if b else '':56s} |       {fmt_framing(a)}")
        print("columns: capture, central-half fraction while the source moves, worst degrees a pan ends ahead of "
              "its source, mean fraction of the subject's box in view, frames with all of it in (where it fits "
              "in 104°), median headroom (°), mean speed while still (°/s), field of view per shot (°)")
    print(f"goals: capture ≥ 0.95, still ≤ 0.5°/s, p95 ≤ 30°/s², shots ≥ 1.5 s (the first {len(SUITE)} scenes); "
          f"central ≥ 0.9, pan ahead ≤ 10°, whole ≥ 0.9 (the rest); scenes missing a goal: {failures}")


if __name__ == "__main__":
    main()
