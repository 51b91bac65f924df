"""The ``--export ffmpeg`` script against stock ffmpeg's fixed view, on the same clip, in one sitting.

The yardstick is ``ffmpeg -i IN -vf v360=e:flat:... -c:v libx264 -preset veryfast -crf 20 OUT`` (a
fixed view). The script pano-pan exports runs the same command with a ``sendcmd`` file in front of
v360, and v360 rebuilds its remap table on every command, so the script turns yaw by sliding a window
over the panorama beside itself (``crop`` x commands, free) and sends v360 only pitch, roll and field of
view changes beyond ±0.25°. Two camera paths on one 960×480 H.264 clip:
pano-pan's own path for the clip (a sound circling the camera at 36°/s: the camera pans all the time,
the worst case) and a turn-taking path (two talkers 150° apart, 3 s turns: holds and cuts, the common
case; the path of pano-pan run on tests/scenes.py's turn_taking scene, laid on the same clip). For each,
the script as exported (±0.25° per angle) and with a command on every frame the view changes
(``tolerance=0``: the old script, yaw by v360 commands too), CPU seconds (user + system) and the
ratio to the fixed view. Goal (issue 22): the exported script ≤ 2× the fixed view.

    python benchmarks/ffmpeg_export.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]


def cpu(cmd: list[str]) -> float:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {err.strip()[-400:]}")
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is not on PATH (apt-get install ffmpeg): nothing to compare")
        return 0
    import numpy as np
    from pipeline import make_clip

    from pano.paths.ffmpeg import TOLERANCE, write_ffmpeg
    from pano.paths.trajectory import Trajectory
    from scenes import turn_taking

    with tempfile.TemporaryDirectory(prefix="pano-ffmpeg-export-") as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip, 960, 480, "libx264", args.seconds)
        size = (1280, 720)
        run = [sys.executable, "-m", "cli.main", "run", "-q", "--no-saliency-video", "--size", "1280x720"]
        subprocess.run([*run, str(clip), "-o", str(tmp / "own")], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        own = Trajectory.load(tmp / "own" / "clip.trajectory.json")
        talk = turn_taking(150.0, turn=3.0, seconds=args.seconds).write(tmp / "talk.mp4")
        subprocess.run([*run, str(talk), "-o", str(tmp / "talk")], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        t = Trajectory.load(tmp / "talk" / "talk.trajectory.json")
        n = min(len(t), len(own))
        turns = Trajectory(t=own.t[:n], yaw=t.yaw[:n], pitch=t.pitch[:n], hfov=own.hfov[:n], vfov=own.vfov[:n],
                           cut=t.cut[:n], source=own.source)

        hfov = float(own.hfov[0])
        vfov = math.degrees(2 * math.atan(math.tan(math.radians(hfov) / 2) * size[1] / size[0]))
        enc = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-an"]
        fixed = cpu(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-vf",
                     f"v360=e:flat:h_fov={hfov}:v_fov={vfov:.4f}:w={size[0]}:h={size[1]}", *enc,
                     str(tmp / "fixed.mp4")])
        print(f"clip: {args.seconds:g} s 960×480 H.264 at 30 fps → 1280×720 x264 veryfast; "
              f"{os.cpu_count()} cores\n")
        print("| camera path | script | sendcmd lines with a command for | CPU s | × fixed view |")
        print("|---|---|---|---|---|")
        print(f"| — | ffmpeg fixed view | 0 | {fixed:.1f} | 1.00 |")
        worst = 0.0
        for label, traj in (("pano-pan's path (pans all the time)", own), ("turn-taking (holds, cuts)", turns)):
            for name, tol in ((f"exported (±{TOLERANCE:g}°)", TOLERANCE), ("a command per changed frame", 0.0)):
                prefix = tmp / f"{label[:4]}-{tol}"
                paths = write_ffmpeg(traj, prefix, str(clip), size=size, tolerance=tol)
                body = [line for line in paths["sendcmd"].read_text().splitlines() if line and line[0] != "#"]
                v360, crop = sum("v360 " in line for line in body), sum("crop x" in line for line in body)
                commands = f"{v360} v360 + {crop} crop"
                c = cpu(["sh", str(paths["script"]), "-nostdin", "-loglevel", "error", "-y", *enc])
                if tol:
                    worst = max(worst, c / fixed)
                print(f"| {label} | {name} | {commands} ({len(traj)} frames) | {c:.1f} | {c / fixed:.2f} |")
        cut_frames = int(np.count_nonzero(turns.cut))
        print(f"\n(turn-taking path: {cut_frames} cuts)")
        print(f"exported script ≤ 2× the fixed view on both paths: {'yes' if worst <= 2 else 'NO'} "
              f"(worst {worst:.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
