"""The two-stream network: sound net layout, backbones, attention (eqs. 1–4), model API, inputs."""

from __future__ import annotations

import socket
import urllib.error

import numpy as np
import pytest
import torch

from common.errors import UserError
from soundloc.attention import attention_scores, cosine_map, map_confidence, softmax_map
from soundloc.model import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LocalizerOutput,
    ModelConfig,
    SoundLocalizer,
    preprocess_image,
    scale_waveform,
)
from soundloc.soundnet import HOP, MIN_SAMPLES, SoundNet8, conv8_length, fit_min_length
from soundloc.visual import DOWNLOAD_TIMEOUT, build_backbone


def test_soundnet_layers_and_lengths():
    net = SoundNet8().eval()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128, 256, 512, 1024, 1000]
    assert [c.kernel_size[0] for c in convs] == [64, 32, 16, 8, 4, 4, 4, 8]
    assert [c.padding[0] for c in convs] == [32, 16, 8, 4, 2, 2, 2, 0]
    assert all(c.stride[0] == 2 for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules()) == 7  # conv8 has none
    assert HOP == 65536
    assert 9.4 < MIN_SAMPLES / 22050 < 9.6
    assert conv8_length(MIN_SAMPLES) == 1 and conv8_length(MIN_SAMPLES - 1) == 0
    with torch.no_grad():
        assert net(torch.zeros(1, MIN_SAMPLES)).shape == (1, 1000, 1)
        assert net(torch.zeros(2, 441000)).shape == (2, 1000, conv8_length(441000))


def test_fit_min_length_tiles_deterministically():
    w = torch.arange(5.0)[None]
    t = fit_min_length(w, 12)
    assert t.tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]]
    assert fit_min_length(torch.zeros(1, 0), 7).shape == (1, 7)
    long = torch.ones(1, 20)
    assert fit_min_length(long, 12) is long


def test_vgg16_shapes_480x960_and_320():
    model = SoundLocalizer(ModelConfig(backbone="vgg16")).eval()
    with torch.no_grad():
        v = model.visual_features(torch.zeros(1, 3, 480, 960))
        assert v.shape == (1, 512, 30, 60)
        v2 = model.visual_features(torch.randn(1, 3, 320, 320))
        assert v2.shape == (1, 512, 20, 20)
        out = model.attend(v2, torch.randn(1, 512))
    assert out.attention.shape == (1, 20, 20) and out.f_v.shape == (1, 1000) and out.z.shape == (1, 512)
    # conv5_3 output, before its ReLU: negative values survive
    assert (v2 < 0).any()
    assert isinstance(model.backbone[-1], torch.nn.Conv2d)


@pytest.mark.parametrize("name,channels", [("resnet18", 256), ("tiny", 64)])
def test_other_backbones_stride16(name, channels):
    bb = build_backbone(name)
    assert bb.channels == channels and bb.stride == 16
    with torch.no_grad():
        assert bb.module.eval()(torch.zeros(1, 3, 64, 128)).shape == (1, channels, 4, 8)


def test_unknown_backbone_is_user_error():
    with pytest.raises(UserError, match="unknown backbone"):
        build_backbone("alexnet")


def test_pretrained_offline_fails_fast(monkeypatch, tmp_path):
    seen = {}

    def offline(*args, **kwargs):
        seen["timeout"] = socket.getdefaulttimeout()
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    before = socket.getdefaulttimeout()
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        with pytest.raises(UserError, match="could not get ImageNet weights for resnet18"):
            build_backbone("resnet18", pretrained=True)
    finally:
        torch.hub.set_dir(old)
    assert seen["timeout"] == DOWNLOAD_TIMEOUT
    assert socket.getdefaulttimeout() == before  # restored


def test_config_round_trip_and_unknown_keys():
    cfg = ModelConfig(backbone="tiny", attention="relu_cosine", embed_dim=64, audio_window=10.0)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({**cfg.to_dict(), "colour": 1})
    with pytest.raises(ValueError, match="unknown attention"):
        ModelConfig.from_dict({**cfg.to_dict(), "attention": "dot"})


