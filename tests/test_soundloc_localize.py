"""``pano-pan localize`` through click's CliRunner, with a checkpoint and files the test makes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.localize import localize
from clips import write_wav
from common.errors import CheckpointError, UserError
from soundloc.checkpoint import save_checkpoint
from soundloc.model import ModelConfig, SoundLocalizer


def _wav(path: Path, seconds: float, freq: float, sr: int = 16000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    return write_wav(path, 0.4 * np.sin(2 * np.pi * freq * t), sr)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("loc")
    torch.manual_seed(0)
    ckpt = save_checkpoint(d / "tiny.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32, image_size=96)))
    img = np.full((90, 120, 3), 120, np.uint8)
    img[20:50, 30:70] = (40, 40, 220)
    cv2.imwrite(str(d / "scene.png"), img)
    return d, ckpt, d / "scene.png", _wav(d / "a.wav", 2.0, 440), _wav(d / "b.wav", 25.0, 880)


@pytest.mark.parametrize("method", ["attention", "combined"])
def test_localize_writes_one_panel_per_sound(files, method):
    d, ckpt, img, a, b = files
    out = d / f"out_{method}.png"
    res = CliRunner().invoke(
        localize, [str(img), str(a), str(b), "--checkpoint", str(ckpt), "-o", str(out), "--method", method]
    )
    assert res.exit_code == 0, res.output + repr(res.exception)
    pic = cv2.imread(str(out))
    assert pic.shape == (90, 3 * 120, 3)
    assert np.array_equal(pic[:, :120], cv2.imread(str(img)))  # the original comes first
    assert not list(d.glob(".out_*"))  # no temporary left behind
    assert "wrote" in res.output


def test_localize_errors_are_user_errors(files):
    d, ckpt, img, a, _ = files
    runner = CliRunner()
    res = runner.invoke(localize, [str(d / "none.png"), str(a), "-c", str(ckpt), "-o", str(d / "x.png")])
    assert isinstance(res.exception, UserError) and "none.png" in str(res.exception)
    res = runner.invoke(localize, [str(img), str(d / "none.wav"), "-c", str(ckpt), "-o", str(d / "x.png")])
    assert isinstance(res.exception, UserError) and "none.wav" in str(res.exception)
    res = runner.invoke(localize, [str(img), str(a), "-c", str(img), "-o", str(d / "x.png")])
    assert isinstance(res.exception, CheckpointError)
    res = runner.invoke(localize, [str(img), str(a), "-c", str(ckpt), "-o", str(d / "x.unknownext")])
    assert isinstance(res.exception, UserError) and ".png" in str(res.exception)
    res = runner.invoke(localize, [str(img), str(a), "-c", str(ckpt), "-o", str(d / "x.png"), "--method", "nope"])
    assert res.exit_code != 0
    assert not (d / "x.png").exists()
