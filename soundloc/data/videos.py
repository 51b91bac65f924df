"""A folder of ordinary videos as frame/sound pairs: a frame and the audio window centred on it.

Layout: video files (mp4, mkv, mov, avi, webm, m4v) anywhere under ROOT. When videos sit in
sub-folders, the sub-folder name is the sample's class label (for retrieval); otherwise ``label`` is −1.
Each video gives ``frames_per_video`` samples at evenly spaced times (a deterministic, seed-dependent
offset within each slot), so a short folder still gives several pairs. There is no ground truth.

Videos without a video or an audio stream are refused when the folder is indexed, naming the file.
A video's whole audio track is decoded once and kept (two most recent videos), which is fine for clips
of a few minutes; the frame is found by seeking, then decoding up to the wanted time.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from common.audio_io import read_audio
from common.errors import UserError
from soundloc.data.common import fit_length, make_sample, normalize_image

VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")


def _probe(path: Path) -> float:
    """Duration in seconds of a file with both a video and an audio stream."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise UserError(f"{path}: has no video stream; remove it from the folder")
            if not c.streams.audio:
                raise UserError(f"{path}: has no audio stream; remove it from the folder")
            if c.duration is not None:
                return c.duration / 1_000_000
            v = c.streams.video[0]
            if v.duration is not None and v.time_base is not None:
                return float(v.duration * v.time_base)
            return float(sum(1 for _ in c.decode(video=0))) / float(v.average_rate or 25)
    except av.error.FFmpegError as exc:
        raise UserError(f"{path}: not a video FFmpeg can read ({exc}); remove or re-encode it") from None


def read_frame(path: str | Path, t: float) -> np.ndarray:
    """RGB uint8 frame shown at time ``t`` seconds (the last frame starting at or before ``t``)."""
    import av

    path = Path(path)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        if t > 0 and stream.time_base is not None:
            c.seek(int(t / stream.time_base), stream=stream, backward=True)
        chosen = None
        for frame in c.decode(stream):
            if chosen is not None and frame.time is not None and frame.time > t + 1e-6:
                break
            chosen = frame
        if chosen is None:
            raise UserError(f"{path}: no frame could be decoded near {t:.2f}s; re-encode the video")
        return chosen.to_ndarray(format="rgb24")


class VideoFolder(Dataset):
    """Frame/audio-window pairs sampled from every video under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path, image_size: int = 320, sample_rate: int = 22050,
                 audio_seconds: float = 20.0, frames_per_video: int = 1, seed: int = 0) -> None:
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"{root}: no such folder; pass a folder of videos")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
        if not files:
            raise UserError(f"{root}: no video files ({'/'.join(VIDEO_EXTS)}); pass a folder of videos")
        classes = sorted({p.parent.relative_to(root).as_posix() for p in files} - {"."})
        label_of = {c: i for i, c in enumerate(classes)}
        rng = np.random.default_rng(seed)
        self.items: list[tuple[Path, float, int, int]] = []
        for clip, p in enumerate(files):
            dur = _probe(p)
            rel = p.parent.relative_to(root).as_posix()
            label = label_of.get(rel, -1)
            for k in range(frames_per_video):
                t = (k + rng.uniform(0.25, 0.75)) * dur / frames_per_video
                self.items.append((p, float(t), label, clip))
        self.classes = classes
        self.image_size, self.sample_rate = image_size, sample_rate
        self.audio_samples = int(round(audio_seconds * sample_rate))
        self._audio_cache: OrderedDict[Path, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.items)

    def annotated_indices(self) -> list[int]:
        """Videos carry no boxes: always empty."""
        return []

    def _audio(self, path: Path) -> np.ndarray:
        if path in self._audio_cache:
            self._audio_cache.move_to_end(path)
            return self._audio_cache[path]
        wave = read_audio(path, self.sample_rate, channels=1)[0]
        self._audio_cache[path] = wave
        while len(self._audio_cache) > 2:
            self._audio_cache.popitem(last=False)
        return wave

    def window(self, wave: np.ndarray, t: float) -> np.ndarray:
        """``audio_samples`` samples centred on ``t`` (zero-padded past either end of the track)."""
        n = self.audio_samples
        start = int(round(t * self.sample_rate)) - n // 2
        out = np.zeros(n, np.float32)
        lo, hi = max(0, start), min(wave.size, start + n)
        if hi > lo:
            out[lo - start : hi - start] = wave[lo:hi]
        return out

    def __getitem__(self, index: int) -> dict:
        path, t, label, clip = self.items[index]
        rgb = read_frame(path, t)
        audio = fit_length(self.window(self._audio(path), t), self.audio_samples)
        return make_sample(normalize_image(rgb, self.image_size), audio, None, self.image_size, label, index, clip)