def test_tiny_model_outputs_and_attention_sums():
    torch.manual_seed(0)
    model = SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32)).eval()
    wave = torch.randn(3, 30000) * 100
    with torch.no_grad():
        out = model(torch.randn(3, 3, 64, 96), wave)
        f_s = model.sound_features(wave)
    assert isinstance(out, LocalizerOutput)
    assert out.attention.shape == out.cosine.shape == (3, 4, 6)
    # eq. 6 compares f_v with the 1000-D pooled SoundNet features f_s, so f_v has their size
    assert out.h.shape == out.z.shape == (3, 32) and out.f_v.shape == out.target.shape == (3, 1000)
    assert torch.allclose(out.target, f_s, atol=1e-4)
    assert torch.allclose(out.attention.sum(dim=(1, 2)), torch.ones(3), atol=1e-5)
    assert (out.cosine >= -1 - 1e-5).all() and (out.cosine <= 1 + 1e-5).all()
    # eq. 4 by hand
    v = model.visual_features(torch.zeros(1, 3, 64, 96))
    h = torch.randn(1, 32)
    o = model.attend(v, h)
    z = (v * o.attention[:, None]).sum(dim=(2, 3))
    assert torch.allclose(o.z, z, atol=1e-5)


def test_cosine_and_relu_mechanisms():
    v = torch.zeros(1, 2, 1, 3)
    v[0, :, 0, 0] = torch.tensor([1.0, 0.0])  # cos +1
    v[0, :, 0, 1] = torch.tensor([-2.0, 0.0])  # cos -1
    v[0, :, 0, 2] = torch.tensor([0.0, 5.0])  # cos 0
    h = torch.tensor([[3.0, 0.0]])
    cos = cosine_map(v, h)
    assert torch.allclose(cos, torch.tensor([[[1.0, -1.0, 0.0]]]), atol=1e-6)
    a_cos = softmax_map(attention_scores(cos, "cosine"))
    a_relu = softmax_map(attention_scores(cos, "relu_cosine"))
    e = float(np.exp(1.0))
    assert torch.allclose(a_cos, torch.tensor([[[e, 1 / e, 1.0]]]) / (e + 1 / e + 1), atol=1e-6)
    # eq. 3: negative correlation is clipped to 0, so it weighs like an unrelated cell
    assert torch.allclose(a_relu, torch.tensor([[[e, 1.0, 1.0]]]) / (e + 2), atol=1e-6)
    assert torch.isclose(a_relu[0, 0, 1], a_relu[0, 0, 2])
    # all-negative map: relu variant is uniform
    flat = softmax_map(attention_scores(-cos.abs() - 0.1, "relu_cosine"))
    assert torch.allclose(flat, torch.full_like(flat, 1 / 3))
    with pytest.raises(ValueError):
        attention_scores(cos, "dot")


def test_relu_model_uses_eq3():
    torch.manual_seed(1)
    model = SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=16, attention="relu_cosine")).eval()
    v = torch.randn(2, 16, 3, 4)
    h = torch.randn(2, 16)
    out = model.attend(v, h)
    expect = torch.softmax(out.cosine.clamp_min(0).reshape(2, -1), 1).reshape(2, 3, 4)
    assert torch.allclose(out.attention, expect, atol=1e-6)


def test_confidence_peaked_vs_flat():
    peaked = torch.full((1, 8, 8), 0.0)
    peaked[0, 3, 4] = 0.9
    flat = torch.full((1, 8, 8), 0.05) + 0.01 * torch.randn(1, 8, 8)
    negative = torch.full((1, 8, 8), -0.5)
    conf = map_confidence(torch.cat([peaked, flat, negative]))
    assert conf[0] > 0.8
    assert conf[1] < 0.1
    assert conf[2] == 0
    assert ((conf >= 0) & (conf <= 1)).all()


def test_freeze_backbone_keeps_eval_and_no_grad():
    model = SoundLocalizer(ModelConfig(backbone="tiny", freeze_backbone=True, embed_dim=64))
    model.train()
    assert not model.backbone.training
    assert all(not p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.visual_head.parameters())


def test_preprocess_image_and_scale_waveform():
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[..., 0] = 255
    x = preprocess_image(rgb, None)
    assert x.shape == (1, 3, 10, 20) and x.dtype == torch.float32
    assert np.isclose(float(x[0, 0, 0, 0]), (1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], atol=1e-5)
    assert np.isclose(float(x[0, 1, 0, 0]), -IMAGENET_MEAN[1] / IMAGENET_STD[1], atol=1e-5)
    assert preprocess_image(np.stack([rgb, rgb]), 16).shape == (2, 3, 16, 16)
    assert preprocess_image(torch.from_numpy(rgb), (8, 12)).shape == (1, 3, 8, 12)
    with pytest.raises(ValueError):
        preprocess_image(np.zeros((4, 4), np.uint8), None)
    with pytest.raises(ValueError, match="uint8"):
        preprocess_image(np.zeros((4, 4, 3), np.float32), None)
    w = scale_waveform(np.array([-1.0, 0.5], np.float64))
    assert w.dtype == torch.float32 and w.tolist() == [-256.0, 128.0]


