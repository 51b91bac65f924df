"""The whole pano-pan process against stock ffmpeg rendering a fixed view, in the same run.

The yardstick users have is the ffmpeg CLI: ``ffmpeg -i IN -vf v360=e:flat:... -c:v libx264 -preset
veryfast -crf 20 -c:a aac OUT`` at the same output size. For each clip (960×480, 3840×1920 and
5760×2880, H.264 and HEVC, 4-channel AmbiX AAC) this script runs, each as its own process: that
command, ``pano-pan IN`` (the default run, saliency video on), ``pano-pan IN --planner-option
subject=off`` (no subject framing: pass 1 then decodes no video) and ``pano-pan IN --no-saliency-video``,
beside two floors no renderer can beat, ``ffmpeg -i IN -f null -`` (decoding only) and the same
command as the yardstick with a plain ``crop`` (+ ``scale`` where the panorama is smaller than the
view) instead of ``v360`` (decode + encode), and prints CPU time (user + system, all threads), wall
time and peak resident memory, with the ratios to ffmpeg's fixed view. Goals (issue 9): default run
≤ 1.5× ffmpeg's CPU time at every resolution, wall ratio no worse, peak memory ≤ 2× ffmpeg's at 4K.
Then ``pano-pan missing.mp4`` (goal ≤ 0.5 CPU s: no heavy imports before the first check) and peak
memory on a short and a long clip (goal: flat in duration; ``benchmarks/memory.py`` runs 10 min
against 2 h on a tiny clip). Issue 22's goals: the default run ≤ 1.2× ffmpeg's fixed-view CPU.

Without ffmpeg on PATH the yardstick is skipped with a message and only pano-pan's figures print.
This parent process stays small (no numpy, no PyAV): Linux reports a child's peak memory as at least
the parent's when the child is started by vfork, so clips are made in a child process too.

    python benchmarks/pipeline.py                  # every clip, 3 paired runs each (median)
    python benchmarks/pipeline.py --quick          # short clips, one run each
    python benchmarks/pipeline.py --cases 4k-h264  # some clips only
    python benchmarks/pipeline.py --code ../old    # time another checkout on the same clips and yardstick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name: (width, height, codec, seconds, quick seconds)
CASES = {
    "960-h264": (960, 480, "libx264", 30, 10),
    "4k-h264": (3840, 1920, "libx264", 10, 4),
    "4k-hevc": (3840, 1920, "libx265", 10, 4),
    "5.7k-hevc": (5760, 2880, "libx265", 5, 2),
}
FPS = 30
HFOV = 65.5


def make_clip(path: Path, width: int, height: int, codec: str, seconds: float) -> None:
    """A textured panorama panning slowly, a sounding disk circling the camera, 4-ch AmbiX AAC."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from pano.media.writer import VideoWriter
    from pano.sphere.ambisonics import encode_foa

    rng = np.random.default_rng(0)
    # Coarse blocks with fine grain on top: real footage's bit rate, so decoding costs what it would.
    base = rng.integers(30, 200, (height // 16, width // 16, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
    base = np.clip(base.astype(np.int16) + rng.integers(-12, 12, base.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    n = int(seconds * FPS)
    sr = 48000
    t = np.arange(int(seconds * sr)) / sr
    yaw = lambda s: ((np.asarray(s) * 36.0 + 180.0) % 360.0) - 180.0  # noqa: E731
    sig = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    foa = encode_foa(sig, yaw(t), 10.0).astype(np.float32) + 0.01 * rng.standard_normal((4, len(t))).astype(
        np.float32)
    r = max(4, height // 24)
    with VideoWriter(path, width, height, FPS, audio=(foa, sr), codec=codec, crf=23, preset="ultrafast") as w:
        for i in range(n):
            frame = np.roll(base, 2 * i, axis=1)
            x = int((yaw(i / FPS) / 360.0 + 0.5) * width)
            y = int(height * (0.5 - 10.0 / 180.0))
            frame[y - r : y + r, max(0, x - r) : x + r] = (255, 60, 40)
            w.write(frame)


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Wall seconds, CPU seconds (user + system) and peak resident MB of one child process."""
    start = time.perf_counter()
    cwd = env["PYTHONPATH"] if env else None  # `python -m` puts the working folder first on sys.path
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "rc": proc.returncode, "stderr": err}


def output_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    w, h = out.stdout.strip().split(",")[:2]
    return int(w), int(h)


def fixed_view_command(clip: Path, size: tuple[int, int], out: Path) -> list[str]:
    """The yardstick: stock ffmpeg rendering a fixed 65.5° view of ``clip`` at ``size`` (W, H) to ``out``."""
    vfov = math.degrees(2 * math.atan(math.tan(math.radians(HFOV) / 2) * size[1] / size[0]))
    vf = f"v360=e:flat:h_fov={HFOV}:v_fov={vfov:.4f}:w={size[0]}:h={size[1]}"
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-vf", vf, "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "20", "-c:a", "aac", str(out)]


def pano_pan(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def env_with_root(root: Path = ROOT) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    return env


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "peak_mb")}


def run_case(name: str, clip: Path, tmp: Path, repeat: int, have_ffmpeg: bool, env: dict) -> dict:
    rows: dict[str, list[dict]] = {"decode": [], "crop": [], "ffmpeg": [], "default": [], "subject_off": [],
                                   "no_saliency_video": []}
    size = None
    for k in range(repeat):
        default = measure(pano_pan([str(clip), "-o", str(tmp / f"{name}-d{k}"), "-q"]), env)
        if default["rc"] != 0:
            raise SystemExit(f"pano-pan failed on {clip}: {default['stderr'].strip()}")
        rows["default"].append(default)
        plain = measure(pano_pan([str(clip), "-o", str(tmp / f"{name}-s{k}"), "-q", "--planner-option",
                                  "subject=off"]), env)
        rows["subject_off"].append(plain)
        lean = measure(pano_pan([str(clip), "-o", str(tmp / f"{name}-l{k}"), "-q", "--no-saliency-video"]), env)
        rows["no_saliency_video"].append(lean)
        if have_ffmpeg:
            if size is None:
                size = output_size(tmp / f"{name}-d{k}" / f"{clip.stem}.nfov.mp4")
            cmd = fixed_view_command(clip, size, tmp / f"{name}-ffmpeg.mp4")
            rows["ffmpeg"].append(measure(cmd))
            # The floors any renderer has: decoding alone, and decoding + a plain crop + the same encode.
            rows["decode"].append(measure(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(clip), "-map", "0:v",
                                           "-f", "null", "-"]))
            src_w, src_h = output_size(clip)
            crop = f"crop={min(size[0], src_w)}:{min(size[1], src_h)},scale={size[0]}:{size[1]}"
            rows["crop"].append(measure([*cmd[:8], crop, *cmd[9:-1], str(tmp / f"{name}-crop.mp4")]))
        for sub in (f"{name}-d{k}", f"{name}-s{k}", f"{name}-l{k}"):
            shutil.rmtree(tmp / sub, ignore_errors=True)
    return {key: median_of(runs) for key, runs in rows.items() if runs} | {"size": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short clips, one run each")
    ap.add_argument("--repeat", type=int, default=None, help="paired runs per clip (median) [3; 1 with --quick]")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument("--no-memory", action="store_true", help="skip the short-vs-long memory runs")
    ap.add_argument("--code", type=Path, default=ROOT, help="the pano-pan checkout to time [this one]")
    ap.add_argument("--make-clip", nargs=5, metavar=("PATH", "W", "H", "CODEC", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_clip:
        path, w, h, codec, seconds = args.make_clip
        make_clip(Path(path), int(w), int(h), codec, float(seconds))
        return
    repeat = args.repeat or (1 if args.quick else 3)
    have_ffmpeg = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
    if not have_ffmpeg:
        print("ffmpeg/ffprobe not on PATH: the stock-ffmpeg yardstick is skipped (apt-get install ffmpeg)")
    env = env_with_root(args.code.resolve())
    clip_env = env_with_root()
    results: dict = {"cpu_count": os.cpu_count(), "repeat": repeat, "code": str(args.code.resolve())}

    def clip_for(tmp: Path, w: int, h: int, codec: str, seconds: float, tag: str) -> Path:
        clip = tmp / f"{tag}.mp4"
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--make-clip", str(clip), str(w), str(h), codec, str(seconds)],
                       check=True, env=clip_env)
        print(f"made {tag}: {seconds:g} s {w}×{h} {codec} in {time.perf_counter() - start:.0f} s", flush=True)
        return clip

    with tempfile.TemporaryDirectory(prefix="pano-bench-") as tmp_name:
        tmp = Path(tmp_name)
        missing = min((measure(pano_pan([str(tmp / "missing.mp4")]), env) for _ in range(3)), key=lambda r: r["cpu"])
        results["missing_file_s"] = missing["wall"]
        results["missing_file_cpu_s"] = missing["cpu"]
        print(f"pano-pan missing.mp4 (best of 3): {missing['cpu']:.2f} CPU s (goal ≤ 0.5), {missing['wall']:.2f} s "
              f"wall, exit {missing['rc']}: "
              f"{missing['stderr'].strip().splitlines()[-1] if missing['stderr'].strip() else ''}", flush=True)

        header = (f"{'clip':<22} {'run':<20} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} "
                  f"{'CPU ratio':>9} {'wall ratio':>10} {'mem ratio':>9}")
        table = []
        for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
            w, h, codec, seconds, quick_seconds = CASES[name]
            seconds = quick_seconds if args.quick else seconds
            clip = clip_for(tmp, w, h, codec, seconds, name)
            res = run_case(name, clip, tmp, repeat, have_ffmpeg, env)
            first_row = len(table)
            clip.unlink()
            results[name] = res | {"seconds": seconds}
            base = res.get("ffmpeg")
            label = f"{seconds:g} s {w}×{h} {'H.264' if codec == 'libx264' else 'HEVC'}"
            for key in ("decode", "crop", "ffmpeg", "default", "subject_off", "no_saliency_video"):
                if key not in res:
                    continue
                r = res[key]
                ratios = (f"{r['cpu'] / base['cpu']:9.2f} {r['wall'] / base['wall']:10.2f} "
                          f"{r['peak_mb'] / base['peak_mb']:9.2f}") if base else f"{'—':>9} {'—':>10} {'—':>9}"
                run_name = {"decode": "ffmpeg decode only", "crop": "ffmpeg crop+encode",
                            "ffmpeg": "ffmpeg fixed view", "default": "pano-pan default",
                            "subject_off": "subject=off", "no_saliency_video": "--no-saliency-video"}[key]
                table.append(f"{label:<22} {run_name:<20} {r['wall']:7.1f} {r['cpu']:7.1f} {r['peak_mb']:8.0f} "
                             + ratios)
            if res.get("size"):
                table.append(f"{'':<22} (output {res['size'][0]}×{res['size'][1]}; "
                             f"{seconds / res['default']['wall']:.2f}× real time)")
            print("\n".join([header, *table[first_row:]]), flush=True)
            table.append("")

        if table:
            print("\nall clips:\n" + "\n".join([header, *table]), flush=True)
        if not args.no_memory:
            short_s, long_s = (20, 120) if args.quick else (60, 600)
            peaks = []
            for seconds in (short_s, long_s):
                clip = clip_for(tmp, 960, 480, "libx264", seconds, f"mem{seconds}")
                peaks.append(measure(pano_pan([str(clip), "-o", str(tmp / f"m{seconds}"), "-q"]), env)["peak_mb"])
                clip.unlink()
            results.update(peak_mb_short=peaks[0], peak_mb_long=peaks[1], memory_ratio=peaks[1] / peaks[0])
            print(f"peak memory, default run: {short_s} s clip {peaks[0]:.0f} MB, {long_s} s clip {peaks[1]:.0f} MB, "
                  f"ratio {peaks[1] / peaks[0]:.2f} (goal ≤ 1.2)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
