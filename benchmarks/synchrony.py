"""Per-frame cost of the training-free sources against a bare decode, measured in one process.

Writes a 960×480, 30 fps libx264 clip with PyAV (textured panorama, a pulsing blob, sensor noise), then
times per frame:
  (a) bare decode: PyAV decodes every frame, no pixel-format conversion — the floor of any pass 1;
  (b) decode + swscale downsize to the synchrony grid as RGB (what the pipeline does for synchrony);
  (c) ``synchrony`` ``process`` on those small frames plus mono audio windows;
  (d) ``ambisonic`` ``process`` on FOA windows, if ``pano/saliency/ambisonic.py`` exists;
and prints c/a, (b+c)/a and d/a. Costs are CPU seconds of this process (all threads; a fair cost on a
shared machine, where wall time mostly measures the neighbours), wall seconds alongside; each is the
best of ``--repeats`` runs.

    python benchmarks/synchrony.py [--seconds 6] [--repeats 3]
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

from pano.localizers.base import FrameBatch  # noqa: E402
from pano.localizers.synchrony import SynchronyLocalizer  # noqa: E402
from pano.run.context import RunContext  # noqa: E402
from pano.sphere.geometry import angular_distance, grid_angles  # noqa: E402


def write_clip(path: Path, seconds: float, fps: int = 30, size: tuple[int, int] = (480, 960)) -> int:
    """A textured panorama with a pulsing blob and noise, libx264 yuv420p; returns the frame count."""
    import av

    rng = np.random.default_rng(0)
    h, w = size
    yaw, pitch = grid_angles(h, w)
    d = angular_distance(yaw[None, :], pitch[:, None], 60.0, 10.0)
    blob = np.exp(-0.5 * (d / 8.0) ** 2)[..., None]
    small = rng.uniform(40, 200, (h // 8, w // 8, 3))
    texture = np.kron(small, np.ones((8, 8, 1)))
    n = int(seconds * fps)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for k in range(n):
            pulse = 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * k / fps)
            img = texture + 60.0 * pulse * blob + rng.normal(0, 3.0, (h, w, 1))
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return n


def _clock() -> np.ndarray:
    return np.array([time.process_time(), time.perf_counter()])


def time_decode(path: Path, size: tuple[int, int] | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(CPU, wall) seconds to decode the clip (and, with ``size``, convert to RGB at that size)."""
    import av

    frames = []
    t0 = _clock()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if size is not None:
                frames.append(
                    frame.to_ndarray(format="rgb24", height=size[0], width=size[1], interpolation="AREA")
                )
    return _clock() - t0, frames


def time_source(make, frames: np.ndarray | None, audio: np.ndarray, fps: float) -> np.ndarray:
    """(CPU, wall) seconds for a fresh source to process the whole clip in its own batch size."""
    src = make()
    n = len(audio)
    t0 = _clock()
    for s in range(0, n, src.batch_size):
        idx = np.arange(s, min(s + src.batch_size, n))
        src.process(
            FrameBatch(
                indices=idx, times=idx / fps, frames=None if frames is None else frames[idx], audio=audio[idx]
            )
        )
    return _clock() - t0


def best(runs) -> np.ndarray:
    return np.min(np.stack(list(runs)), axis=0)


def audio_windows(n: int, fps: float, rate: int, window: float, channels: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    samples = max(1, int(round(window * rate)))
    return (0.1 * rng.standard_normal((n, channels, samples))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    fps = 30.0
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "bench960x480.mp4"
        n = write_clip(clip, args.seconds, int(fps))
        syn = SynchronyLocalizer.build(RunContext(fps=fps))
        syn_grid = syn.frame_size
        bare = best(time_decode(clip, None)[0] for _ in range(args.repeats))
        small_runs = [time_decode(clip, syn_grid) for _ in range(args.repeats)]
        small = best(t for t, _ in small_runs)
        frames = np.stack(small_runs[0][1])
    n = len(frames)
    mono = audio_windows(n, fps, syn.audio_spec.sample_rate, syn.audio_spec.window, 1)
    rows = [
        ("bare decode 960x480", bare),
        (f"decode + downsize to {syn_grid[0]}x{syn_grid[1]} RGB", small),
    ]
    ctx = RunContext(fps=fps)
    syn_t = best(time_source(lambda: SynchronyLocalizer.build(ctx), frames, mono, fps) for _ in range(args.repeats))
    rows.append(("synchrony process", syn_t))
    no_track = best(
        time_source(lambda: SynchronyLocalizer.build(ctx, track_yaw=False), frames, mono, fps)
        for _ in range(args.repeats)
    )
    rows.append(("synchrony process, track_yaw=False", no_track))
    amb_t = None
    try:
        from pano.localizers.ambisonic import AmbisonicLocalizer
    except ImportError:
        AmbisonicLocalizer = None  # noqa: N806 - the optional class
    if AmbisonicLocalizer is not None:
        foa_ctx = RunContext(fps=fps, audio_format="ambix")
        amb = AmbisonicLocalizer.build(foa_ctx)
        foa = audio_windows(n, fps, amb.audio_spec.sample_rate, amb.audio_spec.window, 4)
        amb_t = best(time_source(lambda: AmbisonicLocalizer.build(foa_ctx), None, foa, fps)
                     for _ in range(args.repeats))
        rows.append(("ambisonic process", amb_t))

    print(f"{n} frames, 960x480 @ {fps:g} fps, libx264; best of {args.repeats}; CPU time (wall time)")
    for label, t in rows:
        print(
            f"  {label:42s} {1e3 * t[0] / n:7.3f} ms/frame ({1e3 * t[1] / n:6.3f})"
            f"   {t[0] / bare[0]:6.2f}x bare decode ({t[1] / bare[1]:5.2f}x)"
        )
    ratios = [("synchrony", syn_t / bare), ("(downsized decode + synchrony)", (small + syn_t) / bare)]
    if amb_t is not None:
        ratios.append(("ambisonic", amb_t / bare))
    for label, r in ratios:
        print(f"{label + ' / bare decode:':46s} {r[0]:.2f} CPU, {r[1]:.2f} wall")


if __name__ == "__main__":
    main()
