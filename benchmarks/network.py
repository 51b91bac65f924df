"""Speed of the two-stream localizer and the ``network`` saliency source (not a test).

Prints measured numbers and ratios against a baseline measured in the same process:

1. visual net (VGG-16 conv5_3 + attention) per frame at 480×960 (the paper's 360° input) and at the
   source's default inference size; ratio = how much the default saves; and what the circular yaw
   padding at the seam (half the receptive field on each side) costs at that size;
2. audio cost per frame: one streaming conv8 pass over the track + O(1) pooling per frame, against
   running SoundNet on each frame's own 20 s window (goal ≥ 50×);
3. frames/s of the ``network`` source at its defaults against the video's 30 fps.

Weights are random (speed does not depend on them). Usage:
    python benchmarks/network.py [--device cpu] [--frames 60] [--seconds 60] [--reps 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from common.audio_io import iter_audio_chunks
from pano.localizers.base import FrameBatch
from pano.localizers.network import NetworkLocalizer, NetworkOptions, wrapped_features
from pano.run.context import RunContext
from soundloc.checkpoint import save_checkpoint
from soundloc.model import ModelConfig, SoundLocalizer, scale_waveform
from soundloc.streaming import WindowPooler, conv8_track

SR = 22050
FPS = 30.0

class AudioTrack(SimpleNamespace):
    """A sound file standing in for a video's ``MediaInfo``: what the network source reads of it."""

    def audio_chunks(self, sample_rate: int, channels: int | None = None, chunk_seconds: float = 2.0):
        return iter_audio_chunks(self.path, sample_rate, channels=channels, chunk_seconds=chunk_seconds)



def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, reps: int, device: str) -> float:
    fn()  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / reps


_H = NetworkOptions().inference_height
DEFAULT_HW = (_H, 2 * _H)  # the network source's default inference size


def visual(model: SoundLocalizer, device: str, reps: int) -> dict:
    h = torch.randn(1, model.config.embed_dim, device=device)
    out = {}
    for hw in ((480, 960), DEFAULT_HW):
        x = torch.randn(1, 3, *hw, device=device)

        @torch.inference_mode()
        def run(x=x):
            model.attend(model.visual_features(x), h)

        out[hw] = _timed(run, reps, device)
    x = torch.randn(1, 3, *DEFAULT_HW, device=device)

    @torch.inference_mode()
    def wrapped():
        model.attend(wrapped_features(model, x), h)

    out["wrapped"] = _timed(wrapped, reps, device)
    return out


def audio(model: SoundLocalizer, seconds: float, device: str) -> dict:
    rng = np.random.default_rng(0)
    track = scale_waveform(rng.uniform(-0.5, 0.5, int(seconds * SR)).astype(np.float32))
    n_frames = int(seconds * FPS)
    times = np.arange(n_frames) / FPS

    def streaming():
        feats = conv8_track(model.soundnet, track.split(10 * SR), device=device)
        pool = WindowPooler(feats, SR, 20.0)
        with torch.inference_mode():
            model.embed_features(pool.pooled(times).to(device))

    t_stream = _timed(streaming, 1, device)
    # baseline: SoundNet + head on each frame's own 20 s window; timed on a sample of frames
    sample = np.linspace(10.0, seconds - 10.0, 12)
    win = 20 * SR

    @torch.inference_mode()
    def per_window():
        for tau in sample:
            w0 = int(round((tau - 10.0) * SR))
            model.embed_audio(track[None, w0 : w0 + win].to(device))

    t_window = _timed(per_window, 1, device) / len(sample)
    return {"stream_per_frame": t_stream / n_frames, "window_per_frame": t_window, "frames": n_frames}


def source_fps(device: str, frames: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        torch.manual_seed(0)
        ckpt = save_checkpoint(d / "vgg.pt", SoundLocalizer(ModelConfig()))
        rng = np.random.default_rng(0)
        pcm = (rng.uniform(-0.3, 0.3, int(seconds * SR)) * 32767).astype(np.int16)
        wav = d / "track.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(pcm.tobytes())
        src = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt), device=device, fps=FPS))
        media = AudioTrack(path=wav, fps=FPS, frame_count=int(seconds * FPS), duration=seconds, is_foa=False)
        t0 = time.perf_counter()
        src.prepare(media)
        t_prepare = time.perf_counter() - t0
        h, w = src.frame_size
        imgs = rng.integers(0, 255, (src.batch_size, h, w, 3)).astype(np.uint8)
        done = 0
        t0 = time.perf_counter()
        while done < frames:
            idx = np.arange(done, done + src.batch_size)
            src.process(FrameBatch(indices=idx, times=idx / FPS, frames=imgs))
            done += src.batch_size
        _sync(device)
        t_proc = time.perf_counter() - t0
    per_frame = t_proc / done + t_prepare / (seconds * FPS)  # prepare amortised over the whole track
    return {
        "fps": 1.0 / per_frame,
        "prepare_s": t_prepare,
        "stride": src.stride,
        "size": src.frame_size,
        "threads": src.threads,
        "frames": done,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=48, help="frames pushed through the network source")
    ap.add_argument("--seconds", type=float, default=60.0, help="audio track length")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    model = SoundLocalizer(ModelConfig()).to(args.device).eval()

    vis = visual(model, args.device, args.reps)
    full, small = vis[(480, 960)], vis[DEFAULT_HW]
    print(f"visual net + attention, 480x960:  {full * 1e3:8.1f} ms/frame (baseline)")
    print(f"visual net + attention, {DEFAULT_HW[0]}x{DEFAULT_HW[1]}:  {small * 1e3:8.1f} ms/frame  "
          f"({full / small:.1f}x faster)")
    print(f"  + circular yaw padding at the seam: {vis['wrapped'] * 1e3:8.1f} ms/frame  "
          f"({vis['wrapped'] / small:.2f}x the unpadded; what the source runs)")

    aud = audio(model, args.seconds, args.device)
    ratio = aud["window_per_frame"] / aud["stream_per_frame"]
    print(f"audio, per-window 20 s run:       {aud['window_per_frame'] * 1e3:8.2f} ms/frame (baseline)")
    print(
        f"audio, streaming conv8 + pooling: {aud['stream_per_frame'] * 1e3:8.3f} ms/frame  "
        f"({ratio:.0f}x cheaper; goal >= 50x; {aud['frames']} frames of a {args.seconds:.0f} s track)"
    )

    src = source_fps(args.device, args.frames, args.seconds)
    print(
        f"network source at defaults (stride {src['stride']}, {src['size'][0]}x{src['size'][1]}, "
        f"{src['threads']} threads): {src['fps']:.2f} frames/s = {src['fps'] / FPS:.3f}x the video's 30 fps "
        f"(prepare {src['prepare_s']:.2f} s for {args.seconds:.0f} s of audio)"
    )


if __name__ == "__main__":
    main()
