"""Pipeline speed and memory against the floor this design cannot beat, measured in one process.

(a) decode only; (b) decode → render → encode at a fixed view (the floor: pass 2 alone, audio kept);
(c) the full pipeline with the ambisonic source, with and without the saliency video. Prints c/b
(goal ≤ 1.5) and clip-duration / c (goal ≥ 5× real time). Then peak resident memory of the full
pipeline, each run in a fresh subprocess, on a 1-minute and a 10-minute clip (goal: 10-minute peak
within 1.2× of the 1-minute one).

    python benchmarks/pipeline.py            # 60 s clip + memory on 1 and 10 minutes
    python benchmarks/pipeline.py --quick    # 20 s clip, memory on 20 s and 2 minutes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pano.ambisonics import encode_foa  # noqa: E402
from pano.geometry import angular_distance, grid_angles  # noqa: E402
from pano.media.video import iter_frames  # noqa: E402
from pano.media.writer import write_video  # noqa: E402
from pano.pipeline import RunOptions, render_trajectory, run  # noqa: E402
from pano.trajectory import Trajectory  # noqa: E402


def make_clip(path: Path, seconds: float, fps: int = 30, size=(480, 960), seed: int = 0) -> Path:
    """A moving sounding disk over a textured panorama with AmbiX FOA audio (frames cycle every 4 s)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yaws, pitches = grid_angles(h, w)
    base = rng.integers(40, 200, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    cycle = 4 * fps
    src_yaw = lambda t: 90.0 * np.sin(2 * np.pi * np.asarray(t) / 20.0)  # noqa: E731
    sprites = []
    for i in range(cycle):
        f = base.copy()
        d = angular_distance(yaws[None, :], pitches[:, None], float(src_yaw(i / fps)), 10.0)
        f[d < 10] = (255, 40, 40)
        sprites.append(f)
    n = int(seconds * fps)
    sr = 48000
    t = np.arange(int(seconds * sr)) / sr
    sig = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    foa = encode_foa(sig, src_yaw(t), 10.0).astype(np.float32)
    foa += 0.01 * rng.standard_normal(foa.shape).astype(np.float32)
    write_video(path, (sprites[i % cycle] for i in range(n)), fps, audio=(foa, sr), crf=23, preset="ultrafast")
    return path


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_memory_mb(clip: Path, outdir: Path) -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from pano.pipeline import run, RunOptions\n"
        f"run({str(clip)!r}, {str(outdir)!r}, RunOptions(localizer='ambisonic'))\n"
        # VmHWM, not ru_maxrss: Linux carries a parent's high-water mark into a vfork()ed child's rusage,
        # and the parent here has just built the whole clip in memory.
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter clips (for a smoke run)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    args = ap.parse_args()
    speed_s, mem_short, mem_long = (20, 20, 120) if args.quick else (60, 60, 600)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = timed(lambda: make_clip(tmp / "speed.mp4", speed_s))
        print(f"made {speed_s} s 960×480 30 fps FOA clip in {t:.1f} s")
        clip = tmp / "speed.mp4"
        n = int(speed_s * 30)

        a = timed(lambda: sum(1 for _ in iter_frames(clip)))
        fixed = Trajectory(t=np.arange(n) / 30, yaw=np.zeros(n), pitch=np.zeros(n), hfov=65.5, vfov=39.8)
        b = timed(lambda: render_trajectory(clip, fixed, tmp / "fixed.mp4"))
        c = timed(lambda: run(clip, tmp / "full", RunOptions(localizer="ambisonic")))
        c2 = timed(lambda: run(clip, tmp / "lean", RunOptions(localizer="ambisonic", saliency_video=False)))
        results = {
            "clip_seconds": speed_s,
            "a_decode_s": a,
            "b_floor_s": b,
            "c_full_s": c,
            "c_no_saliency_video_s": c2,
            "c_over_b": c / b,
            "c_no_saliency_over_b": c2 / b,
            "realtime_factor": speed_s / c,
            "realtime_factor_no_saliency_video": speed_s / c2,
            "decode_fps": n / a,
        }
        print(f"(a) decode only            {a:7.2f} s  ({n / a:6.1f} fps)")
        print(f"(b) decode→render→encode   {b:7.2f} s  ({n / b:6.1f} fps)  floor")
        print(f"(c) full pipeline          {c:7.2f} s  c/b = {c / b:.2f} (goal ≤ 1.5)  {speed_s / c:.1f}× real time")
        print(f"(c') without saliency video {c2:6.2f} s  c'/b = {c2 / b:.2f}  {speed_s / c2:.1f}× real time")

        if not args.no_memory:
            make_clip(tmp / "short.mp4", mem_short)
            m1 = peak_memory_mb(tmp / "short.mp4", tmp / "m1")
            (tmp / "short.mp4").unlink()
            make_clip(tmp / "long.mp4", mem_long)
            m2 = peak_memory_mb(tmp / "long.mp4", tmp / "m2")
            results.update(peak_mb_short=m1, peak_mb_long=m2, memory_ratio=m2 / m1)
            print(f"peak memory: {mem_short} s clip {m1:.0f} MB, {mem_long} s clip {m2:.0f} MB, "
                  f"ratio {m2 / m1:.2f} (goal ≤ 1.2)")
        print(json.dumps(results))


if __name__ == "__main__":
    main()
