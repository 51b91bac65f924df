"""A tiny localizer trained by the project's own loop learns on synthetic pairs; its maps find the object.

Pairs: a red square on a textured grey background goes with a 440 Hz tone, a blue square with a
noise burst; positions vary. Training is ``soundloc.train.train`` in ``semi`` mode, so the losses are
``soundloc.losses`` (eq. 6 distance-ratio triplet with the batch's other sounds as negatives, eq. 8
cross-entropy against the object's grid cells) exactly as users run them. The sound net's conv layers
are frozen (``freeze_sound``: f_s computed once per clip), which keeps the test to seconds on CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from soundloc.checkpoint import load_checkpoint
from soundloc.data.common import make_sample
from soundloc.gradients import localization_map
from soundloc.model import ModelConfig, preprocess_image, scale_waveform
from soundloc.soundnet import MIN_SAMPLES
from soundloc.train import TrainConfig, train

SIZE = 128  # 8×8 feature grid at stride 16
BOX = 32
SR = 22050


def _image(rng, color, y, x) -> np.ndarray:
    img = rng.integers(90, 140, (SIZE, SIZE, 3)).astype(np.uint8)
    img[y : y + BOX, x : x + BOX] = color
    return img


def _wave(kind: str) -> np.ndarray:
    t = np.arange(MIN_SAMPLES) / SR
    if kind == "tone":
        w = 0.5 * np.sin(2 * np.pi * 440 * t)
    else:
        w = 0.5 * np.random.default_rng(7).uniform(-1, 1, t.size) * (np.sin(2 * np.pi * 2 * t) > 0)
    return w.astype(np.float32)


def _sound(kind: str) -> torch.Tensor:
    return scale_waveform(_wave(kind))


class Pairs(Dataset):
    """``n`` red-square/tone and blue-square/noise pairs (alternating) with the square's box as ground truth."""

    def __init__(self, seed: int, n: int) -> None:
        rng = np.random.default_rng(seed)
        self.items = []
        for k in range(n):
            label = k % 2
            y, x = (int(v) * 16 for v in rng.integers(0, (SIZE - BOX) // 16 + 1, 2))
            img = _image(rng, (230, 30, 30) if label == 0 else (30, 30, 230), y, x)
            gt = np.zeros((SIZE, SIZE), np.float32)
            gt[y : y + BOX, x : x + BOX] = 1.0
            self.items.append((img, label, gt))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        img, label, gt = self.items[i]
        audio = _wave("tone" if label == 0 else "noise")
        return make_sample(preprocess_image(img, None)[0], audio, gt, SIZE, label, i)


def _mass_on_object(alpha: torch.Tensor, masks: torch.Tensor) -> float:
    return float((alpha * masks).sum(dim=(1, 2)).mean())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = Pairs(0, 40)
    cfg = TrainConfig(mode="semi", epochs=4, batch_size=8, lr=2e-3, freeze_sound=True, device="cpu", seed=0)
    res = train(data, tmp_path_factory.mktemp("pairs"), cfg, ModelConfig(backbone="tiny", embed_dim=64,
                                                                          image_size=SIZE))
    model, _ = load_checkpoint(res.last)
    test = Pairs(1, 8)
    batch = torch.utils.data.default_collate([test[i] for i in range(len(test))])
    masks = torch.nn.functional.adaptive_avg_pool2d(batch["gt_map"][:, None], SIZE // 16)[:, 0]
    with torch.no_grad():
        f_s = model.sound_features(torch.stack([_sound("tone"), _sound("noise")]))  # (2, 1000)
        out = model.attend_sound(model.visual_features(batch["image"]), f_s[batch["label"]])
    return {"model": model, "f_s": f_s, "history": res.history, "after": out, "masks": masks}


def test_training_lowers_loss_and_moves_attention_onto_object(trained):
    losses = [h["loss"] for h in trained["history"]]
    assert losses[-1] < 0.8 * losses[0], losses
    alpha, masks = trained["after"].attention, trained["masks"]
    chance = float(masks.sum(dim=(1, 2)).mean()) / masks[0].numel()  # uniform attention's mass on the box
    assert _mass_on_object(alpha, masks) > 2 * chance
    peak = alpha.reshape(len(alpha), -1).argmax(1)
    on = masks.reshape(len(masks), -1).gather(1, peak[:, None])[:, 0]
    assert float(on.mean()) >= 0.75


@pytest.mark.parametrize("method", ["attention", "gradient", "guided", "combined"])
def test_maps_peak_on_the_object_in_a_new_image(trained, method):
    model = trained["model"]
    rng = np.random.default_rng(123)
    y, x = 64, 16
    img = _image(rng, (230, 30, 30), y, x)  # red square: the tone's object
    m = localization_map(model, img, None, method, f_s=trained["f_s"][:1])
    assert m.shape == (SIZE, SIZE) and m.dtype == np.float32
    assert m.min() >= 0.0 and m.max() <= 1.0 + 1e-6
    inside = np.zeros_like(m, bool)
    inside[y - 8 : y + BOX + 8, x - 8 : x + BOX + 8] = True  # the box with a margin of half a cell
    py, px = np.unravel_index(np.argmax(m), m.shape)
    assert inside[py, px], (method, py, px)
    assert m[inside].mean() > 1.5 * m[~inside].mean()


def test_localization_map_from_waveform_matches_h(trained):
    model = trained["model"]
    img = _image(np.random.default_rng(5), (230, 30, 30), 0, 0)
    a = localization_map(model, img, _sound("tone"), "attention")
    b = localization_map(model, img, None, "attention", h=model.embed_features(trained["f_s"][:1]))
    assert np.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError):
        localization_map(model, img, None, "occlusion", h=torch.zeros(1, 64))
    with pytest.raises(ValueError, match="f_s"):  # eq. 6 compares f_v with f_s, which h alone cannot give
        localization_map(model, img, None, "gradient", h=torch.zeros(1, 64))
    # the gradient is taken with respect to the image only; the model's weights get no gradient
    model.zero_grad(set_to_none=True)
    localization_map(model, img, None, "gradient", f_s=torch.randn(1, 1000))
    assert all(p.grad is None for p in model.parameters())
