"""Make the project's demo 360° clip and its ground truth, deterministically.

``python examples/make_demo.py`` writes ``examples/demo360.mp4`` (960×480, 30 fps, 10 s, H.264 yuv420p,
AmbiX FOA as 4-channel AAC "quad" at 48 kHz, declared as such by a Spatial Audio ``SA3D`` box, and the
frames declared equirectangular by a Spherical Video V2 ``sv3d`` box, as a 360° camera would) and
``examples/demo360.truth.json``:

* a sky/ground panorama with a 30° × 15° grid and compass marks, so camera motion is visible;
* an orange **sound source** that moves right at 28°/s, crossing the ±180° seam at about 2.9 s, bobbing in
  pitch; it sounds a harmonic tone with a 2.5 Hz tremolo, and swells with it, except for a 0.8 s silent
  gap (5.6–6.4 s) where it turns dim;
* a bright white-cyan **silent distractor** drifting in front-left, which a purely visual method may
  prefer;
* the source encoded at its true direction per sample, plus a diffuse noise bed 20 dB down.

Objects are drawn on the sphere (angular distance from their centre), so they stay round in the view a
viewer sees, however they stretch in the equirectangular frame. The truth file lists per frame ``t``,
``yaw``, ``pitch`` and ``sounding`` of the source, and the distractor's direction. ``--verify`` decodes
the written file and runs the ``ambisonic`` source over it, as an end-to-end check of the audio path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source tree without install

from pano.media.boxes import MetadataBoxes  # noqa: E402
from pano.media.writer import VideoWriter  # noqa: E402
from pano.sphere.ambisonics import diffuse_noise, encode_foa  # noqa: E402
from pano.sphere.geometry import grid_angles, grid_vectors, wrap_yaw, yaw_to_x  # noqa: E402

WIDTH, HEIGHT, FPS = 960, 480, 30
AUDIO_RATE = 48000
SEED = 360
GAP = (5.6, 6.4)  # seconds the source is silent
RAMP = 0.03  # s, raised-cosine fades into and out of the gap
TREMOLO_HZ = 2.5


def source_path(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sound source yaw/pitch (degrees) at times ``t``: 28°/s to the right from yaw 100."""
    return wrap_yaw(100.0 + 28.0 * t), 10.0 * np.sin(2 * np.pi * t / 6.0)


