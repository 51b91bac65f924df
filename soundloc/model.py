"""The two-stream sound localization network (Senocak et al., Sec. 3) and its input conventions.

``SoundLocalizer`` = sound network (SoundNet-8 + two ReLU-FC) + visual backbone + attention + two
ReLU-FC. Training, evaluation, the ``localize`` command and the 360° ``network`` saliency source all
go through this one class and the two input helpers below, so an image or a waveform is prepared the
same way everywhere.

When the backbone's channel count differs from ``embed_dim`` (``resnet18``: 256, ``tiny``: 64) a 1×1
convolution projects v to ``embed_dim``, because the cosine of eq. 2 needs v_i and h in one space.
VGG-16 (512) with the default 512-D embedding needs none, as in the paper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import Tensor, nn

from soundloc.attention import (
    MECHANISMS,
    VisualHead,
    attend_features,
    attention_scores,
    cosine_map,
    softmax_map,
)
from soundloc.backbones import BACKBONES, PADDINGS
from soundloc.image import IMAGENET_MEAN, IMAGENET_STD, preprocess_image
from soundloc.soundnet import FS_DIM, WAVEFORM_SCALE, SoundHead, SoundNet8, pooled_features
from soundloc.visual import build_backbone, set_padding

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "PADDINGS", "UNSUP_TARGETS", "LocalizerOutput", "ModelConfig",
           "SoundLocalizer", "preprocess_image", "scale_waveform"]

#: What eq. 6 pulls f_v towards: the pooled SoundNet features f_s (the paper, 1000-D f_v), or the
#: sound embedding h (this project's first releases, f_v of ``embed_dim``).
UNSUP_TARGETS = ("f_s", "h")


_RANGES = (  # (field, lowest, highest) of ModelConfig's sizes
    ("embed_dim", 1, 8192),
    ("sample_rate", 1000, 192000),
    ("audio_window", 0.05, 600.0),
    ("image_size", 16, 4096),
)


@dataclass
class ModelConfig:
    backbone: str = "vgg16"  # registry name: "vgg16", "resnet18", "tiny"
    pretrained: bool = False  # ImageNet weights through torchvision's weights API
    freeze_backbone: bool = False
    attention: str = "cosine"  # or "relu_cosine"
    embed_dim: int = 512
    sample_rate: int = 22050
    audio_window: float = 20.0  # seconds pooled into f_s
    image_size: int = 320  # training/eval square size
    attention_temperature: float = 1.0  # τ of α = softmax(cos/τ); 1 = the paper's eq. 1
    unsup_target: str = "f_s"  # see UNSUP_TARGETS
    padding: str = "zeros"  # see soundloc.backbones.PADDINGS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys or bad values raise ValueError naming them.

        Configs saved before ``unsup_target`` existed trained f_v against h, and their visual head has
        that shape, so a missing key means "h".
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(map(str, unknown))}")
        cfg = cls(**{"unsup_target": "h", **d})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of: {', '.join(BACKBONES.names())}")
        if self.attention not in MECHANISMS:
            raise ValueError(f"unknown attention {self.attention!r}; choose one of: {', '.join(MECHANISMS)}")
        # Ranges before anything is built: a checkpoint's config is data (embed_dim = 10**12 would ask
        # for a 256 TB layer), so every size is bounded by what a trained localizer could use.
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} = {value!r}: use a number in [{low}, {high}]")
        if not 0 < self.attention_temperature <= 10:
            raise ValueError(f"attention_temperature {self.attention_temperature}: use a value in (0, 10]")
        if self.unsup_target not in UNSUP_TARGETS:
            raise ValueError(f"unknown unsup_target {self.unsup_target!r}; choose one of: {', '.join(UNSUP_TARGETS)}")
        if self.padding not in PADDINGS:
            raise ValueError(f"unknown padding {self.padding!r}; choose one of: {', '.join(PADDINGS)}")

    @property
    def f_v_dim(self) -> int:
        """Size of f_v: that of the vector eq. 6 compares it with."""
        return FS_DIM if self.unsup_target == "f_s" else self.embed_dim


@dataclass
class LocalizerOutput:
    attention: Tensor  # (B, h, w) α = softmax(cos/τ), sums to 1 per sample
    cosine: Tensor  # (B, h, w) pre-softmax cosine similarity map
    f_v: Tensor  # (B, F) visual embedding after attention + FC blocks
    h: Tensor  # (B, D) sound embedding (f_s after the two FC blocks)
    z: Tensor  # (B, C) attended visual feature Σ α_i v_i
    target: Tensor  # (B, F) the sound vector eq. 6 pulls f_v towards: f_s or h (ModelConfig.unsup_target)


class SoundLocalizer(nn.Module):
    """Image + sound -> attention map over the image's feature grid, plus both embeddings."""

    def __init__(self, config: ModelConfig, load_pretrained: bool | None = None) -> None:
        """``load_pretrained=False`` skips the ImageNet download even if the config asks for it (used when
        a checkpoint's weights are about to replace them anyway); ``None`` follows ``config.pretrained``."""
        super().__init__()
        config.validate()
        self.config = config
        pretrained = config.pretrained if load_pretrained is None else load_pretrained
        backbone = build_backbone(config.backbone, pretrained)
        self.backbone = set_padding(backbone.module, config.padding)
        self.feature_stride = backbone.stride
        self.receptive_field = backbone.receptive_field
        self.project = (
            nn.Identity()
            if backbone.channels == config.embed_dim
            else nn.Conv2d(backbone.channels, config.embed_dim, kernel_size=1)
        )
        self.soundnet = SoundNet8()
        self.sound_head = SoundHead(config.embed_dim)
        self.visual_head = VisualHead(config.embed_dim, config.f_v_dim)
        if config.freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> SoundLocalizer:
        super().train(mode)
        if self.config.freeze_backbone:
            self.backbone.eval()  # frozen BatchNorm statistics stay frozen too
        return self

    # sound stream -----------------------------------------------------------------------------
    def sound_features(self, waveform: Tensor) -> Tensor:
        """f_s ``(B, 1000)``: conv8 averaged over the whole clip (tiled first if shorter than ~9.5 s)."""
        return pooled_features(self.soundnet, waveform)

    def embed_features(self, f_s: Tensor) -> Tensor:
        """h ``(B, D)`` from pooled conv8 features f_s (layers 9–10)."""
        return self.sound_head(f_s)

    def embed_audio(self, waveform: Tensor) -> Tensor:
        """``(B, S)`` waveform at ``sample_rate`` scaled to ±256 -> h ``(B, D)``.

        The whole clip is pooled: pass the window you mean (``audio_window`` seconds in training);
        long tracks go through :mod:`soundloc.streaming` instead.
        """
        return self.embed_features(self.sound_features(waveform))

    # visual stream ----------------------------------------------------------------------------
    def visual_features(self, image: Tensor) -> Tensor:
        """``(B, 3, H, W)`` ImageNet-normalised -> v ``(B, C, H/16, W/16)``, C = ``embed_dim``."""
        return self.project(self.backbone(image))

    def attend(self, v: Tensor, h: Tensor, f_s: Tensor | None = None) -> LocalizerOutput:
        """Eqs. 1–4 and the visual FC blocks for features ``v (B, C, h, w)`` and sound embeddings ``h``.

        ``f_s`` (the pooled conv8 features h was made from) is needed only by the unsupervised loss of a
        model with ``unsup_target="f_s"``; without it ``target`` is h.
        """
        cos = cosine_map(v, h)
        alpha = softmax_map(attention_scores(cos, self.config.attention), self.config.attention_temperature)
        z = attend_features(v, alpha)
        target = f_s if self.config.unsup_target == "f_s" and f_s is not None else h
        return LocalizerOutput(attention=alpha, cosine=cos, f_v=self.visual_head(z), h=h, z=z, target=target)

    def attend_sound(self, v: Tensor, f_s: Tensor) -> LocalizerOutput:
        """:meth:`attend` from pooled conv8 features f_s (layers 9–10 first)."""
        return self.attend(v, self.embed_features(f_s), f_s)

    def forward(self, image: Tensor, waveform: Tensor) -> LocalizerOutput:
        return self.attend_sound(self.visual_features(image), self.sound_features(waveform))


def scale_waveform(wave: np.ndarray | Tensor) -> Tensor:
    """Float audio in [-1, 1] -> float32 tensor in about ±256, the range SoundNet was trained on."""
    return torch.as_tensor(np.asarray(wave) if not isinstance(wave, Tensor) else wave).float() * WAVEFORM_SCALE
