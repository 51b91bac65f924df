"""Pixel-resolution localization maps from input gradients (Tanaka & Shinozaki, seed 003).

The attention map lives on the 16× coarser feature grid. The gradient of the audio-visual similarity
with respect to the input image says which pixels would change that similarity most, at full
resolution and without any extra layer. Plain backprop gives the raw input gradient; guided backprop
lets only positive gradients through every ReLU, which gives cleaner maps. "combined" averages the
normalised, upsampled attention map with the normalised gradient map, which the paper found better
than either alone.

The similarity is the one training optimises: minus the Euclidean distance between f_v and h (the
triplet loss ranks these distances); ``similarity="cosine"`` uses their cosine instead.
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


def _sound_embedding(model: SoundLocalizer, waveform: Tensor | np.ndarray | None, h: Tensor | None) -> Tensor:
    device = next(model.parameters()).device
    if h is not None:
        return (h if h.dim() == 2 else h[None]).to(device)
    if waveform is None:
        raise ValueError("give a waveform or a sound embedding h")
    w = torch.as_tensor(waveform).float().to(device)
    w = w[None] if w.dim() == 1 else w
    with torch.no_grad():
        return model.embed_audio(w)


def input_gradient(
    model: SoundLocalizer,
    image: Tensor,
    h: Tensor,
    guided: bool = False,
    similarity: str = "distance",
) -> Tensor:
    """|∂ similarity / ∂ image| taking the max over colour channels: ``(B, 3, H, W) -> (B, H, W)``."""
    x = image.detach().clone().requires_grad_(True)
    h = h.detach()
    with torch.enable_grad():
        if guided:
            with guided_relus(model):
                out = model.attend(model.visual_features(x), h)
        else:
            out = model.attend(model.visual_features(x), h)
        if similarity == "distance":
            sim = -(out.f_v - h).norm(dim=1)
        elif similarity == "cosine":
            sim = F.cosine_similarity(out.f_v, h, dim=1)
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
    smooth: float = 0.01,
    similarity: str = "distance",
) -> np.ndarray:
    """One ``(H, W)`` float32 map in [0, 1] at the image's resolution.

    ``image``: ImageNet-normalised ``(3, H, W)``/``(1, 3, H, W)`` tensor, or HWC uint8 RGB array.
    ``waveform``: ``(S,)`` or ``(1, S)`` scaled to ±256 (see ``scale_waveform``), or None with ``h``.
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
        hv = _sound_embedding(model, waveform, h)
        maps = []
        if method in ("attention", "combined"):
            with torch.no_grad():
                alpha = model.attend(model.visual_features(x), hv).attention
            up = F.interpolate(alpha[:, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
            maps.append(normalize_map(up.cpu().numpy()))
        if method in ("gradient", "guided", "combined"):
            g = input_gradient(model, x, hv, guided=method == "guided", similarity=similarity)[0].cpu().numpy()
            maps.append(normalize_map(_smooth(g, smooth * min(H, W))))
    finally:
        model.train(was_training)
    return normalize_map(np.mean(maps, axis=0)) if len(maps) > 1 else maps[0]
