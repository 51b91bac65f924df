"""Inputs that would take unbounded memory or time (issue 23, items 8 and 9): a small PNG of a huge
picture, a long sound file of which 20 s are used, a request body of hundreds of megabytes."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.localize import localize
from clips import write_wav
from common.errors import UserError
from soundloc.checkpoint import save_checkpoint
from soundloc.model import ModelConfig, SoundLocalizer


def png_of_zeros(path: Path, width: int, height: int, bit_depth: int) -> Path:
    """A grey PNG of ``width × height`` written row by row: a few hundred kB on disk, huge decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\0" * (1 + (width * bit_depth + 7) // 8)
    comp, parts = zlib.compressobj(9), []
    for _ in range(height):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("sizes")
    torch.manual_seed(0)
    return d, save_checkpoint(d / "tiny.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32, image_size=96)))


@pytest.mark.parametrize(("width", "height", "depth"), [(12000, 4000, 8), (20000, 20000, 1)])
def test_localize_refuses_a_huge_picture_before_decoding_it(model, tmp_path, width, height, depth):
    d, ckpt = model
    img = png_of_zeros(tmp_path / "huge.png", width, height, depth)
    assert img.stat().st_size < 2_000_000
    wav = write_wav(tmp_path / "a.wav", np.zeros(16000), 16000)
    res = CliRunner().invoke(localize, [str(img), str(wav), "-c", str(ckpt), "-o", str(tmp_path / "o.png")])
    assert isinstance(res.exception, UserError), repr(res.exception)
    message = str(res.exception)
    assert "huge.png" in message and ("megapixels" in message or "too large" in message)
    assert not (tmp_path / "o.png").exists()


def test_localize_decodes_only_the_centre_of_a_long_sound(model, tmp_path, monkeypatch):
    """A 10-minute file whose middle 20 s are 880 Hz: only about those 20 s are decoded, and they are heard."""
    import common.audio_io as audio_io

    d, ckpt = model
    sr = 16000
    t = np.arange(600 * sr) / sr
    wave = 0.3 * np.sin(2 * np.pi * np.where(np.abs(t - 300) < 10, 880, 440) * t)
    wav = write_wav(tmp_path / "long.wav", wave, sr)
    decoded, heard = [0], []
    real = audio_io.iter_audio_chunks

    def counting(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            decoded[0] += chunk.shape[1]
            heard.append(chunk)
            yield chunk

    monkeypatch.setattr(audio_io, "iter_audio_chunks", counting)
    got = audio_io.read_audio_centre(wav, sr, 20.0)
    assert got.shape == (1, 20 * sr)
    spectrum = np.abs(np.fft.rfft(got[0]))
    assert np.argmax(spectrum) * sr / got.shape[1] == pytest.approx(880, abs=2)
    img = tmp_path / "scene.png"
    import cv2

    cv2.imwrite(str(img), np.full((60, 80, 3), 100, np.uint8))
    decoded[0] = 0
    res = CliRunner().invoke(localize, [str(img), str(wav), "-c", str(ckpt), "-o", str(tmp_path / "o.png")])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert 0 < decoded[0] <= 2 * 20 * sr  # the old reader decoded all 600 s


# ---------------------------------------------------------------- item 9: the viewer never reads a huge body
@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    from cli.main import main
    from clips import foa_clip
    from pano.view.job import open_job
    from pano.view.server import ViewServer

    folder = tmp_path_factory.mktemp("viewer")
    video = foa_clip(folder / "clip.mp4", seconds=1.0, size=(120, 240))
    assert main([str(video), "-o", str(folder), "-q", "--no-saliency-video"]) == 0
    srv = ViewServer(open_job(folder)).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_huge_request_body_is_refused_without_being_read(viewer, framing):
    """Only the first 1.5 MB of a "400 MB" body is sent: the old server waited for the rest (and kept it all)."""
    import socket

    host = f"127.0.0.1:{viewer.port}"
    head = (f"POST /api/plan HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
            "Content-Type: application/json\r\n")
    head += "Content-Length: 400000000\r\n\r\n" if framing == "content-length" else "Transfer-Encoding: chunked\r\n\r\n"
    piece = b"[" * 65536
    with socket.create_connection(("127.0.0.1", viewer.port), timeout=20) as sock:
        sock.sendall(head.encode())
        try:
            for _ in range(24):
                sock.sendall(piece if framing == "content-length" else b"%x\r\n" % len(piece) + piece + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what is wanted
        try:
            answer = sock.recv(4096)
        except TimeoutError:
            pytest.fail("the server is still reading the body")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
