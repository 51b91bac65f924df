"""Capture on real FOA footage reduced to mono and to stereo: does the camera keep the sound in view?

For every FOA clip in DIR (4-channel AmbiX, as ``pano-pan`` reads it) this writes, in a temp dir:

* a **mono** copy: the W channel only (what a phone or a re-encoded upload keeps);
* a **stereo** copy: two virtual cardioids at ±90° (left = ½(W + Y), right = ½(W − Y), SN3D), what a
  camera writes without spatial audio;
* a **spaced** copy: two virtual omnis 3 cm apart on the left-right axis, to first order in the
  spacing d: left/right = W ± (d/2c)·∂Y/∂t, a pair with arrival-time and no level difference (the
  first-order model holds to about c/(πd) ≈ 3.6 kHz; above, it understates the phase difference);

then plans a camera path for each run below exactly as pass 1 of ``pano-pan`` does (the localizer over
every frame, its map centroids and confidences into the ``autocam`` planner, default options) and
scores **capture**: the fraction of scored frames whose reference direction lies inside the planned
view, at the path's own field of view per frame (65.5° × 16:9 where it does not zoom; the front view
always 65.5°). The reference is the clip's ``<clip>.truth.json`` where there is one (``times``/
``yaw``/``pitch``, or static ``sources``: any source in view counts), else the FOA ``ambisonic``
map's peak on frames where its confidence is ≥ 0.5 (other frames are not scored: there is no
direction to find).

Runs: ``foa`` (the FOA default, for reference), ``mono`` (``--localizer auto`` on the mono copy: the
mono default), ``synchrony`` (on the mono copy), ``stereo`` (``auto`` on the stereo copy), ``network``
(mono copy, only with ``--checkpoint``), ``spaced`` (``auto`` on the spaced copy), ``front`` (a fixed
view at yaw 0, pitch 0: doing nothing).
Frames are decoded once per clip and size and shared by the runs (the copies' video is the same).

    python benchmarks/mono_real.py DIR [--checkpoint CKPT] [--runs mono,synchrony,...] [--json out.json]
    python benchmarks/mono_real.py --synthetic [--runs ...]   # the synthetic FOA scenes below instead

``--synthetic`` writes four FOA scenes with truth files (a reverberation-free room; a textured still
panorama): ``pulse`` (a disk whose brightness follows its on/off sound, yaw 60 / pitch 15), ``mover``
(a disk circling at 25°/s with a steady sound), ``still_side`` (a sound at yaw −70 from a thing that
does not change visibly) and ``weak_sky`` (a still talker at the front while a patch in the sky flickers
weakly with the sound: a weak, wrong synchrony cue).

Needs the ffmpeg CLI to write the copies (a benchmark-only tool; the product reads media with PyAV).
Real media is not in the repository: see the README ("Real footage to test on") for where to find it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pano.foa.scoring import DEFAULT_VFOV, track  # noqa: E402
from pano.localizers.base import FrameBatch, create_localizer  # noqa: E402
from pano.localizers.importance import batch_centroids  # noqa: E402
from pano.localizers.select import choose_localizer  # noqa: E402
from pano.media.audio import AudioWindows  # noqa: E402
from pano.media.probe import probe  # noqa: E402
from pano.planning.base import Observation, create_planner  # noqa: E402
from pano.run.context import RunContext  # noqa: E402
from pano.sphere.geometry import in_view  # noqa: E402
from pano.sphere.views import DEFAULT_HFOV  # noqa: E402

RUNS = ("foa", "mono", "synchrony", "stereo", "spaced", "network", "front")
SPACING = 0.03  # metres between the spaced copy's omnis (pass spaced:mic_spacing=0.03 to read its delay)
MIN_CONFIDENCE = 0.5
# Left and right cardioids from AmbiX (W, Y, Z, X; SN3D): ½(W ± Y); +Y points left (yaw -90°).
PAN = {"mono": "pan=mono|c0=c0", "stereo": "pan=stereo|c0=0.5*c0+0.5*c1|c1=0.5*c0-0.5*c1"}


def write_synthetic(root: Path, seconds: float = 8.0, fps: float = 25.0, size=(240, 480)) -> Path:
    """The ``--synthetic`` scenes (module docstring) as FOA clips with ``.truth.json`` files in ``root``."""
    from pano.media.writer import write_video
    from pano.sphere.ambisonics import encode_foa
    from pano.sphere.geometry import angular_distance, grid_angles

    sr = 48000
    rng = np.random.default_rng(0)
    n = int(seconds * fps)
    ts = np.arange(n) / fps
    st = np.arange(int(seconds * sr)) / sr
    h, w = size
    gy, gp = grid_angles(h, w)
    small = rng.uniform(50, 170, (h // 8, w // 8, 1))
    bg = np.repeat(np.kron(small, np.ones((8, 8, 1))), 3, axis=2)
    env = np.zeros(n)
    i, on = 0, True
    while i < n:
        k = int(rng.integers(int(0.2 * fps), int(0.7 * fps)))
        env[i:i + k] = 1.0 if on else 0.0
        i, on = i + k, not on
    env_s = env[np.minimum((st * fps).astype(int), n - 1)]
    tone = 0.3 * np.sin(2 * np.pi * 300 * st) + 0.05 * rng.standard_normal(len(st))

    def disk(yaw, pitch, radius=10.0):
        return angular_distance(gy[None, :], gp[:, None], yaw, pitch) <= radius

    scenes = {}
    pulse = [np.where(disk(60, 15)[..., None], 70 + 180 * e, bg) for e in env]
    scenes["pulse"] = (pulse, tone * env_s, 60.0, 15.0)
    yaw_t = ((25.0 * ts + 60.0 + 180.0) % 360.0) - 180.0
    mover = [np.where(disk(y, 0)[..., None], np.array([230, 200, 40]), bg) for y in yaw_t]
    scenes["mover"] = (mover, tone, ((25.0 * st + 240.0) % 360.0) - 180.0, 0.0, ts, yaw_t)
    still = np.where(disk(-70, 0)[..., None], np.array([200, 60, 40]), bg)
    scenes["still_side"] = ([still] * n, tone * (0.6 + 0.4 * env_s), -70.0, 0.0)
    sky = [np.where(disk(150, 50, 8)[..., None], 120 + 6 * e, bg) for e in env]
    scenes["weak_sky"] = (sky, tone * (0.6 + 0.4 * env_s), 0.0, -5.0)
    for name, (frames, sig, yaw, pitch, *moving) in scenes.items():
        foa = encode_foa(sig.astype(np.float64), yaw, pitch) + 0.003 * rng.standard_normal((4, len(st)))
        write_video(root / f"{name}.mp4", [np.clip(f, 0, 255).astype(np.uint8) for f in frames], fps,
                    audio=(foa.astype(np.float32), sr))
        if moving:
            truth = {"times": moving[0].tolist(), "yaw": moving[1].tolist(), "pitch": [0.0] * len(moving[0])}
        else:
            truth = {"times": [0.0, seconds], "yaw": [yaw, yaw], "pitch": [pitch, pitch]}
        (root / f"{name}.truth.json").write_text(json.dumps(truth))
    return root


def reduce_audio(src: Path, dst: Path, kind: str) -> Path:
    """``src`` with its FOA track replaced by the mono (W), stereo (±90° cardioids) or spaced (two omnis
    ``SPACING`` apart) reduction."""
    if kind == "spaced":
        return _spaced_copy(src, dst)
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-map", "0:v", "-map", "0:a", "-c:v", "copy",
           "-af", PAN[kind], "-c:a", "aac", "-aac_is", "0", "-b:a", "192k", str(dst)]
    subprocess.run(cmd, check=True)
    return dst


def _spaced_copy(src: Path, dst: Path, sr: int = 48000) -> Path:
    """Two omnis ±SPACING/2 on the left (+Y) axis from the AmbiX W and Y: p(±d/2) ≈ W ± (d/2c)·∂Y/∂t."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-map", "0:a", "-ac", "4", "-ar", str(sr),
                          "-f", "f32le", "-"], check=True, capture_output=True).stdout
    foa = np.frombuffer(raw, np.float32).reshape(-1, 4).T.astype(np.float64)
    n = foa.shape[1]
    spec = np.fft.rfft(foa[1])
    dy = np.fft.irfft(spec * 2j * np.pi * np.fft.rfftfreq(n, 1.0 / sr), n)  # ∂Y/∂t
    half = SPACING / (2 * 343.0)
    pair = np.stack([foa[0] + half * dy, foa[0] - half * dy]).T.astype(np.float32)
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-f", "f32le", "-ar", str(sr), "-ac", "2", "-i", "-",
           "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-aac_is", "0", "-b:a", "192k",
           str(dst)]
    subprocess.run(cmd, input=pair.tobytes(), check=True)
    return dst


