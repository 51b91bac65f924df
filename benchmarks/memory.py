"""Peak memory of the default run against the video's duration (issue 22: flat, 2 h within 10% of 10 min).

A tiny panorama (64×32, 30 fps) keeps decoding and rendering cheap, so what grows with duration shows:
whatever pass 1 and the planner keep per frame or per block. The clips are made by ffmpeg's lavfi
sources, streamed (a 2-hour 4-channel track is never in memory): ``testsrc2`` pictures and a 330 Hz tone
circling the camera every 20 s as AmbiX FOA (W, Y, Z, X), silent 2 s in every 10 so the planner sees
shots start and stop. Each run is its own process; its peak resident memory comes from ``os.wait4``.
The output is small (``--size 128x72``) so a 2-hour run takes minutes, not an hour; the saliency video
stays on (the default run).

    python benchmarks/memory.py                       # 10 min and 2 h
    python benchmarks/memory.py --short 60 --long 600 # quicker
    python benchmarks/memory.py --repeat 3            # each clip 3 times: the ratio of the medians

A run's peak varies from run to run by tens of MB (glibc's per-thread arenas fill as the decoder,
encoder and writer threads happen to meet: the same 10-minute clip peaked at 212, 235 and 242 MB in
three runs of one build, at 196, 196 and 211 MB with the next), so one run each can read a ratio 0.1
off; ``--repeat`` shows the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TONE = r"0.3*sin(2*PI*330*t)*gt(mod(t\,10)\,2)"  # silent 2 s in every 10 (commas escaped for lavfi)
FOA = f"{TONE}|{TONE}*sin(2*PI*t/20)|0.1*{TONE}|{TONE}*cos(2*PI*t/20)"  # AmbiX W, Y, Z, X (SN3D)


def make_clip(path: Path, seconds: float) -> None:
    """A 64×32 FOA clip of ``seconds``, written by ffmpeg straight from its lavfi sources."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=64x32:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"aevalsrc={FOA}:s=16000:d={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "96k", str(path)],
        check=True,
    )


def measure(cmd: list[str]) -> dict:
    """Wall s, CPU s and peak resident MB of one child process (its own ``ru_maxrss``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status), "stderr": err}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", type=float, default=600.0, help="the short clip's seconds [600]")
    ap.add_argument("--long", type=float, default=7200.0, help="the long clip's seconds [7200]")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each clip; the ratio is of the medians [1]")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more pano-pan options (last)")
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("benchmarks/memory.py needs ffmpeg on PATH to make its clips (apt-get install ffmpeg)")
    results = {}
    with tempfile.TemporaryDirectory(prefix="pano-mem-") as tmp_name:
        tmp = Path(tmp_name)
        for seconds in (args.short, args.long):
            clip = tmp / f"mem{seconds:g}.mp4"
            make_clip(clip, seconds)
            peaks = []
            for _ in range(max(1, args.repeat)):
                r = measure([sys.executable, "-m", "cli.main", str(clip), "-o", str(tmp / f"out{seconds:g}"),
                             "-q", "--size", "128x72", *args.extra])
                if r["rc"] != 0:
                    raise SystemExit(f"pano-pan failed on the {seconds:g} s clip: {r['stderr'].strip()}")
                peaks.append(r["peak_mb"])
                print(f"{seconds / 60:6.1f} min: peak {r['peak_mb']:6.0f} MB, CPU {r['cpu']:6.1f} s, "
                      f"wall {r['wall']:6.1f} s", flush=True)
                shutil.rmtree(tmp / f"out{seconds:g}", ignore_errors=True)
            results[seconds] = float(np.median(peaks))
            clip.unlink()
    short, long = results[args.short], results[args.long]
    print(f"peak memory ratio {args.long / 60:g} min / {args.short / 60:g} min: {long / short:.2f} (goal ≤ 1.10)")
    print(json.dumps({"short_s": args.short, "long_s": args.long, "peak_mb_short": short, "peak_mb_long": long,
                      "ratio": long / short}))


if __name__ == "__main__":
    main()
