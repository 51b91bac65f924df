import struct
from pathlib import Path

import numpy as np
import pytest

from clips import foa_clip
from common.audio_io import read_audio
from common.errors import InputError, OptionError
from pano.media import video
from pano.media.audio import AudioWindows
from pano.media.probe import probe, require_equirectangular
from pano.media.spherical import read_spherical_metadata
from pano.media.video import iter_frames, iter_frames_detail, iter_looks
from pano.media.writer import VideoWriter, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2.0, fps=30, size=(120, 240))


def test_encode_decode_preserves_frames_and_audio_duration(clip):
    info = probe(clip)
    assert (info.width, info.height, info.frame_count) == (240, 120, 60)
    assert info.fps == pytest.approx(30.0)
    assert info.audio_channels == 4 and info.is_foa and info.is_equirectangular
    frames = list(iter_frames(clip))
    assert len(frames) == 60
    assert [round(t * 30) for _, t, _ in frames] == list(range(60))
    audio = read_audio(clip, 48000, channels=None)
    assert audio.shape[0] == 4
    assert audio.shape[1] / 48000 == pytest.approx(2.0, abs=0.05)


def test_downscaled_decode(clip):
    _, _, rgb = next(iter(iter_frames(clip, size=(30, 60))))
    assert rgb.shape == (30, 60, 3) and rgb.dtype == np.uint8


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory) -> Path:
    """A disk circling: every frame differs, and the encoder's B-frames are there to be skipped."""
    return foa_clip(tmp_path_factory.mktemp("looks") / "moving.mp4", seconds=4.0, fps=30, size=(120, 240),
                    yaw=lambda t: 90.0 * np.asarray(t) - 180.0)


def _looks(media) -> dict:
    return {i: (t, small, big) for i, t, small, big in iter_looks(media, (30, 60), 3, ((60, 120), 1.0))}


def _expected(media) -> dict:
    """What pass 1 looked at before: every frame decoded, every 3rd small, one a second large."""
    return {i: (t, small if i % 3 == 0 else None, big) for i, t, small, big
            in iter_frames_detail(media, (30, 60), (60, 120), 1.0) if i % 3 == 0 or big is not None}


def _same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for i, (t, small, big) in want.items():
        assert got[i][0] == t
        for a, b in ((got[i][1], small), (got[i][2], big)):
            assert (a is None) == (b is None) and (a is None or np.array_equal(a, b)), i


def test_looks_are_the_looked_at_frames_of_a_full_decode(moving_clip):
    """Pass 1's look (``iter_looks``): the frames every 3rd and once a second, pixel for pixel as a
    full decode gives them, without decoding the B-frames nobody looks at."""
    info = probe(moving_clip)
    want = _expected(info)
    assert sorted(want)[:6] == [0, 3, 6, 9, 12, 15] and 30 in want and want[30][2] is not None
    _same(_looks(info), want)
    times = info.frame_times()
    decoded = sum(1 for _ in video._decoded(moving_clip, None, False, (times, lambda i: i % 3 == 0)))
    assert decoded < len(times)  # the non-reference frames between looks were skipped


@pytest.mark.parametrize("start", [1.0, 2.5])  # within SEEK_AFTER: decoded from the top; after it: a seek
def test_looks_of_a_segment_are_numbered_from_its_start(moving_clip, start):
    info = probe(moving_clip).with_segment(start, 3.9)
    want = _expected(info)
    assert min(want) == 0 and want[0][0] == pytest.approx(start)
    _same(_looks(info), want)


def test_looks_fall_back_to_counting_frames_without_times(moving_clip, monkeypatch):
    """A frame the frame times do not hold (no pts): from there on every frame decodes and is numbered
    by count, as before."""
    info = probe(moving_clip)
    want = _expected(info)
    times = info.frame_times()
    real = video._place
    monkeypatch.setattr(video, "_place", lambda ts, t: None if t >= times[40] else real(ts, t))
    _same(_looks(info), want)


def test_writer_keeps_source_audio(clip, tmp_path):
    out = tmp_path / "view.mp4"
    with VideoWriter(out, 64, 36, 30, audio_from=clip) as w:
        for _ in range(60):
            w.write(np.zeros((36, 64, 3), np.uint8))
    info = probe(out)
    assert info.frame_count == 60 and info.audio_channels == 4
    kept = read_audio(out, 48000, channels=None)
    src = read_audio(clip, 48000, channels=None)
    assert abs(kept.shape[1] - src.shape[1]) < 48000 * 0.05
    assert np.allclose(kept[:, 5000:6000], src[:, 5000:6000], atol=1e-4)  # stream copy: bit-identical audio