def distractor_path(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Silent distractor: drifts around yaw −50, below the horizon."""
    return wrap_yaw(-50.0 + 20.0 * np.sin(2 * np.pi * t / 10.0)), -15.0 + 3.0 * np.sin(2 * np.pi * t / 4.0)


def gate(t: np.ndarray) -> np.ndarray:
    """1 while the source sounds, 0 in the gap, with short raised-cosine fades (no clicks)."""
    t = np.asarray(t, dtype=np.float64)
    down = np.clip((t - GAP[0]) / RAMP, 0.0, 1.0)
    up = np.clip((t - GAP[1]) / RAMP, 0.0, 1.0)
    fade = lambda u: 0.5 - 0.5 * np.cos(np.pi * u)  # noqa: E731
    return 1.0 - fade(down) + fade(up)


def tremolo(t: np.ndarray) -> np.ndarray:
    """Loudness envelope in [0, 1] that also drives the disk's swelling."""
    return 0.5 + 0.5 * np.sin(2 * np.pi * TREMOLO_HZ * np.asarray(t, dtype=np.float64))


def make_audio(duration: float, rng: np.random.Generator) -> np.ndarray:
    """AmbiX FOA (4, S) float32 at 48 kHz: the moving source plus a diffuse bed 20 dB down."""
    n = int(round(duration * AUDIO_RATE))
    t = np.arange(n) / AUDIO_RATE
    f0 = 196.0 * (1.0 + 0.015 * np.sin(2 * np.pi * 5.0 * t))  # a little vibrato
    phase = 2 * np.pi * np.cumsum(f0) / AUDIO_RATE
    # Harmonics 1..24 (to ~4.7 kHz) with a soft formant bump near 1 kHz: a voice-like buzz, broadband
    # enough that every analysis band sees the source.
    tone = np.zeros(n)
    for k in range(1, 25):
        amp = (1.0 / k) * (1.0 + 2.0 * np.exp(-((((k * 196.0) - 1000.0) / 400.0) ** 2)))
        tone += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    env = (0.35 + 0.65 * tremolo(t)) * gate(t)
    sig = tone * env
    sig *= 0.12 / np.sqrt(np.mean(sig**2))  # about −18 dBFS RMS on W
    yaw, pitch = source_path(t)
    foa = encode_foa(sig, yaw, pitch)
    bed = diffuse_noise(n, rng, n_directions=128, dtype=np.float64)
    foa += 0.012 * bed  # 20 dB under the source
    peak = np.abs(foa).max()
    if peak > 0.95:
        foa *= 0.95 / peak
    return foa.astype(np.float32)


def make_background(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Sky/ground panorama (H, W, 3) uint8, seamless: texture is a function of the 3-D direction."""
    vec = grid_vectors(height, width)
    yaw, pitch = grid_angles(height, width)
    pitch = pitch[:, None] * np.ones((1, width))
    # Smooth "clouds"/"terrain": a few random plane waves over the unit sphere (no seam, no pole pinch).
    tex = np.zeros((height, width))
    for freq in (2.0, 4.0, 8.0):
        for _ in range(4):
            k = rng.standard_normal(3) * freq
            tex += np.sin(vec @ k + rng.uniform(0, 2 * np.pi)) / freq
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    up = np.clip(pitch / 90.0, 0.0, 1.0)[..., None]
    down = np.clip(-pitch / 90.0, 0.0, 1.0)[..., None]
    sky = (1 - up) * np.array([205, 225, 245]) + up * np.array([35, 85, 170])
    sky = sky * (0.85 + 0.3 * tex[..., None] ** 2)
    ground = (1 - down) * np.array([125, 150, 85]) + down * np.array([55, 65, 40])
    ground = ground * (0.75 + 0.35 * tex[..., None])
    img = np.where((pitch >= 0)[..., None], sky, ground)
    # Grid lines every 30° of yaw and 15° of pitch, about one pixel wide, anti-aliased.
    px = 360.0 / width
    dy = np.abs((yaw[None, :] + 15.0) % 30.0 - 15.0) / px
    dp = np.abs((pitch + 7.5) % 15.0 - 7.5) / px
    line = np.clip(1.2 - np.minimum(dy * np.ones_like(dp), dp), 0.0, 1.0)[..., None]
    img = img * (1 - 0.45 * line)
    horizon = np.clip(1.5 - np.abs(pitch) / px, 0.0, 1.0)[..., None]
    img = img * (1 - horizon) + horizon * 250.0
    img = np.clip(img, 0, 255).astype(np.uint8)
    y = int(round((0.5 + 6.0 / 180.0) * height))  # just under the horizon
    for label, at in (("FRONT 0", 0.0), ("RIGHT +90", 90.0), ("LEFT -90", -90.0)):
        (tw, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        x = int(round(yaw_to_x(at, width))) - tw // 2
        cv2.putText(img, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (250, 250, 250), 1, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize("BACK 180", cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    cv2.putText(img, "BACK 180", (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (250, 250, 250), 1, cv2.LINE_AA)
    cv2.putText(
        img, "BACK 180", (width - tw - 4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (250, 250, 250), 1, cv2.LINE_AA
    )
    return img


class SphereDisk:
    """Draws a shaded disk of a given angular radius on the equirectangular frame."""

    def __init__(self, height: int = HEIGHT, width: int = WIDTH) -> None:
        self.vec = grid_vectors(height, width).astype(np.float32)
        self.px = np.float32(np.radians(360.0 / width))

    def draw(self, img: np.ndarray, yaw: float, pitch: float, radius: float, rim, core) -> None:
        from pano.sphere.geometry import yaw_pitch_to_vec

        c = yaw_pitch_to_vec(yaw, pitch).astype(np.float32)
        r = np.float32(np.radians(radius))
        dot = self.vec @ c
        near = dot > np.cos(r + 3 * self.px)  # only pixels near the disk pay for arccos
        ang = np.arccos(np.clip(dot[near], -1.0, 1.0))
        alpha = np.clip((r - ang) / self.px + 0.5, 0.0, 1.0)[:, None]
        shade = np.clip(1.0 - ang / r, 0.0, 1.0)[:, None] ** 0.7  # bright core, coloured rim
        colour = (1 - shade) * np.asarray(rim, np.float32) + shade * np.asarray(core, np.float32)
        pix = img[near].astype(np.float32)
        img[near] = np.clip(pix * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def frame_truth(n_frames: int) -> list[dict]:
    t = np.arange(n_frames) / FPS
    sy, sp = source_path(t)
    dy, dp = distractor_path(t)
    sounding = gate(t) > 0.5
    return [
        {
            "frame": i,
            "t": round(float(t[i]), 6),
            "yaw": round(float(sy[i]), 4),
            "pitch": round(float(sp[i]), 4),
            "sounding": bool(sounding[i]),
            "distractor_yaw": round(float(dy[i]), 4),
            "distractor_pitch": round(float(dp[i]), 4),
        }
        for i in range(n_frames)
    ]


def frames(n_frames: int, background: np.ndarray):
    disk = SphereDisk()
    for i in range(n_frames):
        t = i / FPS
        img = background.copy()
        dy, dp = distractor_path(np.array(t))
        disk.draw(img, float(dy), float(dp), 11.0, rim=(40, 170, 200), core=(235, 255, 255))
        sy, sp = source_path(np.array(t))
        g = float(gate(t))
        swell = 1.0 + 0.25 * g * float(tremolo(t))
        rim = np.array([150, 90, 60]) * (1 - g) + np.array([230, 60, 20]) * g
        core = np.array([170, 120, 90]) * (1 - g) + np.array([255, 220, 60]) * g
        disk.draw(img, float(sy), float(sp), 8.0 * swell, rim=rim, core=core)
        yield img


def verify(path: Path, truth: list[dict]) -> dict:
    """Decode the written audio and localise it with the ``ambisonic`` source against the truth."""
    import av
    from scipy.signal import resample_poly

    from pano.localizers.ambisonic import AmbisonicLocalizer
    from pano.localizers.base import FrameBatch
    from pano.run.context import RunContext
    from pano.sphere.geometry import angular_distance, spherical_mean

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = stream.codec_context.layout.name
        audio = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    src = AmbisonicLocalizer.build(RunContext(audio_format="ambix", fps=FPS))
    rate, win = src.audio_spec.sample_rate, int(round(src.audio_spec.window * src.audio_spec.sample_rate))
    track = resample_poly(audio.astype(np.float64), rate, AUDIO_RATE, axis=1).astype(np.float32)
    errors, gap_conf, conf = [], [], []
    for s in range(0, len(truth), 32):
        rows = truth[s : s + 32]
        times = np.array([r["t"] for r in rows])
        out = np.zeros((len(rows), 4, win), np.float32)
        for i, tt in enumerate(times):
            a = int(round(tt * rate)) - win // 2
            lo, hi = max(a, 0), min(a + win, track.shape[1])
            out[i, :, lo - a : hi - a] = track[:4, lo:hi]
        res = src.process(FrameBatch(np.array([r["frame"] for r in rows]), times, audio=out))
        for r, m, c in zip(rows, res.maps, res.confidence, strict=True):
            near_gap = GAP[0] - 0.15 < r["t"] < GAP[1] + 0.15
            if r["sounding"] and not near_gap and r["t"] > 0.1:
                yaw, pitch, _ = spherical_mean(m)
                errors.append(angular_distance(yaw, pitch, r["yaw"], r["pitch"]))
                conf.append(c)
            elif not r["sounding"] and GAP[0] + 0.15 < r["t"] < GAP[1] - 0.15:
                gap_conf.append(c)
    return {
        "audio_layout": layout,
        "median_error_deg": round(float(np.median(errors)), 2),
        "max_error_deg": round(float(np.max(errors)), 2),
        "mean_confidence_sounding": round(float(np.mean(conf)), 3),
        "max_confidence_in_gap": round(float(np.max(gap_conf)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=here / "demo360.mp4")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--crf", type=int, default=24)
    ap.add_argument("--verify", action="store_true", help="decode the result and localise its audio")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(SEED)
    n_frames = int(round(args.seconds * FPS))
    background = make_background(rng)
    audio = make_audio(n_frames / FPS, rng)
    truth = frame_truth(n_frames)
    # One encoder thread: x264's multi-threaded output varied from run to run here, and the demo file
    # should be byte-for-byte reproducible.
    with VideoWriter(
        args.out, WIDTH, HEIGHT, FPS, audio=(audio, AUDIO_RATE), crf=args.crf, preset="medium", threads=1,
        boxes=MetadataBoxes(equirectangular=True, ambisonic_channels=4),
    ) as writer:
        for img in frames(n_frames, background):
            writer.write(img)
    truth_path = args.out.with_suffix(".truth.json")
    doc = {
        "schema": "pano-pan/demo-truth@1",
        "generator": "examples/make_demo.py",
        "seed": SEED,
        "video": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "frame_count": n_frames},
        "audio": {
            "sample_rate": AUDIO_RATE,
            "format": "ambix",
            "channels": 4,
            "codec": "aac",
            "layout": "quad",
            "metadata": "SA3D (order 1, ACN, SN3D)",
        },
        "gap": list(GAP),
        "frames": truth,
    }
    truth_path.write_text(json.dumps(doc, indent=1) + "\n")
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {n_frames} frames) and {truth_path.name}")
    if args.verify:
        print(json.dumps(verify(args.out, truth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
