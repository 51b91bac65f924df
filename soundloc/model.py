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
import torch.nn.functional as F
from torch import Tensor, nn

from soundloc.attention import (
    MECHANISMS,
    VisualHead,
    attend_features,
    attention_scores,
    cosine_map,
    softmax_map,
)
from soundloc.soundnet import WAVEFORM_SCALE, SoundHead, SoundNet8, pooled_features
from soundloc.visual import BACKBONES, build_backbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys or bad values raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(map(str, unknown))}")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of: {', '.join(sorted(BACKBONES))}")
        if self.attention not in MECHANISMS:
            raise ValueError(f"unknown attention {self.attention!r}; choose one of: {', '.join(MECHANISMS)}")
        if self.embed_dim < 1 or self.sample_rate < 1 or self.audio_window <= 0 or self.image_size < 16:
            raise ValueError("embed_dim, sample_rate, audio_window must be positive and image_size >= 16")


@dataclass
class LocalizerOutput:
    attention: Tensor  # (B, h, w) softmax α, sums to 1 per sample
    cosine: Tensor  # (B, h, w) pre-softmax cosine similarity map
    f_v: Tensor  # (B, D) visual embedding after attention + FC blocks
    h: Tensor  # (B, D) sound embedding (f_s after the two FC blocks)
    z: Tensor  # (B, C) attended visual feature Σ α_i v_i


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
        self.backbone = backbone.module
        self.feature_stride = backbone.stride
        self.project = (
            nn.Identity()
            if backbone.channels == config.embed_dim
            else nn.Conv2d(backbone.channels, config.embed_dim, kernel_size=1)
        )
        self.soundnet = SoundNet8()
        self.sound_head = SoundHead(config.embed_dim)
        self.visual_head = VisualHead(config.embed_dim, config.embed_dim)
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

    def attend(self, v: Tensor, h: Tensor) -> LocalizerOutput:
        """Eqs. 1–4 and the visual FC blocks for features ``v (B, C, h, w)`` and sound embeddings ``h``."""
        cos = cosine_map(v, h)
        alpha = softmax_map(attention_scores(cos, self.config.attention))
        z = attend_features(v, alpha)
        return LocalizerOutput(attention=alpha, cosine=cos, f_v=self.visual_head(z), h=h, z=z)

    def forward(self, image: Tensor, waveform: Tensor) -> LocalizerOutput:
        return self.attend(self.visual_features(image), self.embed_audio(waveform))


def preprocess_image(rgb_uint8: np.ndarray | Tensor, size: int | tuple[int, int] | None) -> Tensor:
    """HWC or BHWC uint8 RGB -> ImageNet-normalised float ``(B, 3, H, W)``.

    ``size``: an int for a square (training/eval), ``(H, W)``, or None to keep the input size.
    Resizing is bilinear with antialiasing, so downscaling a large frame does not alias.
    """
    x = torch.as_tensor(np.ascontiguousarray(rgb_uint8) if isinstance(rgb_uint8, np.ndarray) else rgb_uint8)
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected HWC or BHWC RGB, got shape {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        raise ValueError(f"expected uint8 RGB (0..255), got {x.dtype}")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(x.shape[-2:]) != hw:
            x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def scale_waveform(wave: np.ndarray | Tensor) -> Tensor:
    """Float audio in [-1, 1] -> float32 tensor in about ±256, the range SoundNet was trained on."""
    return torch.as_tensor(np.asarray(wave) if not isinstance(wave, Tensor) else wave).float() * WAVEFORM_SCALE
