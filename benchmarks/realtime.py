"""Is the mono default real time at 1920×960? (issue 20: ≥ 1× real time on 2 cores, whole run.)

Most 360° video people hold has mono sound, and there the default localizer (``audiovisual``: synchrony,
motion, people, the front prior) looks at pixels, which FOA's ``ambisonic`` does not. This script times the
whole ``pano-pan IN`` process on a 1920×960 clip in mono, beside the same clip with its FOA track (the
``ambisonic`` run) and stock ffmpeg rendering a fixed view of it (the yardstick), each as its own process,
in one sitting, and prints for each: wall seconds, CPU seconds (all threads), the **real-time factor**
(clip seconds / wall seconds: ≥ 1 means faster than playback) and the CPU-bound real-time factor
(clip seconds × cores / CPU seconds: what the wall-clock factor would be with the cores to itself, which
is the figure to read on a machine shared with other work), and the ratios to ffmpeg.

The clip: ``--clip FILE`` (an FOA 360° clip of yours, e.g. one of ``benchmarks/real_set.py``'s; it is
scaled to 1920×960 and its W channel taken as the mono track), else the synthetic FOA clip of
``benchmarks/pipeline.py`` (a textured panorama, a sounding disk circling the camera) at 1920×960.

    python benchmarks/realtime.py                        # synthetic, 20 s
    python benchmarks/realtime.py --clip /work/media/all/x02.mp4 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import env_with_root, fixed_view_command, measure, output_size, pano_pan  # noqa: E402

WIDTH, HEIGHT = 1920, 960


def prepare(clip: Path | None, seconds: float, tmp: Path) -> tuple[Path, Path]:
    """The FOA clip at 1920×960 and its mono copy (W only), both H.264 + AAC."""
    foa = tmp / "foa.mp4"
    if clip is None:
        subprocess.run([sys.executable, str(Path(__file__).with_name("pipeline.py")), "--make-clip", str(foa),
                        str(WIDTH), str(HEIGHT), "libx264", str(seconds)], check=True, env=env_with_root())
    else:
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-t", str(seconds),
                        "-vf", f"scale={WIDTH}:{HEIGHT}:flags=lanczos", "-c:v", "libx264", "-preset", "veryfast",
                        "-crf", "18", "-c:a", "aac", "-b:a", "384k", "-aac_is", "0", str(foa)], check=True)
    mono = tmp / "mono.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(foa), "-c:v", "copy",
                    "-af", "pan=mono|c0=c0", "-c:a", "aac", "-b:a", "128k", str(mono)], check=True)
    return foa, mono


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, help="an FOA 360° clip to scale to 1920×960 [synthetic]")
    ap.add_argument("--seconds", type=float, default=20.0, help="clip length [20]")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (median) [1]")
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("realtime.py: needs the ffmpeg CLI to make the clips and the yardstick "
                         "(apt-get install -y ffmpeg)")
    if args.clip is not None and not args.clip.is_file():
        raise SystemExit(f"realtime.py: {args.clip}: no such file; pass an FOA 360° clip or leave --clip out")
    cores = len(os.sched_getaffinity(0))
    env = env_with_root()
    with tempfile.TemporaryDirectory(prefix="pano-realtime-") as name:
        tmp = Path(name)
        foa, mono = prepare(args.clip, args.seconds, tmp)
        seconds = duration(mono)
        rows: dict[str, list[dict]] = {"ffmpeg": [], "mono": [], "foa": []}
        for k in range(args.repeat):
            for key, clip in (("mono", mono), ("foa", foa)):
                run = measure(pano_pan([str(clip), "-o", str(tmp / f"{key}{k}"), "-q"]), env)
                if run["rc"] != 0:
                    raise SystemExit(f"pano-pan failed on {clip}: {run['stderr'].strip()}")
                rows[key].append(run)
            size = output_size(tmp / f"mono{k}" / "mono.nfov.mp4")
            rows["ffmpeg"].append(measure(fixed_view_command(mono, size, tmp / "ffmpeg.mp4")))
        load = os.getloadavg()[0]
    print(f"clip: {args.clip or 'synthetic'} at {WIDTH}×{HEIGHT}, {seconds:.1f} s; {cores} cores; "
          f"load average {load:.1f}; median of {args.repeat}")
    print(f"{'run':<36} {'wall s':>7} {'CPU s':>7} {'× real time':>12} {'CPU-bound ×':>12} {'CPU / ffmpeg':>13}")
    base = statistics.median(r["cpu"] for r in rows["ffmpeg"])
    labels = {"ffmpeg": "ffmpeg v360 fixed view (yardstick)", "mono": "pano-pan, mono (audiovisual)",
              "foa": "pano-pan, FOA (ambisonic)"}
    for key in ("ffmpeg", "mono", "foa"):
        wall = statistics.median(r["wall"] for r in rows[key])
        cpu = statistics.median(r["cpu"] for r in rows[key])
        print(f"{labels[key]:<36} {wall:7.1f} {cpu:7.1f} {seconds / wall:12.2f} {seconds * cores / cpu:12.2f} "
              f"{cpu / base:13.2f}")


if __name__ == "__main__":
    main()
