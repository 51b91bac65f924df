"""Short training runs in every mode, resume, the CLI commands, and DDP under a torchrun-like env."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.evaluate import evaluate
from cli.train import train as train_cmd
from common.errors import UserError
from soundloc.checkpoint import load_checkpoint
from soundloc.data import SyntheticScenes
from soundloc.evaluate import evaluate as run_eval
from soundloc.model import ModelConfig
from soundloc.train import Progress, TrainConfig, train

SIZE = 64
MODEL = dict(backbone="tiny", embed_dim=32, image_size=SIZE)


def scenes(n: int, seed: int, **kw) -> SyntheticScenes:
    return SyntheticScenes(n, seed=seed, image_size=SIZE, audio_seconds=0.5, **kw)


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("mode", ["unsup", "sup", "semi"])
def test_short_run_lowers_loss_and_checkpoints(tmp_path, mode):
    data = scenes(16, 1, labelled_fraction=0.75)
    events: list[Progress] = []
    cfg = TrainConfig(mode=mode, epochs=6, batch_size=8, lr=1e-3, freeze_sound=True, seed=0,
                      deterministic=True, device="cpu")
    res = train(data, tmp_path, cfg, ModelConfig(**MODEL), val_set=scenes(4, 50), callback=events.append)
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    assert res.best.is_file() and res.last.is_file() and (tmp_path / "last.state.pt").is_file()
    steps = [e for e in events if e.kind == "step"]
    assert steps and steps[0].rate > 0 and steps[0].loss == steps[0].loss
    assert not torch.are_deterministic_algorithms_enabled()  # the flag does not leak out of train()
    model, meta = load_checkpoint(res.last)
    assert meta["mode"] == mode and meta["epoch"] == 6 and "val" in meta["history"][-1]
    report = run_eval(model, scenes(4, 50), with_baselines=False)
    assert report.summary.n > 0 and 0 <= report.summary.auc <= 1
    cli = CliRunner().invoke(evaluate, ["synthetic:4:50", "--checkpoint", str(res.best), "--no-baselines",
                                        "--audio-seconds", "0.5", "--device", "cpu"])
    assert cli.exit_code == 0 and "cIoU@0.5" in cli.output, cli.output + repr(cli.exception)


def test_full_sound_network_trains_and_resumes(tmp_path):
    """Without the CPU shortcut every SoundNet weight gets a gradient; resume continues the epochs."""
    data = scenes(8, 2)
    cfg = TrainConfig(mode="unsup", epochs=1, batch_size=4, lr=1e-3, device="cpu", max_steps_per_epoch=1)
    model_cfg = ModelConfig(**MODEL)
    res = train(data, tmp_path, cfg, model_cfg)
    before, _ = load_checkpoint(res.last)
    cfg2 = TrainConfig(mode="unsup", epochs=2, batch_size=4, lr=1e-3, device="cpu", max_steps_per_epoch=1)
    info: list[str] = []
    res2 = train(data, tmp_path, cfg2, resume=res.last, callback=lambda p: info.append(p.message))
    after, meta = load_checkpoint(res2.last)
    assert meta["epoch"] == 2 and len(meta["history"]) == 2
    assert any("resuming" in m for m in info) and not any("fresh optimizer" in m for m in info)
    w0 = before.soundnet.layers[0].weight
    assert not torch.equal(w0, after.soundnet.layers[0].weight)


def test_supervised_mode_needs_annotations(tmp_path):
    data = scenes(6, 3, labelled_fraction=0.0)
    with pytest.raises(UserError, match="annotated"):
        train(data, tmp_path, TrainConfig(mode="sup", epochs=1, batch_size=2, device="cpu"),
              ModelConfig(**MODEL))
    with pytest.raises(UserError, match="--mode"):
        train(data, tmp_path, TrainConfig(mode="bogus"), ModelConfig(**MODEL))


def test_cli_train_then_evaluate(tmp_path):
    out = tmp_path / "run"
    args = ["synthetic:16:4", "--mode", "semi", "--out", str(out), "--epochs", "2", "--batch-size", "8",
            "--lr", "1e-3", "--image-size", str(SIZE), "--backbone", "tiny", "--embed-dim", "32",
            "--freeze-sound", "--val", "synthetic:6:9", "--device", "cpu", "--seed", "1"]
    result = CliRunner().invoke(train_cmd, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert (out / "best.pt").is_file() and "best:" in result.output
    js, png = tmp_path / "scores.json", tmp_path / "curve.png"
    result = CliRunner().invoke(evaluate, ["synthetic:10:5", "--checkpoint", str(out / "best.pt"), "--json",
                                           str(js), "--plot", str(png), "--retrieval", "--device", "cpu"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "cIoU@0.5" in result.output and "centre box" in result.output and "image→audio" in result.output
    for row in ("attention α with:", "cosine map with:", "mismatched audio", "silent audio", "sound gain"):
        assert row in result.output, row
    scores = json.loads(js.read_text())
    assert scores["protocol"] == "senocak" and 0 <= scores["success"] <= 1 and len(scores["curve"]) == 21
    assert scores["retrieval"]["image_to_audio"] and scores["info"]["audio_seconds"] == 1.0
    controls = scores["controls"]
    assert set(controls) == {"attention", "cosine"}
    assert set(controls["cosine"]) == {"matched", "mismatched", "silent", "gain"}
    assert controls["attention"]["matched"]["success"] == scores["success"] and scores["warnings"] == []
    assert png.read_bytes()[:4] == b"\x89PNG"
    lvs = CliRunner().invoke(evaluate, ["synthetic:6:5", "--checkpoint", str(out / "best.pt"),
                                        "--protocol", "lvs", "--no-baselines", "-q"])
    assert lvs.exit_code == 0, lvs.output
    # synthetic boxes cover ~5-20% of the image, but lvs always marks half of it
    assert "warning: --protocol lvs" in lvs.stderr and "senocak" in lvs.stderr


def test_cli_errors_are_one_line_user_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(2)}, bad)  # a torch file, but not a soundloc checkpoint
    result = CliRunner().invoke(evaluate, ["synthetic:4", "--checkpoint", str(bad)])
    assert isinstance(result.exception, UserError) and "bad.pt" in str(result.exception)
    assert "\n" not in str(result.exception)
    bad.write_bytes(b"junk")
    result = CliRunner().invoke(evaluate, ["synthetic:4", "--checkpoint", str(bad)])
    assert isinstance(result.exception, UserError) and "bad.pt" in str(result.exception)
    result = CliRunner().invoke(train_cmd, ["synthetic:x", "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, UserError) and "synthetic:N" in str(result.exception)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    import os

    os.environ.update({"WORLD_SIZE": str(world), "RANK": str(rank), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    cfg = TrainConfig(mode="semi", epochs=1, batch_size=8, lr=1e-3, device="cpu", freeze_sound=True)
    train(SyntheticScenes(16, seed=5, image_size=SIZE, audio_seconds=0.5), out, cfg, ModelConfig(**MODEL))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_under_torchrun_environment(tmp_path):
    """Two gloo processes with torchrun's variables: training runs unchanged and rank 0 saves."""
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    _, meta = load_checkpoint(tmp_path / "last.pt")
    assert meta["world_size"] == 2 and meta["epoch"] == 1