def test_writer_failure_leaves_no_file(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, 64, 36, 30) as w:
        w.write(np.zeros((36, 64, 3), np.uint8))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_audio_windows_are_centred_and_zero_padded(clip):
    info = probe(clip)
    whole = read_audio(clip, 24000, channels=None)
    aw = AudioWindows(info, "foa", 24000, 0.1)
    times = np.array([0.0, 0.5, 1.0, 1.99])
    win = aw.windows(times)
    assert win.shape == (4, 4, 2400)
    assert np.allclose(win[0, :, :1200], 0)  # before the start: silence
    s = int(round(0.5 * 24000)) - 1200
    assert np.allclose(win[1], whole[:, s : s + 2400], atol=1e-6)
    mono = AudioWindows(info, "mono", 16000, 0.05).windows(np.array([1.0]))
    assert mono.shape == (1, 1, 800)


def test_probe_rejects_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 10)
    with pytest.raises(InputError, match="not a video FFmpeg can read"):
        probe(text)
    flat = write_video(tmp_path / "flat.mp4", [np.zeros((90, 160, 3), np.uint8)] * 3, 30)
    info = probe(flat)
    assert info.audio_format == "none"
    with pytest.raises(InputError, match="not a 2:1 equirectangular"):
        require_equirectangular(info)
    with pytest.raises(OptionError):
        probe(flat, "surround")


def test_audio_format_override(clip):
    assert probe(clip, "fuma").audio_format == "fuma"
    assert probe(clip, "mono").audio_format == "mono"


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_spherical_and_spatial_audio_boxes(tmp_path):
    sa3d = _box(b"SA3D", struct.pack(">BBIBBI", 0, 0, 1, 0, 0, 4) + bytes(4 * 4))
    mp4a = _box(b"mp4a", bytes(28) + sa3d)
    sv3d = _box(b"sv3d", _box(b"proj", _box(b"equi", bytes(20))))
    avc1 = _box(b"avc1", bytes(78) + sv3d)
    stsd_v = _box(b"stsd", bytes(8) + avc1)
    stsd_a = _box(b"stsd", bytes(8) + mp4a)
    trak = lambda stsd: _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", stsd))))  # noqa: E731
    f = tmp_path / "meta.mp4"
    f.write_bytes(_box(b"ftyp", b"isom") + _box(b"moov", trak(stsd_v) + trak(stsd_a)))
    meta = read_spherical_metadata(f)
    assert meta["projection"] == "equirectangular"
    assert meta["spatial_audio"]["order"] == 1 and meta["spatial_audio"]["channels"] == 4


def test_audio_mp4_cannot_hold_is_reencoded_to_aac(tmp_path):
    """A MKV with PCM audio: MP4 cannot carry PCM, so the writer re-encodes to AAC, same length."""
    import av

    src = tmp_path / "pcm.mkv"
    sr = 48000
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 64, 32, "yuv420p"
        aus = out.add_stream("pcm_s16le", rate=sr, layout="stereo")
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            for p in vs.encode(frame):
                out.mux(p)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr) * 32767).astype(np.int16)
        af = av.AudioFrame.from_ndarray(np.stack([tone, tone]).T.reshape(1, -1).copy(), format="s16", layout="stereo")
        af.sample_rate, af.pts = sr, 0
        for p in aus.encode(af):
            out.mux(p)
        for s in (vs, aus):
            for p in s.encode(None):
                out.mux(p)
    dst = tmp_path / "out.mp4"
    with VideoWriter(dst, 64, 32, 30, audio_from=src) as w:
        for _ in range(30):
            w.write(np.zeros((32, 64, 3), np.uint8))
    info = probe(dst)
    assert info.audio_codec == "aac" and info.audio_channels == 2
    audio = read_audio(dst, sr, channels=None)
    assert audio.shape[1] / sr == pytest.approx(1.0, abs=0.06)
    assert audio[:, 10000:20000].std() == pytest.approx(0.2 / np.sqrt(2), rel=0.1)


def test_nfov_sound_turns_with_the_camera(tmp_path):
    """FOA source at yaw +90 (right): louder in the right channel looking forward, in the left looking back."""
    from pano.paths.trajectory import Trajectory
    from pano.rendering.render import render_trajectory

    clip = foa_clip(tmp_path / "right.mp4", seconds=1.0, size=(60, 120), yaw=90.0, noise=0.0)
    n = 30
    levels = {}
    for look in (0.0, 180.0):
        traj = Trajectory(t=np.arange(n) / 30, yaw=np.full(n, look), pitch=np.zeros(n), hfov=65.5, vfov=39.8)
        out = render_trajectory(clip, traj, tmp_path / f"look{int(look)}.mp4", size=(64, 36))
        info = probe(out)
        assert info.audio_channels == 2 and info.audio_codec == "aac"
        stereo = read_audio(out, 48000, channels=None)
        assert stereo.shape[1] / 48000 == pytest.approx(1.0, abs=0.06)
        levels[look] = np.sqrt((stereo[:, 4800:-4800] ** 2).mean(axis=1))
    left, right = levels[0.0]
    assert right > 5 * left
    left, right = levels[180.0]
    assert left > 5 * right
    kept = render_trajectory(clip, traj, tmp_path / "kept.mp4", size=(64, 36), audio_mode="keep")
    assert probe(kept).audio_channels == 4


