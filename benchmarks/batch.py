"""``pano-pan batch`` on a small library: correctness under crashes and its cost against single runs.

Makes N short FOA clips (tests/clips.py's disk-and-sound scenes, in a mirrored tree of folders) and 2
damaged files (an MP4 whose first 4 KB are zeros, bytes that are no video; a truncated MP4 is no
damage: pano-pan processes what it holds, with a warning), then, each step as its own process:

1. every clip as its own ``pano-pan run`` (the baseline: the sum of single runs' CPU and wall);
2. ``pano-pan batch --jobs 1`` and ``--jobs 2`` on the whole library: N done, 2 failed rows, exit code 1;
   CPU against the sum of single runs (goal: within 5%, i.e. ratio ≤ 1.05), wall and throughput;
3. SIGKILL of the whole batch (parent and workers) at a random moment, then a rerun: the rerun redoes at
   most the videos that were in flight, and no temporary file is left anywhere;
4. ``--shard 0/2`` + ``--shard 1/2`` into one OUTDIR: exactly the unsharded outputs, trajectories
   byte-identical;
5. ``--engine ray`` on a local Ray instance: byte-identical trajectories (skipped if Ray is missing).

    python benchmarks/batch.py               # 20 clips of 2 s
    python benchmarks/batch.py --clips 6 --seconds 1 --skip-ray
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = ["--size", "320x180"]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def pano_pan(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def measure(cmd: list[str]) -> dict:
    """Wall and CPU seconds (user + system of the process and every worker it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(), cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "rc": os.waitstatus_to_exitcode(status), "stderr": err}