def test_cli_trains_on_a_video_folder(tmp_path):
    from test_datasets import write_video

    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(2):
        write_video(videos / f"v{i}.mp4")
    out = tmp_path / "run"
    args = [str(videos), "--out", str(out), "--epochs", "1", "--batch-size", "4", "--frames-per-video", "2",
            "--image-size", "48", "--backbone", "tiny", "--embed-dim", "16", "--audio-seconds", "0.5",
            "--freeze-sound", "--device", "cpu", "-q"]
    result = CliRunner().invoke(train_cmd, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    _, meta = load_checkpoint(out / "last.pt")
    assert meta["samples"] == 4 and meta["data"] == str(videos)
    result = CliRunner().invoke(train_cmd, [str(videos), "--mode", "sup", "--out", str(out), "--epochs", "1",
                                            "--backbone", "tiny", "--image-size", "48"])
    assert isinstance(result.exception, UserError) and "annotat" in str(result.exception)


def _predictions(matched: list, mismatched: list, gts: list):
    from soundloc.evaluate import Predictions

    n = len(gts)
    controls = {f"{kind}/{audio}": maps for kind in ("attention", "cosine")
                for audio, maps in (("matched", matched), ("mismatched", mismatched), ("silent", mismatched))}
    return Predictions(list(matched), list(gts), np.ones(n, bool), np.zeros(n, int), np.zeros((n, 2)),
                       np.zeros((n, 2)), controls)


def test_sound_gain_separates_localization_from_objectness():
    """A map that moves with the sound has a gain; one that marks the same object whatever the sound has none."""
    from soundloc.evaluate import score

    rng = np.random.default_rng(0)
    gts, on, off = [], [], []
    for _ in range(40):
        y, x = rng.integers(0, 12, 2)
        g = np.zeros((20, 20), np.float32)
        g[y : y + 8, x : x + 8] = 1
        gts.append(g)
        on.append(g + 0.01 * rng.random((20, 20)))  # the sounding object
        off.append(np.roll(g, 10, axis=(0, 1)) + 0.01 * rng.random((20, 20)))  # another object
    follows = score(_predictions(on, off, gts), with_baselines=False)
    gain = follows.controls["attention"]["gain"]
    assert follows.summary.success == 1.0 and gain["success"] == 1.0 and gain["ci_low"] > 0.9
    ignores = score(_predictions(on, on, gts), with_baselines=False)
    gain = ignores.controls["cosine"]["gain"]
    assert ignores.summary.success == 1.0 and gain["success"] == 0.0 and gain["ci_low"] <= 0 <= gain["ci_high"]


def _control_picks(labels: torch.Tensor | None, clips: torch.Tensor | None, n: int, batch: int = 4,
                   seeds: list[int] = ()) -> list[int]:
    """Which sample's sound the mismatched control gives each of ``n`` samples (each sample's "sound" is its
    index), after remembering ``seeds`` as :meth:`_ControlSounds.seed` does."""
    from soundloc.evaluate import _ControlSounds

    ids = torch.arange(n, dtype=torch.float32)[:, None]

    def part(sel) -> dict:
        out = {"index": torch.arange(n)[sel]}
        for key, x in (("label", labels), ("clip", clips)):
            if x is not None:
                out[key] = x[sel]
        return out

    sounds = _ControlSounds(model=None)
    if seeds:
        sounds.recent = sounds._entries(ids[seeds], part(seeds))
    picked = [sounds.mismatched(ids[i:i + batch], part(slice(i, i + batch))) for i in range(0, n, batch)]
    return torch.cat(picked)[:, 0].long().tolist()


def test_mismatched_sound_is_of_another_class_when_classes_are_known():
    """With four sound classes a quarter of 'previous sample' sounds are of the image's own kind; the control
    must take the nearest earlier sample of another class instead (and the previous one when classes are unknown)."""
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 0, 3, -1, 3])
    picked = _control_picks(labels, None, 12)
    for i, j in enumerate(picked):
        assert j != i and (labels[j] != labels[i] or labels[i] < 0), (i, j)
    assert picked[2] == 1 and picked[7] == 6 and picked[11] == 10  # nearest earlier of another class
    assert _control_picks(None, None, 12) == [3] + list(range(11))  # unknown: the previous sample


