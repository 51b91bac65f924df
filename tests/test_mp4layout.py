"""The MP4 layouts: the standard file written from fragments reads back exactly as FFmpeg's own
``+faststart`` file does (same packets, times, edit lists), with its moov first and no fragment left."""

from pathlib import Path

import av
import numpy as np
import pytest

from clips import foa_clip
from pano.media.boxes import MetadataBoxes
from pano.media.spherical import read_spherical_metadata, top_level_boxes
from pano.media.writer import VideoWriter

FPS = 30


def _write(path: Path, layout: str, frames: int = 75, start: float = 0.0, **options) -> Path:
    rng = np.random.default_rng(1)
    t = np.arange(48000 * frames // FPS) / 48000
    tone = (0.3 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])).astype(np.float32)
    audio = {} if "audio_from" in options else {"audio_stream": (2, 48000)}
    # one encoder thread: the same packets for each layout
    with VideoWriter(path, 64, 32, FPS, layout=layout, threads=1, **audio, **options) as w:
        for i in range(frames):
            w.write((rng.integers(0, 64, (32, 64, 3)) + 2 * i).astype(np.uint8), start + i / FPS)
        if audio:
            w.write_audio(tone)
    return path


def _packets(path: Path) -> dict:
    with av.open(str(path)) as c:
        streams = [(s.type, s.time_base, s.start_time, s.duration, s.frames) for s in c.streams]
        packets = {s.index: [] for s in c.streams}
        for p in c.demux():
            if p.size:
                packets[p.stream.index].append((p.pts, p.dts, p.duration, p.size, p.is_keyframe))
        return {"streams": streams, "packets": packets}


def _kinds(path: Path) -> list[bytes]:
    with open(path, "rb") as fh:
        return [kind for kind, *_ in top_level_boxes(fh)]


@pytest.mark.parametrize("start", [0.0, 0.5])  # 0.5: a late first frame (an empty edit before it)
def test_standard_layout_reads_back_as_ffmpegs_faststart(tmp_path, start):
    ours = _write(tmp_path / "standard.mp4", "standard", start=start)
    ffmpeg = _write(tmp_path / "faststart.mp4", "faststart", start=start)
    assert _kinds(ours) == [b"ftyp", b"moov", b"mdat"]  # moov first, no fragments
    assert _packets(ours) == _packets(ffmpeg)  # every packet's times, size and keyframe flag; durations
    with av.open(str(ours)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 75
        assert c.streams.audio[0].start_time == 0 and c.streams.video[0].start_time == round(start * 90000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faststart.mp4", "standard.mp4"]  # no fragments left


def test_standard_layout_keeps_copied_audio_and_spherical_boxes(tmp_path):
    src = foa_clip(tmp_path / "src.mp4", seconds=2.0, fps=FPS, size=(32, 64))
    boxes = MetadataBoxes(equirectangular=True, ambisonic_channels=4)
    ours = _write(tmp_path / "standard.mp4", "standard", frames=60, audio_from=src, boxes=boxes)
    ffmpeg = _write(tmp_path / "faststart.mp4", "faststart", frames=60, audio_from=src, boxes=boxes)
    assert _packets(ours) == _packets(ffmpeg)
    meta = read_spherical_metadata(ours)
    assert meta["projection"] == "equirectangular" and meta["spatial_audio"]["channels"] == 4


def test_fragmented_layout_is_playable(tmp_path):
    out = _write(tmp_path / "fragmented.mp4", "fragmented")
    assert b"moof" in _kinds(out)
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 75


def test_a_failed_standard_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "broken.mp4", 64, 32, FPS) as w:
        w.write(np.zeros((32, 64, 3), np.uint8))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_files_past_4_gb_get_64_bit_offsets(tmp_path, monkeypatch):
    """A two-hour 720p render passes 4 GB: co64 chunk offsets and a 64-bit mdat size (forced here)."""
    import pano.media.mp4layout as layout

    ffmpeg = _write(tmp_path / "faststart.mp4", "faststart")
    monkeypatch.setattr(layout, "_OFFSET_LIMIT", 0)
    ours = _write(tmp_path / "standard.mp4", "standard")
    data = ours.read_bytes()
    assert b"co64" in data and b"stco" not in data
    with open(ours, "rb") as fh:
        assert [(k, h) for k, _p, h, _s in top_level_boxes(fh)][-1] == (b"mdat", 16)
    assert _packets(ours) == _packets(ffmpeg)