class FrameCache:
    """Each clip's frames decoded once per analysis size, shared by every run on that clip."""

    def __init__(self, info) -> None:
        self.info = info
        self._frames: dict[tuple[int, int], np.ndarray] = {}
        self._details: dict[tuple, dict[int, np.ndarray]] = {}

    def get(self, size: tuple[int, int]) -> np.ndarray:
        if size not in self._frames:
            self._frames[size] = np.stack([rgb for _i, _t, rgb in self.info.frames(size=size)])
        return self._frames[size]

    def details(self, size: tuple[int, int], every: float) -> dict[int, np.ndarray]:
        """Frame index → RGB at ``size``, once every ``every`` seconds, as ``frame_batches`` gives them."""
        key = (size, float(every))
        if key not in self._details:
            from pano.media.video import iter_frames_detail

            self._details[key] = {i: big for i, _t, _s, big in iter_frames_detail(self.info, (8, 16), size, every)
                                  if big is not None}
        return self._details[key]


def plan_path(audio_info, frames: FrameCache, name: str, checkpoint: str | None, options: dict | None = None,
              planner_options: dict | None = None):
    """Pass 1 + plan as ``pano.pipeline`` does: (name actually run, PlannedPath, localizer description)."""
    from pano import pipeline

    # The run's own view and zoom range (``--fov-range``'s default): a two-shot may widen the view.
    ctx = pipeline.run_context(audio_info, pipeline.RunOptions(checkpoint=checkpoint))
    if name == "auto":
        name, _reason = choose_localizer(ctx)
    source = create_localizer(name, ctx, options)
    planner = create_planner("autocam", ctx, planner_options)
    times = audio_info.frame_times()
    source.prepare(audio_info)
    spec = source.audio_spec
    windows = AudioWindows(audio_info, spec.layout, spec.sample_rate, spec.window) if spec else None
    rgb = frames.get(source.frame_size) if source.frame_size is not None else None
    details = frames.details(source.detail_size, source.detail_every) if source.detail_size else None
    n = len(times) if rgb is None else min(len(times), len(rgb))
    bs = max(1, int(source.batch_size))
    for start in range(0, n, bs):
        idx = np.arange(start, min(start + bs, n))
        ts = times[idx]
        batch = FrameBatch(idx, ts, None if rgb is None else rgb[idx], windows.windows(ts) if windows else None,
                           None if details is None else {k: details[i] for k, i in enumerate(idx) if i in details})
        res = source.process(batch)
        yaw, pitch, resultant = batch_centroids(res.maps)
        planner.observe(Observation(ts, res.maps, yaw, pitch, res.confidence * resultant))
    return name, planner.plan(), source.describe()


