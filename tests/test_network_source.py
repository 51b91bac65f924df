"""The ``network`` saliency source: streaming audio pass, strided frames, interpolation across batches."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from clips import write_wav
from common.audio_io import iter_audio_chunks
from common.errors import CheckpointError, UserError
from pano.localizers.base import LOCALIZERS, FrameBatch
from pano.localizers.network import NetworkLocalizer
from pano.run.context import RunContext
from soundloc.checkpoint import save_checkpoint
from soundloc.model import ModelConfig, SoundLocalizer, preprocess_image

FPS = 10.0
N_FRAMES = 20

class AudioTrack(SimpleNamespace):
    """A sound file standing in for a video's ``MediaInfo``: what the network source reads of it."""

    def audio_chunks(self, sample_rate: int, channels: int | None = None, chunk_seconds: float = 2.0):
        return iter_audio_chunks(self.path, sample_rate, channels=channels, chunk_seconds=chunk_seconds)



def _wav(path: Path, seconds: float, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    return write_wav(path, 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) * 16000 / 32767, sr)


@pytest.fixture(autouse=True)
def _restore_threads():
    """The source sets torch's CPU thread budget (a process-wide setting); undo it for later tests."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("net")
    torch.manual_seed(0)
    ckpt = save_checkpoint(d / "tiny.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32)))
    audio = _wav(d / "clip.wav", N_FRAMES / FPS)
    media = AudioTrack(path=audio, fps=FPS, frame_count=N_FRAMES, duration=N_FRAMES / FPS, is_foa=False)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (N_FRAMES, 64, 128, 3)).astype(np.uint8)
    for k in range(N_FRAMES):  # a square moving to the right
        frames[k, 20:40, 5 * k : 5 * k + 20] = (250, 40, 40)
    return ckpt, media, frames


def _run(src: NetworkLocalizer, media, frames) -> tuple[np.ndarray, np.ndarray]:
    src.prepare(media)
    maps, conf = [], []
    for start in range(0, len(frames), src.batch_size):
        idx = np.arange(start, min(start + src.batch_size, len(frames)))
        out = src.process(FrameBatch(indices=idx, times=idx / media.fps, frames=frames[idx]))
        assert out.maps.shape[0] == len(idx) == out.confidence.shape[0]
        maps.append(out.maps)
        conf.append(out.confidence)
    return np.concatenate(maps), np.concatenate(conf)


def test_registered_and_needs_checkpoint(tmp_path):
    assert LOCALIZERS.load("network") is NetworkLocalizer
    with pytest.raises(UserError, match="needs --checkpoint"):
        NetworkLocalizer.build(RunContext())
    with pytest.raises(UserError, match="--device 'gpu'"):
        NetworkLocalizer.build(RunContext(checkpoint=str(tmp_path / "missing.pt"), device="gpu"))
    with pytest.raises(CheckpointError, match="missing.pt"):
        NetworkLocalizer.build(RunContext(checkpoint=str(tmp_path / "missing.pt")))


def test_maps_confidence_and_interpolation(setup):
    ckpt, media, frames = setup
    every = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), stride=1, inference_height=64, threads=1)
    assert every.frame_size == (64, 128)
    ref_maps, ref_conf = _run(every, media, frames)
    assert ref_maps.shape == (N_FRAMES, 4, 8) and ref_maps.dtype == np.float32
    assert np.allclose(ref_maps.max(axis=(1, 2)), 1.0)  # each computed map peaks at 1 (min–max scaled)

    ctx = RunContext(checkpoint=str(ckpt))
    strided = NetworkLocalizer.build(ctx, stride=3, inference_height=64, threads=1, batch_size=7)
    assert strided.batch_size % 3 == 0 and strided.batch_size >= 7
    maps, conf = _run(strided, media, frames)
    # frames the source computed (every 3rd, the first, the last of each batch) equal the stride-1 run
    bs = strided.batch_size
    anchors = sorted({0} | {k for k in range(N_FRAMES) if (k + 1) % 3 == 0 or (k + 1) % bs == 0} | {N_FRAMES - 1})
    for k in anchors:
        assert np.allclose(maps[k], ref_maps[k], atol=1e-5), k
        assert np.isclose(conf[k], ref_conf[k], atol=1e-5)
    # frames between are linear blends of their neighbouring computed frames, across batch boundaries too
    for a, b in zip(anchors[:-1], anchors[1:], strict=True):
        for k in range(a + 1, b):
            w = (k - a) / (b - a)
            assert np.allclose(maps[k], (1 - w) * ref_maps[a] + w * ref_maps[b], atol=1e-5), k
    assert strided.describe()["stride"] == 3


def test_prepare_needs_audio(setup, tmp_path):
    ckpt, media, _ = setup
    src = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), inference_height=64)
    silent = tmp_path / "image.png"
    silent.write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="image.png"):
        src.prepare(AudioTrack(path=silent, fps=FPS, frame_count=1, duration=0.1, is_foa=False))
    with pytest.raises(RuntimeError):
        src.process(FrameBatch(indices=np.arange(1), times=np.zeros(1), frames=np.zeros((1, 64, 128, 3), np.uint8)))


def test_foa_feeds_the_network_the_omni_channel(setup, tmp_path, monkeypatch):
    """A source at yaw +90° is in the null of FFmpeg's AmbiX downmix; the network must hear W instead."""
    import pano.localizers.network as network
    from clips import foa_clip
    from common.audio_io import read_audio
    from pano.media.probe import probe

    ckpt, _, _ = setup
    clip = foa_clip(tmp_path / "left.mp4", seconds=1.0, fps=10, size=(64, 128), yaw=90.0, noise=0.0)
    media = probe(clip)
    assert media.is_foa
    heard: list[np.ndarray] = []

    def capture(soundnet, chunks, device="cpu"):
        heard.extend(chunks)
        return torch.zeros(1, 1000)

    monkeypatch.setattr(network, "conv8_track", capture)
    NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), inference_height=64, threads=1).prepare(media)
    got = np.concatenate(heard)
    w = read_audio(clip, 22050, channels=None)[0] * 256.0
    assert got.shape == w.shape
    assert np.sqrt(np.mean(got**2)) == pytest.approx(np.sqrt(np.mean(w**2)), rel=0.02)


