"""Small synthetic 360° clips made by the tests themselves (no downloads, deterministic)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from pano.media.writer import write_video
from pano.sphere.ambisonics import encode_foa
from pano.sphere.geometry import angular_distance, grid_angles


def disk_frame(height: int, width: int, yaw: float, pitch: float, radius: float = 12.0,
               color=(255, 60, 40), background: np.ndarray | None = None) -> np.ndarray:
    """Equirectangular frame with a disk of angular ``radius`` at (yaw, pitch), round on the sphere."""
    if background is None:
        yaws, pitches = grid_angles(height, width)
        base = np.zeros((height, width, 3), np.uint8)
        base[..., 2] = np.clip(120 + pitches[:, None] * 0.8, 0, 255).astype(np.uint8)
        base[..., 1] = 70
        base[:, ::max(1, width // 24), :] = 110
        background = base
    yaws, pitches = grid_angles(height, width)
    d = angular_distance(yaws[None, :], pitches[:, None], yaw, pitch)
    out = background.copy()
    out[d <= radius] = color
    return out


def foa_clip(path: Path, seconds: float = 2.0, fps: float = 30.0, size=(240, 480),
             yaw: Callable[[np.ndarray], np.ndarray] | float = 30.0, pitch: Callable | float = 0.0,
             sounding: Callable[[np.ndarray], np.ndarray] | None = None, noise: float = 0.02,
             sample_rate: int = 48000, channels_fuma: bool = False, seed: int = 0,
             background: np.ndarray | None = None) -> Path:
    """A clip with a red disk and AmbiX FOA sound from the disk's direction (functions of time allowed)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    ts = np.arange(n) / fps
    as_fn = lambda v: v if callable(v) else (lambda t: np.full_like(np.asarray(t, float), v))  # noqa: E731
    yaw_f, pitch_f = as_fn(yaw), as_fn(pitch)
    frames = [disk_frame(size[0], size[1], float(yaw_f(t)), float(pitch_f(t)), background=background) for t in ts]
    st = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * st) * (1 + 0.5 * np.sin(2 * np.pi * 3 * st))
    tone += 0.1 * rng.standard_normal(len(st))
    if sounding is not None:
        tone *= sounding(st).astype(float)
    foa = encode_foa(tone, yaw_f(st), pitch_f(st)) + noise * rng.standard_normal((4, len(st)))
    foa = foa.astype(np.float32)
    if channels_fuma:
        from pano.sphere.ambisonics import ambix_to_fuma

        foa = ambix_to_fuma(foa)
    write_video(path, frames, fps, audio=(foa, sample_rate))
    return path


def mono_pulse_clip(path: Path, seconds: float = 5.0, fps: float = 30.0, size=(240, 480), yaw: float = 60.0,
                    pitch: float = 15.0, sample_rate: int = 48000, seed: int = 0) -> Path:
    """Mono audio; a disk at (yaw, pitch) whose brightness follows the sound's on/off envelope, over a
    still background with a repetitive grid (the hard case for camera-motion estimation)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    # Irregular on/off envelope (each state lasts 0.2–0.7 s), so no periodic pattern can stand in for it.
    env = np.zeros(n)
    i, on = 0, True
    while i < n:
        run = int(rng.integers(int(0.2 * fps), int(0.7 * fps)))
        env[i : i + run] = 1.0 if on else 0.0
        i, on = i + run, not on
    frames = [disk_frame(size[0], size[1], yaw, pitch, radius=10, color=(int(70 + 180 * e),) * 3) for e in env]
    st = np.arange(int(seconds * sample_rate)) / sample_rate
    env_s = env[np.minimum((st * fps).astype(int), n - 1)]
    audio = (0.3 * np.sin(2 * np.pi * 300 * st) * env_s + 0.003 * rng.standard_normal(len(st))).astype(np.float32)
    write_video(path, frames, fps, audio=(audio[None], sample_rate))
    return path


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    """16-bit mono WAV of float samples in [-1, 1] (for tests that need a plain audio file)."""
    import wave

    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path


def remux(src: Path, dst: Path) -> Path:
    """Copy every stream of ``src`` into ``dst`` (container from the suffix) without re-encoding.

    FFmpeg's MP4 demuxer turns ``sv3d``/``st3d`` boxes into stream side data and its Matroska muxer
    writes that side data as ``Projection``/``StereoMode`` elements, so an MP4 made with spherical
    boxes becomes an MKV/WebM with Matroska projection metadata.
    """
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[s for s in inp.streams if s.index in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def timed_clip(path: Path, times, size=(120, 240), yaw: Callable[[np.ndarray], np.ndarray] | float = 30.0,
               audio: np.ndarray | None = None, sample_rate: int = 48000, audio_codec: str = "aac",
               audio_layout: str | None = None, container_format: str | None = None) -> Path:
    """Frames shown at the given ``times`` (variable rate, a late start), with a disk at ``yaw(t)``, and
    ``audio`` (C, S) starting at 0 s; written with PyAV directly, independent of pano's writer."""
    from fractions import Fraction

    import av

    times = np.asarray(times, float)
    yaw_f = yaw if callable(yaw) else (lambda t: np.full_like(np.asarray(t, float), yaw))
    clock = Fraction(1, 90000)
    with av.open(str(path), "w", format=container_format) as out:
        vs = out.add_stream("libx264", rate=int(round(1 / np.median(np.diff(times)))) if len(times) > 1 else 30)
        vs.width, vs.height, vs.pix_fmt = size[1], size[0], "yuv420p"
        vs.codec_context.time_base = clock
        astream = None
        if audio is not None:
            layout = audio_layout or {1: "mono", 2: "stereo", 4: "quad", 6: "5.1"}[audio.shape[0]]
            # AAC's default intensity-stereo coding would turn the FOA direction (pano.media.writer)
            astream = out.add_stream(audio_codec, rate=sample_rate, layout=layout,
                                     options={"aac_is": "0"} if audio_codec == "aac" else None)
        for t in times:
            frame = av.VideoFrame.from_ndarray(disk_frame(size[0], size[1], float(yaw_f(t)), 0.0), format="rgb24")
            frame.pts, frame.time_base = int(round(t / clock)), clock
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if astream is not None:
            packed = audio_codec.startswith("pcm_")
            fmt = "s16" if packed else "fltp"
            step = 1024
            for start in range(0, audio.shape[1], step):
                block = audio[:, start : start + step]
                if packed:
                    block = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=fmt, layout=astream.layout)
                af.sample_rate, af.pts = sample_rate, start
                for packet in astream.encode(af):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path
