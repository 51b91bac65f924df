"""Does the FOA direction (and the camera planned on it) lead or lag a moving source, or read it high?

A clean synthetic check of pass 1's timing and elevation, for issue 21's real orbit clips (where the FOA
direction seemed to lead a sphere orbiting at 30°/s by ~20° either way round). Sources: white noise and a
drum-like pulse train, 24 kHz AmbiX, orbiting at ±30°/s at pitch 0 and +19°, and static at pitch ±19°:

* ``free``: plane waves (no room);
* ``room``: a shoebox (8 × 6 × 3.5 m, RT60 ≈ 0.4 s) by image sources up to order 12, the *emitted* signal
  cut in 10-ms blocks each leaving the source where it is when emitted, so reflections come from where it
  was (what a real moving source does);
* ``turned``: the media builder's approximation for moving sources: the room's response for the source at
  yaw 0 convolved, then the whole wet field turned per sample to the source's yaw (the room turns with it).

Per frame the ``ambisonic`` localizer is fed windows centred on the frame's time (as ``AudioWindows``
does), its map's centroid (``batch_centroids``, what the planner gets) and peak are compared with the
source, and the ``autocam`` path planned on them likewise. ``lead``: median yaw error along the motion
(degrees; + ahead); ``shift``: the time offset that best aligns the track with the truth (seconds, +
ahead, whichever way it moves); ``pitch``: median elevation error. Frames with confidence ≥ 0.3 after the first 2 s.

    python benchmarks/foa_lead.py [--seconds 16] [--only free,room,turned]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pano.localizers.ambisonic import AmbisonicLocalizer  # noqa: E402
from pano.localizers.base import FrameBatch  # noqa: E402
from pano.localizers.importance import batch_centroids  # noqa: E402
from pano.planning.autocam import AutoCamPlanner  # noqa: E402
from pano.planning.base import Observation  # noqa: E402
from pano.run.context import RunContext  # noqa: E402
from pano.sphere.ambisonics import encode_foa, rotate_foa_yaw  # noqa: E402
from pano.sphere.geometry import yaw_pitch_to_vec  # noqa: E402
from pano.sphere.views import OutputGeometry  # noqa: E402

SR, FPS = 24000, 30.0
C = 343.0
ROOM, MIC, DISTANCE = np.array([8.0, 6.0, 3.5]), np.array([3.2, 2.6, 1.5]), 2.0


def wrap(x):
    return (np.asarray(x, float) + 180.0) % 360.0 - 180.0


def pulses(rng: np.random.Generator, n: int) -> np.ndarray:
    """Decaying noise bursts, 4 a second, every fourth accented (a drum loop's attacks)."""
    out = np.zeros(n)
    for k, start in enumerate(range(0, n, SR // 4)):
        m = min(int(0.15 * SR), n - start)
        accent = 1.0 if k % 4 == 0 else 0.5
        out[start : start + m] = accent * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.03 * SR))
    return 0.1 * out / out.std()


def image_rir(src: np.ndarray, order: int = 12, beta: float = 0.85) -> np.ndarray:
    """AmbiX (4, L) response of the shoebox from ``src`` to the coincident microphone at MIC: every image
    source with at most ``order`` reflections, gain beta^reflections / distance, from its own direction."""
    axes = []
    for ax in range(3):
        pos, refl = [], []
        for n in range(-(order // 2) - 1, order // 2 + 2):
            for p in (0, 1):
                if abs(2 * n - p) <= order:
                    pos.append((-1) ** p * src[ax] + 2 * n * ROOM[ax])
                    refl.append(abs(2 * n - p))
        axes.append((np.array(pos), np.array(refl)))
    (px, rx), (py, ry), (pz, rz) = axes
    total = rx[:, None, None] + ry[None, :, None] + rz[None, None, :]
    ix, iy, iz = np.nonzero(total <= order)
    v = np.stack([px[ix], py[iy], pz[iz]], -1) - MIC
    d = np.linalg.norm(v, axis=1)
    u = v / d[:, None]
    amp = beta ** total[ix, iy, iz] / d
    delay = np.round(d / C * SR).astype(int)
    h = np.zeros((4, delay.max() + 1))
    for c, comp in enumerate((np.ones(len(u)), u[:, 1], u[:, 2], u[:, 0])):
        np.add.at(h[c], delay, amp * comp)
    return h


def in_room(sig: np.ndarray, yaw_at, pitch: float, turned: bool) -> np.ndarray:
    from scipy.signal import fftconvolve

    n = len(sig)
    if turned:
        h = image_rir(MIC + DISTANCE * yaw_pitch_to_vec(0.0, pitch))
        wet = np.stack([fftconvolve(sig, h[c])[:n] for c in range(4)])
        yaw = yaw_at(np.arange(n) / SR)
        out = wet.copy()
        for a in range(0, n, SR // 100):  # turned per 10 ms (rotate_foa_yaw takes one angle)
            out[:, a : a + SR // 100] = rotate_foa_yaw(wet[:, a : a + SR // 100], float(yaw[min(a + SR // 200, n - 1)]))
        return out
    hop = SR // 100
    win = np.hanning(2 * hop + 1)[:-1]  # periodic Hann: overlapping blocks sum to 1
    out = np.zeros((4, n + SR))
    for a in range(-hop, n, hop):
        lo, hi = max(a, 0), min(a + 2 * hop, n)
        if hi <= lo:
            continue
        h = image_rir(MIC + DISTANCE * yaw_pitch_to_vec(float(yaw_at((a + hop) / SR)), pitch))
        y = np.stack([fftconvolve(sig[lo:hi] * win[lo - a : hi - a], h[c]) for c in range(4)])
        out[:, lo : lo + y.shape[1]] += y
    return out[:, :n]


def track(foa: np.ndarray) -> dict:
    """Pass 1 on the track: the localizer per frame (windows centred on the frame times) and autocam."""
    ctx = RunContext(audio_format="ambix", fps=FPS, geometry=OutputGeometry(65.5, 36.8, 160, 90, None))
    src = AmbisonicLocalizer.build(ctx, sample_rate=SR)
    planner = AutoCamPlanner.build(ctx, subject="off")
    win = int(round(src.audio_spec.window * SR))
    times = np.arange(int(foa.shape[1] / SR * FPS)) / FPS
    h, w = src.options.grid
    cols: dict[str, list] = {"yaw": [], "pitch": [], "conf": [], "peak_yaw": [], "peak_pitch": []}
    for a in range(0, len(times), src.batch_size):
        t = times[a : a + src.batch_size]
        audio = np.zeros((len(t), 4, win), np.float32)
        for i, ti in enumerate(t):
            s = int(round(ti * SR)) - win // 2
            lo, hi = max(s, 0), min(s + win, foa.shape[1])
            audio[i, :, lo - s : hi - s] = foa[:, lo:hi]
        out = src.process(FrameBatch(np.arange(a, a + len(t)), t, audio=audio))
        y, p, r = batch_centroids(out.maps)
        planner.observe(Observation(t, out.maps, y, p, out.confidence * r))
        flat = out.maps.reshape(len(t), -1).argmax(axis=1)
        peak_yaw, peak_pitch = (flat % w + 0.5) / w * 360.0 - 180.0, 90.0 - (flat // w + 0.5) / h * 180.0
        for k, v in (("yaw", y), ("pitch", p), ("conf", out.confidence * r), ("peak_yaw", peak_yaw),
                     ("peak_pitch", peak_pitch)):
            cols[k].append(v)
    res = {k: np.concatenate(v) for k, v in cols.items()} | {"t": times}
    path = planner.plan()
    res["cam_yaw"], res["cam_pitch"] = path.yaw[: len(times)], path.pitch[: len(times)]
    return res


def measure(res: dict, yaw_at, pitch: float, speed: float) -> dict:
    t = res["t"]
    k = (t > 2.0) & (t < t[-1] - 1.0) & (res["conf"] > 0.3)
    sign = np.sign(speed) if speed else 1.0
    row = {"frames": float(k.mean())}
    for name, y, p in (("loc", res["yaw"], res["pitch"]), ("peak", res["peak_yaw"], res["peak_pitch"]),
                       ("cam", res["cam_yaw"], res["cam_pitch"])):
        row[f"{name}_lead"] = float(np.median(sign * wrap(y[k] - yaw_at(t[k]))))
        row[f"{name}_pitch"] = float(np.median(p[k] - pitch))
        if speed and name != "peak":
            shifts = np.arange(-1.5, 1.5, 1.0 / FPS)
            err = [np.mean(np.abs(wrap(y[k] - yaw_at(t[k] + d)))) for d in shifts]
            row[f"{name}_shift"] = float(shifts[int(np.argmin(err))])  # est(t) ≈ truth(t + shift)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=16.0)
    ap.add_argument("--only", default="free,room,turned")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    n = int(args.seconds * SR)
    st = np.arange(n) / SR
    signals = {"noise": 0.1 * rng.standard_normal(n), "pulses": pulses(rng, n)}
    print(f"{'case':34s}{'frames':>7s} | {'loc lead':>8s}{'shift':>7s}{'pitch':>7s} | {'peak lead':>9s}{'pitch':>7s}"
          f" | {'cam lead':>8s}{'shift':>7s}{'pitch':>7s}")
    for mode in args.only.split(","):
        for sname, sig in signals.items():
            for speed, pitch in ((30.0, 0.0), (-30.0, 0.0), (30.0, 19.0), (0.0, 19.0), (0.0, -19.0)):
                if mode == "turned" and not speed:
                    continue  # a static source: the same as "room"
                yaw_at = (lambda s: (lambda t: wrap(s * np.asarray(t, float) - 90.0)))(speed) if speed else \
                    (lambda t: np.full(np.shape(t), 40.0))
                if mode == "free":
                    foa = encode_foa(sig, yaw_at(st), pitch)
                else:
                    foa = in_room(sig, yaw_at, pitch, turned=mode == "turned")
                foa = (foa / np.abs(foa).max()).astype(np.float32)
                r = measure(track(foa), yaw_at, pitch, speed)
                motion = f"orbit {speed:+.0f}°/s" if speed else "static"
                name = f"{mode} {sname} {motion} pitch {pitch:+.0f}"
                ls, cs = (f"{r[k]:+7.2f}" if k in r else f"{'-':>7s}" for k in ("loc_shift", "cam_shift"))
                print(f"{name:34s}{r['frames']:7.2f} | {r['loc_lead']:+8.1f}{ls}{r['loc_pitch']:+7.1f} | "
                      f"{r['peak_lead']:+9.1f}{r['peak_pitch']:+7.1f} | {r['cam_lead']:+8.1f}{cs}"
                      f"{r['cam_pitch']:+7.1f}", flush=True)
    print("lead: median yaw error along the motion (°, + ahead; static: the yaw error); shift: the time offset that "
          "best aligns the track with the truth (s, + ahead); pitch: median elevation error (°); loc: the map's "
          "centroid (what the planner gets), peak: its argmax, cam: the autocam path")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