def test_mismatched_sound_comes_from_another_video():
    """Frames of one video share their source, so a frame's 'wrong' sound must come from another recording,
    also for the first video's frames (from the samples remembered across the dataset first)."""
    clips = torch.tensor([0] * 6 + [1] * 6 + [2] * 6)
    picked = _control_picks(None, clips, 18, seeds=[0, 8, 17])
    assert all(clips[j] != clips[i] for i, j in enumerate(picked)), picked
    assert picked[6] == 5 and picked[17] == 11  # the nearest frame of the video before
    assert picked[0] == 17  # the first video draws on a remembered frame of another video


def test_ctrl_c_while_a_checkpoint_is_written_exits_130_and_resume_works(tmp_path, monkeypatch, capsys):
    """Issue 23 item 14: a signal inside torch.save broke its zip writer: a RuntimeError traceback, exit 1."""
    import os
    import signal

    import soundloc.checkpoint as checkpoint
    from cli.main import main

    real_save = torch.save
    calls = [0]

    class Interrupting:  # a file whose third write is where Ctrl-C lands
        def __init__(self, fh) -> None:
            self.fh, self.writes = fh, 0

        def write(self, data):
            self.writes += 1
            if self.writes == 3 and calls[0] == 1:
                os.kill(os.getpid(), signal.SIGINT)
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    def save(obj, fh, *args, **kwargs):
        calls[0] += 1
        return real_save(obj, Interrupting(fh) if hasattr(fh, "write") else fh, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save)
    out = tmp_path / "o"
    args = ["train", "synthetic:8:1", "--out", str(out), "--backbone", "tiny", "--image-size", str(SIZE),
            "--embed-dim", "32", "--batch-size", "4", "--max-steps", "1", "--audio-seconds", "0.5", "--device", "cpu"]
    code = main([*args, "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("pano-pan: interrupted (SIGINT)")
    _, meta = load_checkpoint(out / "last.pt")  # the checkpoint being written was finished first
    assert meta["epoch"] == 1
    monkeypatch.setattr(checkpoint.torch, "save", real_save)
    assert main([*args, "--epochs", "2", "--resume", str(out / "last.pt")]) == 0
    assert load_checkpoint(out / "last.pt")[1]["epoch"] == 2


def test_train_and_evaluate_say_what_they_report_and_write(tmp_path, capsys):
    """Issue 23 item 17: the epoch line repeated the last step's line with another, unlabeled loss; nothing
    said what picks best.pt without --val; evaluate wrote its JSON and PNG without a word."""
    from cli.main import main

    out = tmp_path / "o"
    code = main(["train", "synthetic:8:1", "--out", str(out), "--backbone", "tiny", "--image-size", str(SIZE),
                 "--embed-dim", "32", "--batch-size", "4", "--max-steps", "2", "--audio-seconds", "0.5",
                 "--device", "cpu", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "best.pt is the epoch with the lowest mean training loss" in err
    epoch = [line for line in err.splitlines() if "done" in line]
    assert len(epoch) == 1 and "mean loss" in epoch[0]
    assert all("step loss" in line for line in err.splitlines() if " step " in line)
    report, plot = tmp_path / "r.json", tmp_path / "r.png"
    code = main(["evaluate", "synthetic:4:50", "--checkpoint", str(out / "best.pt"), "--no-baselines",
                 "--audio-seconds", "0.5", "--device", "cpu", "--json", str(report), "--plot", str(plot)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"wrote {report}" in err and f"wrote {plot}" in err
