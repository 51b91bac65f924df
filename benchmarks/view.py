"""What an edit in `pano-pan view` costs, against baselines measured in the same process.

For a long path (default 10 minutes at 30 fps, 18,000 samples) and the demo clip's sound:
  (a) the planner's own calm pass over the whole path (limit → smooth → track, ``calm_path``): baseline;
  (b) re-planning the path around K keyframes (``apply_keyframes``), what every drag costs the server;
  (c) decoding the demo's FOA track alone: baseline for the sound;
  (d) the view-following stereo WAV the page plays after an edit (``write_view_audio``);
  (e) the saliency strip recomputed from the FOA track when no ``.strip.png`` exists (``foa_strip``).
Prints b/a, d/c and e/c; best of ``--repeats`` wall-clock runs.

    python benchmarks/view.py [--minutes 10] [--keyframes 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.audio_io import iter_audio_chunks  # noqa: E402
from pano.media.probe import probe  # noqa: E402
from pano.media.video import read_frame_times as frame_times  # noqa: E402
from pano.paths.trajectory import Trajectory  # noqa: E402
from pano.planning.smoothing import calm_path  # noqa: E402
from pano.view.audio import write_view_audio  # noqa: E402
from pano.view.edit import Keyframe, apply_keyframes  # noqa: E402
from pano.view.strip import foa_strip  # noqa: E402

DEMO = ROOT / "examples" / "demo360.mp4"


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--keyframes", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    n = int(args.minutes * 60 * 30)
    t = np.arange(n) / 30.0
    rng = np.random.default_rng(0)
    target_yaw = np.cumsum(rng.normal(0, 2.0, n)) % 360 - 180
    target_pitch = np.clip(np.cumsum(rng.normal(0, 0.5, n)), -40, 40)
    a = best(lambda: calm_path(target_yaw, target_pitch, t, 30.0, 60.0, 0.4, max_accel=120.0), args.repeats)
    yaw, pitch = calm_path(target_yaw, target_pitch, t, 30.0, 60.0, 0.4, max_accel=120.0)
    base = Trajectory(t=t, yaw=yaw, pitch=pitch, hfov=65.5, vfov=39.8, source={"fps": 30.0})
    keys = [Keyframe(t=float(k), yaw=float(rng.uniform(-180, 180)), pitch=float(rng.uniform(-20, 20)), hfov=60.0)
            for k in np.linspace(5, t[-1] - 5, args.keyframes)]
    b = best(lambda: apply_keyframes(base, keys), args.repeats)

    info = probe(DEMO)
    times = frame_times(DEMO)
    demo_yaw = np.linspace(-180, 180, len(times), endpoint=False)
    c = best(lambda: sum(ch.shape[1] for ch in iter_audio_chunks(DEMO, 48000, channels=None)), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        d = best(lambda: write_view_audio(info, times, demo_yaw, Path(tmp) / "a.wav"), args.repeats)
    e = best(lambda: foa_strip(info, times), args.repeats)

    print(f"path: {n} samples ({args.minutes:g} min at 30 fps), {args.keyframes} keyframes; sound: {DEMO.name}, "
          f"{info.duration:.0f} s FOA")
    print("| | time | ratio |\n|---|---|---|")
    print(f"| (a) planner's calm pass over the path | {a * 1000:.0f} ms | 1 |")
    print(f"| (b) re-plan around the keyframes | {b * 1000:.0f} ms | b/a {b / a:.2f} |")
    print(f"| (c) decode the FOA track | {c * 1000:.0f} ms | 1 |")
    print(f"| (d) view-following stereo WAV | {d * 1000:.0f} ms | d/c {d / c:.2f} |")
    print(f"| (e) saliency strip from the FOA track | {e * 1000:.0f} ms | e/c {e / c:.2f} |")


if __name__ == "__main__":
    main()