def test_unsup_target_f_s_is_the_paper_and_old_configs_keep_h():
    """Eq. 6 pulls f_v towards f_s; a checkpoint config without the key was trained against h."""
    cfg = ModelConfig(backbone="tiny", embed_dim=32)
    assert cfg.unsup_target == "f_s" and cfg.to_dict()["unsup_target"] == "f_s"
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("unsup_target", "attention_temperature")}
    restored = ModelConfig.from_dict(old)
    assert restored.unsup_target == "h" and restored.attention_temperature == 1.0
    model = SoundLocalizer(restored).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64), torch.randn(2, 30000) * 100)
    assert out.f_v.shape == (2, 32) and torch.equal(out.target, out.h)
    with pytest.raises(ValueError, match="unsup_target"):
        ModelConfig.from_dict({**cfg.to_dict(), "unsup_target": "z"})


def test_attention_temperature_sharpens_alpha():
    """α = softmax(cos/τ): at τ = 1 a 4-cell source in 400 cells holds < 8% of the mass, at τ = 0.05 most."""
    cos = torch.zeros(1, 20, 20)
    cos[0, :2, :2] = 1.0
    assert float(softmax_map(cos)[0, :2, :2].sum()) < 0.08
    assert float(softmax_map(cos, 0.05)[0, :2, :2].sum()) > 0.99
    torch.manual_seed(0)
    model = SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=16, attention_temperature=0.05)).eval()
    v, h = torch.randn(2, 16, 3, 4), torch.randn(2, 16)
    out = model.attend(v, h)
    expect = torch.softmax(out.cosine.reshape(2, -1) / 0.05, 1).reshape(2, 3, 4)
    assert torch.allclose(out.attention, expect, atol=1e-6)
    assert ModelConfig.from_dict(model.config.to_dict()).attention_temperature == 0.05
    with pytest.raises(ValueError, match="attention_temperature"):
        ModelConfig(attention_temperature=0.0).validate()


def test_datasets_prepare_images_exactly_like_inference():
    """Training images (normalize_image) and inference frames (preprocess_image) go through one path."""
    from soundloc.data.common import normalize_image

    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)  # downscaled: resampling must agree
    small = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)  # upscaled
    for rgb in (big, small):
        assert torch.allclose(normalize_image(rgb, 96), preprocess_image(rgb, 96)[0], atol=1e-6)
    grey = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert torch.allclose(normalize_image(grey, 32), preprocess_image(np.repeat(grey[..., None], 3, 2), 32)[0])


@pytest.mark.parametrize("backbone", ["tiny", "vgg16"])
def test_reflect_padding_keeps_the_border_out_of_the_features(backbone):
    """Zero padding makes border cells of a plain image differ from inner ones (a position code the attention
    can use to pass the sound's identity to f_v); reflect padding makes every cell of a plain image the same."""
    image = torch.full((1, 3, 64, 64), 0.7)
    feats = {}
    for padding in ("zeros", "reflect"):
        torch.manual_seed(0)
        model = SoundLocalizer(ModelConfig(backbone=backbone, embed_dim=32, padding=padding)).eval()
        with torch.no_grad():
            v = model.visual_features(image)[0].flatten(1)  # (C, cells)
        feats[padding] = float((v - v.mean(dim=1, keepdim=True)).abs().max() / v.abs().max().clamp_min(1e-9))
    assert feats["zeros"] > 0.05 and feats["reflect"] < 1e-4, feats
    restored = ModelConfig.from_dict({k: v for k, v in ModelConfig(padding="reflect").to_dict().items()})
    assert restored.padding == "reflect"
    assert ModelConfig.from_dict({k: v for k, v in restored.to_dict().items() if k != "padding"}).padding == "zeros"
    with pytest.raises(ValueError, match="padding"):
        ModelConfig(padding="circular").validate()
