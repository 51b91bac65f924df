"""Pixel-resolution localization maps from input gradients (Tanaka & Shinozaki, seed 003).

The attention map lives on the 16× coarser feature grid. The gradient of the audio-visual similarity
with respect to the input image says which pixels would change that similarity most, at full
resolution and without any extra layer. Plain backprop gives the raw input gradient; guided backprop
lets only positive gradients through every ReLU, which gives cleaner maps. "combined" averages the
normalised, upsampled attention map with the normalised gradient map, which the paper found better
than either alone.

The similarity is the one training optimises: minus the Euclidean distance between f_v and the sound
vector eq. 6 compares it with (f_s, or h for ``unsup_target="h"`` models; the triplet loss ranks these
distances); ``similarity="cosine"`` uses their cosine instead.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from soundloc.model import SoundLocalizer, preprocess_image

METHODS = ("attention", "gradient", "guided", "combined")


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        out = x.clamp_min(0.0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return grad.clamp_min(0.0) * (out > 0).to(grad.dtype)


@contextmanager
def guided_relus(model: nn.Module):
    """Within the block every ``nn.ReLU`` of ``model`` back-propagates only positive gradients."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    saved = [m.inplace for m in relus]
    handles = []
    for m in relus:
        m.inplace = False  # the hook needs the untouched input
        handles.append(m.register_forward_hook(lambda _m, inp, _out: _GuidedReLU.apply(inp[0])))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for m, s in zip(relus, saved, strict=True):
            m.inplace = s


def normalize_map(m: np.ndarray) -> np.ndarray:
    """Min–max to [0, 1] (float32); a constant map becomes all zeros."""
    m = np.asarray(m, np.float32)
    lo, hi = float(m.min()), float(m.max())
    if not np.isfinite(hi - lo) or hi - lo < 1e-12:
        return np.zeros_like(m)
    return (m - lo) / (hi - lo)


def _as_input(image: Tensor | np.ndarray) -> Tensor:
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        return preprocess_image(image, None)
    x = torch.as_tensor(image).float()
    return x[None] if x.dim() == 3 else x


def _sound_vectors(model: SoundLocalizer, waveform: Tensor | np.ndarray | None, h: Tensor | None,
                   f_s: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """(h, f_s) from whichever of waveform, f_s or h was given; f_s is None when only h was."""
    device = next(model.parameters()).device

    def batch(t: Tensor) -> Tensor:
        return (t if t.dim() == 2 else t[None]).to(device)

    with torch.no_grad():
        if f_s is not None:
            f_s = batch(f_s)
            return model.embed_features(f_s), f_s
        if h is not None:
            return batch(h), None
        if waveform is None:
            raise ValueError("give a waveform, pooled sound features f_s or a sound embedding h")
        f_s = model.sound_features(batch(torch.as_tensor(waveform).float()))
        return model.embed_features(f_s), f_s


def input_gradient(
    model: SoundLocalizer,
    image: Tensor,
    h: Tensor,
    guided: bool = False,
    similarity: str = "distance",
    f_s: Tensor | None = None,
) -> Tensor:
    """|∂ similarity / ∂ image| taking the max over colour channels: ``(B, 3, H, W) -> (B, H, W)``.

    Models trained with ``unsup_target="f_s"`` compare f_v with the pooled sound features, so they need
    ``f_s`` too.
    """
    if model.config.unsup_target == "f_s" and f_s is None:
        raise ValueError("this model compares f_v with f_s: pass the pooled sound features f_s")
    x = image.detach().clone().requires_grad_(True)
    h = h.detach()
    f_s = None if f_s is None else f_s.detach()
    with torch.enable_grad():
        if guided:
            with guided_relus(model):
                out = model.attend(model.visual_features(x), h, f_s)
        else:
            out = model.attend(model.visual_features(x), h, f_s)
        if similarity == "distance":
            sim = -(out.f_v - out.target).norm(dim=1)
        elif similarity == "cosine":
            sim = F.cosine_similarity(out.f_v, out.target, dim=1)
        else:
            raise ValueError(f"unknown similarity {similarity!r}; choose 'distance' or 'cosine'")
        (grad,) = torch.autograd.grad(sim.sum(), x)
    return grad.abs().amax(dim=1)


def _smooth(m: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return m
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(m, sigma)


def localization_map(
    model: SoundLocalizer,
    image: Tensor | np.ndarray,
    waveform: Tensor | np.ndarray | None,
    method: str = "attention",
    *,
    h: Tensor | None = None,
    f_s: Tensor | None = None,
    smooth: float = 0.01,
    similarity: str = "distance",
) -> np.ndarray:
    """One ``(H, W)`` float32 map in [0, 1] at the image's resolution.

    ``image``: ImageNet-normalised ``(3, H, W)``/``(1, 3, H, W)`` tensor, or HWC uint8 RGB array.
    ``waveform``: ``(S,)`` or ``(1, S)`` scaled to ±256 (see ``scale_waveform``), or None with ``f_s``
    (pooled conv8 features) or ``h`` (enough for the attention map and ``unsup_target="h"`` models).
    ``smooth``: Gaussian sigma of the gradient maps as a fraction of the shorter image side (pixel-level
    gradients are speckled; 0 keeps them raw).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    x = _as_input(image).to(next(model.parameters()).device)
    if x.shape[0] != 1:
        raise ValueError("localization_map takes one image")
    H, W = x.shape[-2:]
    was_training = model.training
    model.eval()
    try:
        hv, fs = _sound_vectors(model, waveform, h, f_s)
        maps = []
        if method in ("attention", "combined"):
            with torch.no_grad():
                alpha = model.attend(model.visual_features(x), hv).attention
            up = F.interpolate(alpha[:, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
            maps.append(normalize_map(up.cpu().numpy()))
        if method in ("gradient", "guided", "combined"):
            g = input_gradient(model, x, hv, guided=method == "guided", similarity=similarity,
                               f_s=fs)[0].cpu().numpy()
            maps.append(normalize_map(_smooth(g, smooth * min(H, W))))
    finally:
        model.train(was_training)
    return normalize_map(np.mean(maps, axis=0)) if len(maps) > 1 else maps[0]
