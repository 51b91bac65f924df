"""FOA 360° videos teach the network: the dataset, its cache, training on it and mono runs with the result."""

import json

import numpy as np
import pytest

from clips import foa_clip, mono_pulse_clip
from common.audio_io import read_audio
from common.errors import UserError
from pano.foa import dataset as foa_dataset
from pano.foa.dataset import FoaSampling, FoaVideoDataset
from pano.foa.scoring import map_peaks
from pano.sphere.geometry import angular_distance

SR = 22050
SMALL = FoaSampling(image_size=64, sample_rate=SR, audio_seconds=0.5, frames_per_second=4.0, min_confidence=0.5)


def _peak(gt: np.ndarray) -> tuple[float, float]:
    yaw, pitch = map_peaks(gt[None])
    return float(yaw[0]), float(pitch[0])


def test_samples_carry_the_w_channel_and_a_target_at_the_foa_direction(tmp_path):
    (tmp_path / "vids").mkdir()
    clip = foa_clip(tmp_path / "vids" / "a.mp4", seconds=2.0, size=(120, 240), yaw=-100.0, pitch=20.0)
    data = FoaVideoDataset(tmp_path / "vids", SMALL, augment=False)
    assert len(data) >= 6
    track = read_audio(clip, SR, channels=None)  # (4, S): W, Y, Z, X
    n = int(round(0.5 * SR))
    for i in range(1, len(data) - 1):
        s = data[i]
        assert tuple(s["image"].shape) == (3, 32, 64) and tuple(s["gt_map"].shape) == (32, 64)
        assert bool(s["has_gt"])
        yaw, pitch = _peak(s["gt_map"].numpy())
        assert angular_distance(yaw, pitch, -100.0, 20.0) < 12.0  # one 5.6° cell plus the blob's spread
        _path, t = data.source(i)
        start = int(round(t * SR)) - n // 2
        w = track[0, start : start + n]
        got = s["audio"].numpy()
        assert np.corrcoef(got, w)[0, 1] > 0.99  # the omni channel, not a downmix with Y, Z, X
        assert np.corrcoef(got, track[3, start : start + n])[0, 1] < 0.9