def truth_reference(path: Path, times: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per-frame reference directions from ``<clip>.truth.json``: a list of (yaw, pitch) arrays, one
    per source (a frame is captured when any is in view), or None without a truth file."""
    tf = path.with_name(path.stem + ".truth.json")
    if not tf.exists():
        return None
    data = json.loads(tf.read_text())
    if "sources" in data:
        return [(np.full(len(times), float(s["yaw"])), np.full(len(times), float(s["pitch"])))
                for s in data["sources"]]
    t = np.asarray(data["times"], float)
    yaw = np.unwrap(np.radians(np.asarray(data["yaw"], float)))
    y = np.degrees(np.interp(times, t, yaw))
    y = (y + 180.0) % 360.0 - 180.0
    p = np.interp(times, t, np.asarray(data["pitch"], float))
    return [(y, p)]


def score(refs, keep: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, hfov: np.ndarray, vfov: np.ndarray) -> float:
    """Capture on frames ``keep``: the path's own per-frame field of view (a zoomed two-shot is wider)."""
    hit = np.zeros(len(keep), bool)
    for ry, rp in refs:
        hit |= np.asarray(in_view(ry[keep], rp[keep], yaw[keep], pitch[keep], hfov[keep], vfov[keep]), bool)
    return float(hit.mean()) if len(hit) else float("nan")


def bench_clip(clip: Path, tmp: Path, runs: list[str], checkpoint: str | None, options: dict) -> dict:
    info = probe(clip)
    if not info.is_foa:
        raise SystemExit(f"{clip}: not FOA ({info.audio_channels} channels); mono_real needs FOA clips")
    frames = FrameCache(info)
    times = info.frame_times()
    refs = truth_reference(clip, times)
    if refs is None:
        ref = track(info, "ambisonic", RunContext.for_media(info))
        n = min(len(times), len(ref.yaw))
        keep = np.flatnonzero(ref.confidence[:n] >= MIN_CONFIDENCE)
        refs = [(ref.yaw[:n], ref.pitch[:n])]
        ref_kind = "foa"
    else:
        n = len(times)
        keep = np.arange(n)
        ref_kind = "truth"
    kinds = ["mono", "stereo"] + (["spaced"] if any(parse_run(r)[0] == "spaced" for r in runs) else [])
    copies = {k: reduce_audio(clip, tmp / f"{clip.stem}.{k}.mp4", k) for k in kinds}
    row: dict = {"clip": clip.name, "ref": ref_kind, "frames": int(len(keep)), "seconds": float(info.duration)}
    for spec in runs:
        run, extra = parse_run(spec)
        t0 = time.perf_counter()
        hfov, vfov = np.full(n, DEFAULT_HFOV), np.full(n, DEFAULT_VFOV)
        if run == "front":
            yaw, pitch = np.zeros(n), np.zeros(n)
            used = "front"
        else:
            src = info if run == "foa" else probe(copies[run if run in copies else "mono"])
            loc = "auto" if run in ("foa", "mono", "stereo", "spaced") else run
            ckpt = extra.pop("checkpoint", checkpoint) if run == "network" else None  # network:checkpoint=P
            if run == "network" and not ckpt:
                continue
            used, path, _desc = plan_path(src, frames, loc, ckpt, options.get(run, {}) | extra)
            m = min(n, len(path.yaw))
            yaw = np.zeros(n)
            pitch = np.zeros(n)
            yaw[:m], pitch[:m] = path.yaw[:m], path.pitch[:m]
            if path.hfov is not None:
                hfov[:m], vfov[:m] = path.hfov[:m], path.vfov[:m]
        row[spec] = score(refs, keep[keep < n], yaw, pitch, hfov, vfov)
        row[spec + ".localizer"] = used
        row[spec + ".seconds"] = time.perf_counter() - t0
    return row


def parse_run(spec: str) -> tuple[str, dict]:
    """``RUN[:KEY=VALUE...]`` (values JSON, else strings): a run with extra localizer options, for
    ablations, e.g. ``mono:parts=synchrony+motion:prior_strength=0`` (``a+b`` is a list);
    ``network:checkpoint=PATH`` compares several checkpoints in one pass over the clips."""
    run, *pairs = spec.split(":")
    if run not in RUNS:
        raise SystemExit(f"unknown run {run!r}; choose from {', '.join(RUNS)}")
    extra = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value.split("+") if "+" in value or key == "parts" else value
    return run, extra


def format_table(rows: list[dict], runs: list[str]) -> str:
    width = max([6, *(len(r["clip"]) for r in rows)]) + 2
    labels = {r: (r if len(r) <= 9 else f"[{i}]") for i, r in enumerate(runs)}
    head = f"{'clip':{width}s}{'ref':>6s}{'frames':>7s}" + "".join(f"{labels[r]:>10s}" for r in runs)
    lines = ["capture: fraction of scored frames whose reference direction is inside the planned view", head]
    for r in rows:
        lines.append(f"{r['clip']:{width}s}{r['ref']:>6s}{r['frames']:>7d}"
                     + "".join(f"{r.get(k, float('nan')):>10.3f}" for k in runs))
    means = {k: float(np.nanmean([r.get(k, np.nan) for r in rows])) for k in runs}
    lines.append(f"{'mean':{width}s}{'':>6s}{sum(r['frames'] for r in rows):>7d}"
                 + "".join(f"{means[k]:>10.3f}" for k in runs))
    worst = {k: min(r.get(k, np.nan) - r["front"] for r in rows) for k in runs} if "front" in runs else {}
    if worst:
        lines.append(f"{'min-front':{width}s}{'':>13s}" + "".join(f"{worst[k]:>+10.3f}" for k in runs))
    lines += [f"[{i}] = {r}" for i, r in enumerate(runs) if labels[r] != r]
    used = {k: sorted({r.get(k + ".localizer", "") for r in rows}) for k in runs}
    lines.append("localizers: " + "; ".join(f"{k}={'/'.join(v)}" for k, v in used.items() if v != [""]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", type=Path, nargs="?")
    ap.add_argument("--synthetic", action="store_true", help="run on the synthetic FOA scenes instead of DIR")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--runs", default=",".join(RUNS),
                    help=f"comma-separated runs from {','.join(RUNS)}, each optionally RUN:KEY=VALUE:... "
                    "(extra localizer options, for ablations)")
    ap.add_argument("--clips", default=None, help="comma-separated name prefixes to run (default all)")
    ap.add_argument("--option", action="append", default=[],
                    help="RUN:KEY=VALUE localizer option for one run (e.g. mono:prior_strength=0)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        raise SystemExit("mono_real needs the ffmpeg CLI to write the mono/stereo copies (apt-get install ffmpeg)")
    runs = [r for r in args.runs.split(",") if r]
    if not args.checkpoint:
        runs = [r for r in runs if parse_run(r)[0] != "network" or "checkpoint" in parse_run(r)[1]]
    options: dict[str, dict] = {}
    for item in args.option:
        run, kv = item.split(":", 1)
        key, value = kv.split("=", 1)
        try:
            options.setdefault(run, {})[key] = json.loads(value)
        except json.JSONDecodeError:
            options.setdefault(run, {})[key] = value
    rows = []
    with tempfile.TemporaryDirectory(prefix="mono-real-") as tmp:
        if args.synthetic:
            (Path(tmp) / "scenes").mkdir()
            args.dir = write_synthetic(Path(tmp) / "scenes")
        elif args.dir is None:
            ap.error("give DIR or --synthetic")
        clips = sorted(p for p in args.dir.glob("*.mp4") if not p.name.endswith((".nfov.mp4", ".saliency.mp4")))
        if args.clips:
            clips = [c for c in clips if c.name.startswith(tuple(args.clips.split(",")))]
        for clip in clips:
            row = bench_clip(clip, Path(tmp), runs, args.checkpoint, options)
            rows.append(row)
            print(f"{clip.name}: " + "  ".join(f"{k}={row[k]:.3f}" for k in runs if k in row)
                  + "  (" + ", ".join(f"{k} {row[k + '.seconds']:.0f}s" for k in runs if k + ".seconds" in row)
                  + ")", file=sys.stderr, flush=True)
    print(format_table(rows, runs))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
