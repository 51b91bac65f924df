"""Does the camera move like an operator? A fixed suite of ≥ 60 s scenes, scored per scene.

Scenes (``tests/scenes.py``): a sustained engine circling, stopping and circling back across the seam;
a sustained chord at a fixed place; a static talker dry and in simulated rooms (pyroomacoustics,
RT60 0.4 s and 1.0 s); two talkers taking turns at 60° and 150°; two sources at once (40° apart: frame
both; 120° apart: stay with the louder); a silent gap before a talker at a new place. Each runs
through ``pano-pan run`` with default options (``--no-saliency-video``, a small output), and the
trajectory JSON is scored: capture (every target in view while it sounds), mean speed while the targets
are still, p95 angular acceleration outside cuts, cuts and the shortest shot, time to frame a new
source.

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

from scenes import SUITE, score  # noqa: E402

GOALS = {"capture": (">=", 0.95), "still_speed": ("<=", 0.5), "p95_accel": ("<=", 30.0), "min_shot": (">=", 1.5)}


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
    return score(scene, yaw, pitch, s[0]["hfov"], s[0]["vfov"], cut)


def fmt(metrics: dict) -> str:
    return (f"{metrics['capture']:5.2f} {metrics['still_speed']:6.2f} {metrics['p95_accel']:6.1f} "
            f"{metrics['cuts']:3d} {metrics['min_shot']:5.1f} {metrics['time_to_frame']:5.2f}")


def misses(metrics: dict) -> list[str]:
    out = []
    for key, (op, goal) in GOALS.items():
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
    picks = [int(x) - 1 for x in args.only.split(",")] if args.only else range(len(SUITE))
    head = "capt  still  p95a cuts shot  ttf"
    print(f"{'scene':44s} | {'before: ' + head if args.before else '':46s} | after: {head}")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="pano-cine-") as tmp:
        for k in picks:
            t0 = time.perf_counter()
            scene = SUITE[k]()
            build = time.perf_counter() - t0
            clip = scene.write(Path(tmp) / f"scene{k + 1}.mp4")
            before = ""
            if args.before:
                traj, _ = run_tree(args.before, clip, Path(tmp) / f"b{k}", [])
                before = fmt(scored(scene, traj))
            traj, took = run_tree(ROOT, clip, Path(tmp) / f"a{k}", args.option)
            after = scored(scene, traj)
            miss = misses(after)
            failures += bool(miss)
            print(f"{k + 1:2d} {scene.name:41s} | {before:46s} | {fmt(after)}"
                  f"{'  MISSES ' + ','.join(miss) if miss else ''}   ({scene.seconds:.0f} s scene, built {build:.1f} s,"
                  f" run {took:.1f} s)", flush=True)
    print("columns: capture, mean speed while still (deg/s), p95 acceleration outside cuts (deg/s²), cuts, "
          "shortest shot (s), mean time to frame a new source (s)")
    print(f"goals: capture ≥ 0.95, still ≤ 0.5°/s, p95 ≤ 30°/s², shots ≥ 1.5 s; scenes missing a goal: {failures}")


if __name__ == "__main__":
    main()