def test_quiet_frames_carry_no_supervised_target_and_the_cache_survives(tmp_path, monkeypatch):
    (tmp_path / "vids").mkdir()
    foa_clip(tmp_path / "vids" / "gap.mp4", seconds=3.0, size=(120, 240), yaw=45.0, noise=0.002,
             sounding=lambda t: t < 1.5)
    data = FoaVideoDataset(tmp_path / "vids", SMALL, augment=False)
    times = np.array([data.source(i)[1] for i in range(len(data))])
    has = np.array([bool(data[i]["has_gt"]) for i in range(len(data))])
    assert has[times < 1.2].all() and not has[times > 1.9].any()
    assert all(float(data[i]["gt_map"].abs().sum()) == 0 for i in np.flatnonzero(~has))
    assert data.annotated_indices() == list(np.flatnonzero(has))

    # a restart reads the cache instead of decoding the video again
    def refuse(*_a, **_k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(foa_dataset, "_streamed", refuse)
    again = FoaVideoDataset(tmp_path / "vids", SMALL, augment=False)
    assert len(again) == len(data) and np.array_equal(again[0]["image"].numpy(), data[0]["image"].numpy())


def test_a_folder_without_foa_is_refused(tmp_path):
    (tmp_path / "vids").mkdir()
    mono_pulse_clip(tmp_path / "vids" / "mono.mp4", seconds=1.0, size=(60, 120))
    with pytest.raises(UserError, match="no 360° video with first-order ambisonic"):
        FoaVideoDataset(tmp_path / "vids", SMALL)


def test_trained_on_foa_clips_the_checkpoint_drives_a_mono_run(tmp_path, capsys):
    import torch
    from click.testing import CliRunner

    from cli.evaluate import evaluate
    from cli.main import main
    from cli.train import train

    vids = tmp_path / "vids"
    vids.mkdir()
    foa_clip(vids / "a.mp4", seconds=2.0, size=(60, 120), yaw=60.0)
    foa_clip(vids / "b.mp4", seconds=2.0, size=(60, 120), yaw=-90.0, seed=1)
    threads = torch.get_num_threads()
    try:
        out = tmp_path / "runs"
        res = CliRunner().invoke(train, [str(vids), "--dataset-type", "foa-videos", "--mode", "semi", "--out",
                                         str(out), "--epochs", "1", "--batch-size", "4", "--backbone", "tiny",
                                         "--embed-dim", "16", "--image-size", "64", "--freeze-sound",
                                         "--max-steps", "2", "-q"])
        assert res.exit_code == 0, res.output
        meta = torch.load(out / "best.pt", weights_only=True)["meta"]
        assert meta["dataset_type"] == "foa-videos" and meta["audio_seconds"] == 1.0
        assert meta["foa"]["frame_size"] == [32, 64]

        mono = mono_pulse_clip(tmp_path / "mono.mp4", seconds=1.0, size=(60, 120))
        code = main([str(mono), "-o", str(tmp_path / "out"), "--checkpoint", str(out / "best.pt"),
                     "--no-saliency-video"])
        assert code == 0, capsys.readouterr().err
        traj = json.loads((tmp_path / "out" / "mono.trajectory.json").read_text())
        assert traj["generator"]["localizer"] == "network"
        assert traj["generator"]["params"]["localizer"]["checkpoint"] == str(out / "best.pt")

        scored = CliRunner().invoke(evaluate, [str(vids), "--dataset-type", "foa-videos", "--checkpoint",
                                               str(out / "best.pt"), "--json", str(tmp_path / "s.json")])
        assert scored.exit_code == 0, scored.output
        doc = json.loads((tmp_path / "s.json").read_text())
        assert set(doc["capture"]) == {"network", "synchrony", "centre"} and doc["frames"] > 30
        assert doc["capture"]["centre"] == 0.0  # sources at 60° and −90° are outside a front view
    finally:
        torch.set_num_threads(threads)


def test_foa_training_refuses_a_ciou_validation_set_with_a_pointer_to_evaluate(tmp_path):
    from click.testing import CliRunner

    from cli.train import train

    res = CliRunner().invoke(train, [str(tmp_path), "--dataset-type", "foa-videos", "--val", str(tmp_path),
                                     "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, UserError)  # the CLI prints it as one line
    assert "evaluate VAL_DIR --dataset-type foa-videos" in str(res.exception)


@pytest.mark.parametrize("damage", ["truncate", "drop"])
def test_a_damaged_cache_entry_is_rebuilt_and_said(tmp_path, damage):
    """Issue 23 item 15: a truncated entry raised "mmap length is greater than file size"."""
    (tmp_path / "vids").mkdir()
    foa_clip(tmp_path / "vids" / "a.mp4", seconds=2.0, size=(120, 240), yaw=30.0)
    first = FoaVideoDataset(tmp_path / "vids", SMALL, augment=False)
    expected = first[2]["image"].numpy().copy()
    del first
    entry = next(p for p in (tmp_path / "vids" / ".pano-pan-cache").iterdir() if not p.name.startswith("."))
    frames = entry / "frames.npy"
    if damage == "truncate":
        frames.write_bytes(frames.read_bytes()[: frames.stat().st_size // 2])
    else:
        (entry / "maps.npy").unlink()
    said: list[str] = []
    again = FoaVideoDataset(tmp_path / "vids", SMALL, augment=False, notify=said.append)
    assert np.array_equal(again[2]["image"].numpy(), expected)
    assert any("damaged" in m and "rebuilding" in m for m in said), said


def test_a_killed_runs_partial_cache_is_removed(tmp_path):
    import subprocess
    import sys

    from common.atomic import _HOST

    (tmp_path / "vids").mkdir()
    foa_clip(tmp_path / "vids" / "a.mp4", seconds=1.0, size=(120, 240))
    cache = tmp_path / "vids" / ".pano-pan-cache"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    partial = cache / f".partial-{_HOST}-{dead.pid}-abcd"
    partial.mkdir(parents=True)
    (partial / "frames.raw").write_bytes(bytes(10000))
    FoaVideoDataset(tmp_path / "vids", SMALL, augment=False)
    assert not partial.exists() and not [p for p in cache.iterdir() if p.name.startswith(".")]
