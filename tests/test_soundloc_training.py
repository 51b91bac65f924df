"""A tiny localizer learns on synthetic pairs; its attention and gradient maps find the object.

Pairs: a red square on a textured grey background goes with a 440 Hz tone, a blue square with a
noise burst; positions vary. The losses are the paper's (eq. 6 distance-ratio triplet with the other
class's sound as the negative, eq. 8 cross-entropy against the object's grid cells), written out here
so the test depends only on the model API. The sound net's conv layers are frozen (f_s is computed
once per clip), which keeps the whole test to a few seconds on CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.gradients import localization_map
from soundloc.model import ModelConfig, SoundLocalizer, preprocess_image, scale_waveform
from soundloc.soundnet import MIN_SAMPLES

SIZE = 128  # 8×8 feature grid at stride 16
BOX = 32
STEPS = 20
SR = 22050


def _image(rng, color, y, x) -> np.ndarray:
    img = rng.integers(90, 140, (SIZE, SIZE, 3)).astype(np.uint8)
    img[y : y + BOX, x : x + BOX] = color
    return img


def _sound(kind: str) -> torch.Tensor:
    t = np.arange(MIN_SAMPLES) / SR
    if kind == "tone":
        w = 0.5 * np.sin(2 * np.pi * 440 * t)
    else:
        w = 0.5 * np.random.default_rng(7).uniform(-1, 1, t.size) * (np.sin(2 * np.pi * 2 * t) > 0)
    return scale_waveform(w.astype(np.float32))


def _pairs(seed: int, n: int):
    rng = np.random.default_rng(seed)
    images, masks, labels = [], [], []
    for k in range(n):
        label = k % 2
        y, x = (int(v) * 16 for v in rng.integers(0, (SIZE - BOX) // 16 + 1, 2))
        images.append(_image(rng, (230, 30, 30) if label == 0 else (30, 30, 230), y, x))
        m = torch.zeros(SIZE // 16, SIZE // 16)
        m[y // 16 : (y + BOX) // 16, x // 16 : (x + BOX) // 16] = 1
        masks.append(m)
        labels.append(label)
    return preprocess_image(np.stack(images), None), torch.stack(masks), torch.tensor(labels), images


def _mass_on_object(alpha: torch.Tensor, masks: torch.Tensor) -> float:
    return float((alpha * masks).sum(dim=(1, 2)).mean())


def _losses(out, h_neg, masks):
    d_pos = (out.f_v - out.h).norm(dim=1)
    d_neg = (out.f_v - h_neg).norm(dim=1)
    d = torch.softmax(torch.stack([d_pos, d_neg], 1), dim=1)
    unsup = (d[:, 0] ** 2 + (d[:, 1] - 1) ** 2).mean()
    sup = -(masks * torch.log(out.attention + 1e-12)).sum(dim=(1, 2)).div(masks.sum(dim=(1, 2))).mean()
    return unsup, sup


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=64, image_size=SIZE))
    model.soundnet.requires_grad_(False)
    model.soundnet.eval()
    with torch.no_grad():
        f_s = model.sound_features(torch.stack([_sound("tone"), _sound("noise")]))  # (2, 1000)
    images, masks, labels, _ = _pairs(0, 8)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=2e-3)

    def step(train: bool):
        model.train(train)
        model.soundnet.eval()
        h_all = model.embed_features(f_s)
        out = model.attend(model.visual_features(images), h_all[labels])
        unsup, sup = _losses(out, h_all[1 - labels], masks)
        return out, unsup + sup

    with torch.no_grad():
        before_out, before_loss = step(False)
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, loss = step(True)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    with torch.no_grad():
        after_out, after_loss = step(False)
    model.eval()
    return {
        "model": model,
        "f_s": f_s,
        "loss": (float(before_loss), float(after_loss)),
        "mass": (_mass_on_object(before_out.attention, masks), _mass_on_object(after_out.attention, masks)),
        "after": after_out,
        "masks": masks,
    }


def test_training_lowers_loss_and_moves_attention_onto_object(trained):
    before, after = trained["loss"]
    assert after < 0.8 * before
    m0, m1 = trained["mass"]
    assert m1 > 2 * m0
    alpha, masks = trained["after"].attention, trained["masks"]
    peak = alpha.reshape(len(alpha), -1).argmax(1)
    on = masks.reshape(len(masks), -1).gather(1, peak[:, None])[:, 0]
    assert float(on.mean()) >= 0.75


@pytest.mark.parametrize("method", ["attention", "gradient", "guided", "combined"])
def test_maps_peak_on_the_object_in_a_new_image(trained, method):
    model = trained["model"]
    rng = np.random.default_rng(123)
    y, x = 64, 16
    img = _image(rng, (230, 30, 30), y, x)  # red square: the tone's object
    h = model.embed_features(trained["f_s"][:1]).detach()
    m = localization_map(model, img, None, method, h=h)
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
    # the gradient is taken with respect to the image only; the model's weights get no gradient
    model.zero_grad(set_to_none=True)
    localization_map(model, img, None, "gradient", h=torch.randn(1, 64))
    assert all(p.grad is None for p in model.parameters())