def _seam_frame(width: int) -> np.ndarray:
    """A textured panorama with a bright object straddling the ±180° seam."""
    rng = np.random.default_rng(3)
    frame = rng.integers(60, 120, (width // 2, width, 3)).astype(np.uint8)
    frame[20:44, :16] = (240, 200, 30)
    frame[20:44, -16:] = (240, 200, 30)
    return frame


@pytest.mark.parametrize("backbone", ["tiny", "vgg16"])
def test_seam_object_gives_the_same_map_when_the_panorama_is_rolled(tmp_path, backbone):
    """Circular yaw padding: rolling the panorama by half a turn only rolls the map (zero padding would
    cut the seam object in two and change the cells next to the seam)."""
    from pano.localizers.network import wrapped_features

    torch.manual_seed(0)
    model = SoundLocalizer(ModelConfig(backbone=backbone, embed_dim=32)).eval()
    width = 128
    frame = _seam_frame(width)
    rolled = np.roll(frame, width // 2, axis=1)
    x = preprocess_image(np.stack([frame, rolled]), None)
    with torch.no_grad():
        v = wrapped_features(model, x)
        out = model.attend(v, torch.randn(1, 32).expand(2, -1))
    cells = width // 16
    assert v.shape[-1] == cells
    a, b = out.cosine[0].numpy(), out.cosine[1].numpy()
    assert np.allclose(np.roll(a, cells // 2, axis=1), b, atol=1e-4)


def test_seam_padding_defaults_to_the_receptive_field_and_can_be_turned_off(setup):
    ckpt, media, frames = setup
    exact = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), stride=1, inference_height=64, threads=1)
    off = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), stride=1, inference_height=64, threads=1,
                              seam_padding=0)
    assert exact.describe()["seam_padding_cells"] == 1 and off.describe()["seam_padding_cells"] == 0  # tiny: 31 px
    a, _ = _run(exact, media, frames[:4])
    b, _ = _run(off, media, frames[:4])
    assert a.shape == b.shape and not np.allclose(a[:, :, [0, -1]], b[:, :, [0, -1]])  # the seam columns differ


def test_the_front_prior_holds_an_unsure_network_at_the_front_and_is_recorded(setup):
    from pano.localizers.importance import batch_centroids

    ckpt, media, frames = setup
    plain = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), stride=1, inference_height=64, threads=1)
    held = NetworkLocalizer.build(RunContext(checkpoint=str(ckpt)), stride=1, inference_height=64, threads=1,
                                  prior_strength=5.0)
    raw, raw_conf = _run(plain, media, frames)
    maps, conf = _run(held, media, frames)
    yaw_raw, pitch_raw, _ = batch_centroids(raw)
    yaw, pitch, _ = batch_centroids(maps)
    # an untrained network is unsure (low confidence): with the prior the map's centroid sits near the front
    assert np.all(raw_conf < 0.5)
    assert np.all(np.hypot(yaw, pitch) < 15.0) and np.mean(np.hypot(yaw_raw, pitch_raw)) > np.mean(np.hypot(yaw, pitch))
    assert np.all(conf >= raw_conf - 1e-6)
    assert held.describe()["prior_strength"] == 5.0 and plain.describe()["prior_strength"] == 0.0
