"""Checkpoints (round trip, refusals) and cached, verified downloads from a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest
import torch

from common.errors import CheckpointError, DownloadError
from soundloc.checkpoint import load_checkpoint, save_checkpoint
from soundloc.download import fetch
from soundloc.model import ModelConfig, SoundLocalizer


def _tiny(**kw) -> SoundLocalizer:
    torch.manual_seed(0)
    return SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32, **kw))


def test_round_trip(tmp_path):
    model = _tiny(attention="relu_cosine")
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, meta={"epoch": 3, "note": "x"})
    assert path.is_file() and not list(path.parent.glob(".*tmp"))
    loaded, meta = load_checkpoint(path)
    assert meta == {"epoch": 3, "note": "x"}
    assert loaded.config == model.config and not loaded.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    x, w = torch.randn(1, 3, 64, 64), torch.randn(1, 30000)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x, w).attention, loaded(x, w).attention)
    raw = torch.load(path, weights_only=True)
    assert (
        raw["format"] == "soundloc"
        and raw["version"] == 1
        and set(raw) == {"format", "version", "config", "state_dict", "meta"}
    )


def test_pretrained_config_does_not_download_on_load(tmp_path, monkeypatch):
    model = _tiny()
    path = save_checkpoint(tmp_path / "m.pt", model)
    raw = torch.load(path, weights_only=True)
    raw["config"]["backbone"] = "resnet18"
    raw["config"]["pretrained"] = True
    raw["state_dict"] = SoundLocalizer(ModelConfig(backbone="resnet18", embed_dim=32)).state_dict()
    torch.save(raw, path)

    def no_network(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    loaded, _ = load_checkpoint(path)
    assert loaded.config.pretrained and loaded.config.backbone == "resnet18"


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")


def test_not_a_checkpoint(tmp_path):
    p = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(2)}, p)
    with pytest.raises(CheckpointError, match="not a soundloc checkpoint"):
        load_checkpoint(p)
    t = tmp_path / "text.pt"
    t.write_text("hello")
    with pytest.raises(CheckpointError, match="corrupt or not a torch file"):
        load_checkpoint(t)


def test_corrupt_file(tmp_path):
    p = save_checkpoint(tmp_path / "m.pt", _tiny())
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m\.pt: corrupt"):
        load_checkpoint(p)


def test_unsafe_pickle_refused(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": "soundloc", "obj": object.__new__(ModelConfig)}, p)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(p)


def test_config_state_mismatch(tmp_path):
    p = save_checkpoint(tmp_path / "m.pt", _tiny())
    raw = torch.load(p, weights_only=True)
    raw["config"]["embed_dim"] = 48
    torch.save(raw, p)
    with pytest.raises(CheckpointError, match=r"do not match its config.*wrong shape"):
        load_checkpoint(p)
    raw["config"]["embed_dim"] = 32
    raw["config"]["backbone"] = "resnet18"
    torch.save(raw, p)
    with pytest.raises(CheckpointError, match=r"backbone='resnet18'.*missing"):
        load_checkpoint(p)
    raw["config"]["backbone"] = "tiny"
    raw["config"]["dropout"] = 0.5
    torch.save(raw, p)
    with pytest.raises(CheckpointError, match="unknown model config keys: dropout"):
        load_checkpoint(p)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_fetch_downloads_verifies_and_caches(server, tmp_path, monkeypatch):
    root, base, hits = server
    payload = b"weights" * 1000
    (root / "model.pt").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    cache = tmp_path / "cache"
    monkeypatch.setenv("PANO_PAN_CACHE", str(cache))
    p = fetch(f"{base}/model.pt", digest)
    assert p == cache / "model.pt" and p.read_bytes() == payload and len(hits) == 1
    again = fetch(f"{base}/model.pt", digest.upper())
    assert again == p and len(hits) == 1  # served from the cache
    other = fetch(f"{base}/model.pt", digest, cache_dir=tmp_path / "c2")
    assert other.parent == tmp_path / "c2" and len(hits) == 2


def test_fetch_refuses_sha_mismatch(server, tmp_path):
    root, base, _ = server
    (root / "model.pt").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch(f"{base}/model.pt", "0" * 64, cache_dir=tmp_path / "c")
    assert not any((tmp_path / "c").iterdir())  # nothing kept, not even the partial file


def test_fetch_errors(server, tmp_path):
    _, base, _ = server
    with pytest.raises(DownloadError, match="download failed"):
        fetch(f"{base}/missing.pt", "0" * 64, cache_dir=tmp_path / "c")
    with pytest.raises(DownloadError, match="not a SHA-256"):
        fetch(f"{base}/x.pt", "abc", cache_dir=tmp_path / "c")


def test_planted_imagenet_weights_are_never_unpickled(tmp_path, monkeypatch):
    """A file put in torch hub's cache under the weights' name is read with weights_only=True: refused."""
    from torchvision.models import ResNet18_Weights

    from common.errors import UserError
    from soundloc.visual import build_backbone

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    name = ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    torch.save({"conv1.weight": Evil()}, hub / "checkpoints" / name)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))

    def no_network(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    with pytest.raises(UserError, match="refused for safety"):
        build_backbone("resnet18", pretrained=True)
    assert not marker.exists()


def test_commands_take_a_checkpoint_url_with_its_hash(server, tmp_path, monkeypatch):
    """``--checkpoint URL#sha256=HEX`` is downloaded once into the cache, verified, and then used."""
    from click.testing import CliRunner

    from cli.evaluate import evaluate

    root, base, hits = server
    path = save_checkpoint(root / "tiny.pt", _tiny())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv("PANO_PAN_CACHE", str(tmp_path / "cache"))
    args = ["synthetic:3:1", "--no-baselines", "--no-controls", "--device", "cpu", "--audio-seconds", "0.2"]
    for _ in range(2):
        result = CliRunner().invoke(evaluate, [*args, "--checkpoint", f"{base}/tiny.pt#sha256={digest}"])
        assert result.exit_code == 0, result.output + repr(result.exception)
        assert "cIoU@0.5" in result.output
    assert hits == ["/tiny.pt"] and (tmp_path / "cache" / "tiny.pt").is_file()  # the second run used the cache
    unhashed = CliRunner().invoke(evaluate, [*args, "--checkpoint", f"{base}/tiny.pt"])
    assert isinstance(unhashed.exception, DownloadError) and "#sha256=" in str(unhashed.exception)
    wrong = CliRunner().invoke(evaluate, [*args, "--checkpoint", f"{base}/tiny.pt#sha256={'0' * 64}"])
    assert isinstance(wrong.exception, DownloadError) and "SHA-256 mismatch" in str(wrong.exception)


@pytest.mark.parametrize(("key", "value"), [("embed_dim", 10**12), ("image_size", 10**7), ("sample_rate", 10**12),
                                            ("audio_window", 1e30), ("embed_dim", True), ("embed_dim", "512")])
def test_a_config_out_of_range_is_refused_before_anything_is_built(tmp_path, key, value):
    """Issue 23 item 12: embed_dim = 10**12 asked for a 256 TB layer and died in a traceback."""
    from soundloc.checkpoint import read_payload, write_payload

    good = save_checkpoint(tmp_path / "good.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=16)))
    payload = read_payload(good)
    payload["config"][key] = value
    bad = write_payload(tmp_path / "bad.pt", payload)
    with pytest.raises(CheckpointError, match=key):
        load_checkpoint(bad)