def _foa_orbit(seconds: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """AmbiX FOA (4, S) of a noise source circling at 36°/s over a faint diffuse bed, and its azimuth."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    s = 0.2 * rng.standard_normal(t.size)
    az = np.radians(36.0 * t)
    foa = np.stack([s, s * np.sin(az), 0 * s, s * np.cos(az)]) + 0.02 * rng.standard_normal((4, t.size))
    return foa.astype(np.float32), az


def _second_azimuths(foa: np.ndarray, sr: int) -> np.ndarray:
    """The active-intensity azimuth of each whole second (degrees)."""
    n = foa.shape[1] // sr
    w, y, x = (foa[i, : n * sr].reshape(n, sr) for i in (0, 1, 3))
    return np.degrees(np.arctan2((w * y).mean(1), (w * x).mean(1)))


def test_written_foa_keeps_its_direction(tmp_path):
    """A 4-channel FOA track written to AAC reads back pointing where it pointed: FFmpeg's default
    intensity-stereo coding kept each channel pair's loudness but turned this orbit up to 12° a second."""
    sr, seconds = 48000, 8.0
    foa, _ = _foa_orbit(seconds, sr)
    out = tmp_path / "orbit.mp4"
    with VideoWriter(out, 32, 16, 10, audio=(foa, sr)) as w:
        for _ in range(int(seconds * 10)):
            w.write(np.zeros((16, 32, 3), np.uint8))
    back = read_audio(out, sr, channels=None)
    # the encoder's priming delay: align on the omni channel before comparing directions
    lag = int(np.argmax([np.dot(back[0, k: k + sr], foa[0, :sr]) for k in range(0, 4096, 64)])) * 64
    got = _second_azimuths(back[:, lag:], sr)[:7]
    want = _second_azimuths(foa, sr)[:7]
    err = np.abs((got - want + 180.0) % 360.0 - 180.0)
    assert err.max() < 3.0, f"per-second direction errors {np.round(err, 1)}"


def _planes_and_sound(media, order: str) -> tuple[list, list]:
    """Every frame's planes (copied) and every audio chunk of ``media``, read in ``order``: "video"
    then "audio", "audio" then "video", or "mixed" (a chunk after every other frame)."""
    frames, chunks = [], []
    sound = iter(media.audio_chunks(48000, chunk_seconds=0.25))
    if order == "audio":
        chunks.extend(sound)
    for n, (i, t, (planes, shift)) in enumerate(media.yuv_frames()):
        frames.append((i, t, shift, [p.copy() for p in planes]))
        if order == "mixed" and n % 2:
            chunks.extend(c for c in [next(sound, None)] if c is not None)
    chunks.extend(sound)
    return frames, chunks


def _same_reads(got: tuple[list, list], want: tuple[list, list]) -> None:
    frames, chunks = got
    assert [f[:3] for f in frames] == [f[:3] for f in want[0]]
    assert all(np.array_equal(a, b) for f, g in zip(frames, want[0], strict=True)
               for a, b in zip(f[3], g[3], strict=True))
    assert len(chunks) == len(want[1])
    assert all(np.array_equal(a, b) for a, b in zip(chunks, want[1], strict=True))


@pytest.mark.parametrize("order", ["video", "audio", "mixed"])
@pytest.mark.parametrize("limit", [None, 1])
def test_readers_sharing_one_open_file_read_what_their_own_opens_read(moving_clip, order, limit, monkeypatch):
    """``reading_together``: the picture and the sound of one pass come from one open container (one
    demuxer index held, not two) and are the same frames and samples as each reader's own open gives,
    whichever reads first; a reader left too far behind (limit 1 byte: at once) reads on from a
    container of its own and still gets every packet, in order."""
    import av

    import common.media

    info = probe(moving_clip)
    want = _planes_and_sound(info, "video")
    if limit is not None:
        monkeypatch.setattr(common.media, "QUEUE_LIMIT", limit)
    opened = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    with info.reading_together(video=True, audio=True) as media:
        got = _planes_and_sound(media, order)
    _same_reads(got, want)
    if limit is None:
        assert len(opened) == 1


def test_the_sound_of_a_shared_file_can_be_read_on_another_thread(moving_clip):
    """The render reads the picture on its main thread and the sound on the encoder's."""
    import threading

    info = probe(moving_clip)
    want = _planes_and_sound(info, "video")
    with info.reading_together() as media:
        chunks: list = []
        reader = threading.Thread(target=lambda: chunks.extend(media.audio_chunks(48000, chunk_seconds=0.25)))
        reader.start()
        frames = [(i, t, shift, [p.copy() for p in planes]) for i, t, (planes, shift) in media.yuv_frames()]
        reader.join()
    _same_reads((frames, chunks), want)