def make_library(root: Path, clips: int, seconds: float) -> tuple[list[Path], list[Path]]:
    code = f"""
import sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
from pathlib import Path
from clips import foa_clip
root = Path({str(root)!r})
for i in range({clips}):
    p = root / f"day{{i % 3}}" / f"clip{{i:02d}}.mp4"
    p.parent.mkdir(parents=True, exist_ok=True)
    foa_clip(p, seconds={seconds}, fps=30, size=(240, 480), yaw=(i * 47) % 360 - 180, seed=i)
good = root / "day0" / "clip00.mp4"
data = good.read_bytes()
(root / "day1" / "zeroed-header.mp4").write_bytes(bytes(4096) + data[4096:])
(root / "day2" / "not-a-video.mp4").write_bytes(b"\\x00\\x01 this is not a video " * 200)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    good = sorted(p for p in root.rglob("clip*.mp4"))
    bad = [root / "day1" / "zeroed-header.mp4", root / "day2" / "not-a-video.mp4"]
    return good, bad


def states(outdir: Path, name: str = "pano-pan-batch.sqlite") -> dict[str, tuple[str, int]]:
    db = sqlite3.connect(outdir / name)
    try:
        rows = db.execute("SELECT rel, state, attempts FROM videos")
        return {rel: (state, attempts) for rel, state, attempts in rows}
    finally:
        db.close()


def temporaries(outdir: Path) -> list[Path]:
    return [p for p in outdir.rglob(".*") if ".part-" in p.name or ".old-" in p.name or p.name.endswith(".tmp")]


def outputs(outdir: Path) -> dict[str, bytes]:
    return {p.relative_to(outdir).as_posix(): p.read_bytes() for p in outdir.rglob("*")
            if p.is_file() and not p.name.startswith("pano-pan-batch.")}


def trajectories(outdir: Path) -> dict[str, bytes]:
    return {p.relative_to(outdir).as_posix(): p.read_bytes() for p in outdir.rglob("*.trajectory.json")}


def check(ok: bool, what: str, failures: list[str]) -> str:
    if not ok:
        failures.append(what)
    return "yes" if ok else "NO"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--seed", type=int, default=None, help="seed of the SIGKILL moment")
    args = ap.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pano-pan-batch-bench-") as tmp:
        tmp = Path(tmp)
        lib = tmp / "library"
        good, bad = make_library(lib, args.clips, args.seconds)
        n = len(good)
        print(f"library: {n} clips of {args.seconds:g} s (240×480, FOA) + {len(bad)} damaged files; "
              f"{os.cpu_count()} cores\n")

        singles = [measure(pano_pan("run", str(p), "-o", str(tmp / "single" / p.parent.name), *SIZE, "-q"))
                   for p in good]
        assert all(r["rc"] == 0 for r in singles), [r["stderr"] for r in singles if r["rc"]]
        single_cpu, single_wall = sum(r["cpu"] for r in singles), sum(r["wall"] for r in singles)

        runs = {}
        for jobs in (1, 2):
            out = tmp / f"jobs{jobs}"
            runs[jobs] = r = measure(pano_pan("batch", str(lib), "-o", str(out), *SIZE, "-q", "--jobs", str(jobs)))
            st = states(out)
            r["done"] = sum(s == "done" for s, _ in st.values())
            r["failed"] = sum(s == "failed" for s, _ in st.values())
        print("| run | videos done | failed rows | exit code | CPU s | CPU / sum of singles | wall s | videos/min |")
        print("|---|---|---|---|---|---|---|---|")
        print(f"| {n} × `pano-pan run` | {n} | — | 0 | {single_cpu:.1f} | 1.00 | {single_wall:.1f} | "
              f"{60 * n / single_wall:.1f} |")
        for jobs, r in runs.items():
            print(f"| `batch --jobs {jobs}` | {r['done']} | {r['failed']} | {r['rc']} | {r['cpu']:.1f} | "
                  f"{r['cpu'] / single_cpu:.2f} | {r['wall']:.1f} | {60 * n / r['wall']:.1f} |")
        for jobs, r in runs.items():
            check(r["done"] == n and r["failed"] == 2 and r["rc"] == 1, f"jobs {jobs}: {n} done, 2 failed, exit 1",
                  failures)
        print(f"\nCPU within 5% of the sum of single runs: "
              f"{check(runs[1]['cpu'] <= 1.05 * single_cpu, 'batch CPU ≤ 1.05 × singles', failures)} "
              f"(jobs 1: {runs[1]['cpu'] / single_cpu:.2f}, jobs 2: {runs[2]['cpu'] / single_cpu:.2f})")
        print(f"--jobs 2 never slower than --jobs 1 in wall time: "
              f"{check(runs[2]['wall'] <= runs[1]['wall'] * 1.02, 'jobs 2 wall ≤ jobs 1', failures)} "
              f"({runs[1]['wall'] / runs[2]['wall']:.2f}× the throughput)")
        same = trajectories(tmp / "jobs1") == trajectories(tmp / "jobs2")
        print(f"jobs 1 and jobs 2 trajectories byte-identical: {check(same, 'jobs 1 == jobs 2', failures)}")

        # SIGKILL at a random moment of a batch
        rng = random.Random(args.seed)
        out = tmp / "killed"
        moment = rng.uniform(0.3, 0.8) * runs[2]["wall"]
        proc = subprocess.Popen(pano_pan("batch", str(lib), "-o", str(out), *SIZE, "-q", "--jobs", "2"), env=env(),
                                cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = states(out)
        in_flight = {k for k, (s, _) in at_kill.items() if s == "running"}
        done_at_kill = {k for k, (s, _) in at_kill.items() if s == "done"}
        left = len(temporaries(out))
        rerun = measure(pano_pan("batch", str(lib), "-o", str(out), *SIZE, "-q", "--jobs", "2"))
        after = states(out)
        redone = {k for k, (s, a) in after.items() if a >= 2}
        print(f"\nSIGKILL after {moment:.1f} s: {len(done_at_kill)} done, {len(in_flight)} in flight "
              f"({', '.join(sorted(in_flight)) or 'none'}), {left} temporary files left by the kill")
        within = check(redone <= in_flight, "rerun redoes ≤ in flight", failures)
        if temporaries(out):
            print("left after the rerun:", ", ".join(str(p.relative_to(out)) for p in temporaries(out)))
        print(f"rerun: exit {rerun['rc']}, {sum(s == 'done' for s, _ in after.values())} done; redone (a second "
              f"attempt): {len(redone)} ⊆ in flight: {within}; "
              f"temporary files after: {len(temporaries(out))} "
              f"{check(not temporaries(out), 'no temporaries after rerun', failures)}")
        check(sum(s == "done" for s, _ in after.values()) == n, "rerun completes", failures)
        check(trajectories(out) == trajectories(tmp / "jobs1"), "killed+rerun == uninterrupted", failures)

        # shards
        out = tmp / "sharded"
        shard_rc = [measure(pano_pan("batch", str(lib), "-o", str(out), *SIZE, "-q", "--shard", f"{i}/2"))["rc"]
                    for i in range(2)]
        counts = [len(states(out, f"pano-pan-batch.shard-{i}-of-2.sqlite")) for i in range(2)]
        same = outputs(out) == outputs(tmp / "jobs1")
        print(f"\n--shard 0/2 + 1/2: {counts[0]} + {counts[1]} videos (exit {shard_rc}); outputs byte-identical to "
              f"the unsharded batch: {check(same and sum(counts) == n + 2, 'shards == unsharded', failures)}")

        if args.skip_ray:
            print("\n--engine ray: skipped (--skip-ray)")
        else:
            try:
                import ray  # noqa: F401
            except ImportError:
                print("\n--engine ray: skipped (Ray is not installed: pip install 'pano-pan[ray]')")
            else:
                out = tmp / "ray"
                r = measure(pano_pan("batch", str(lib), "-o", str(out), *SIZE, "-q", "--engine", "ray", "--jobs", "2"))
                same = trajectories(out) == trajectories(tmp / "jobs1")
                print(f"\n--engine ray (local instance, 2 tasks at a time): exit {r['rc']}, {r['wall']:.1f} s wall, "
                      f"trajectories byte-identical: {check(same and len(trajectories(out)) == n, 'ray', failures)}")
    print("\nall goals met" if not failures else f"\nNOT MET: {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
