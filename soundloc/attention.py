"""The localization module (Sec. 3.3, eqs. 1–4): where in the image does this sound fit?

Each grid cell's visual feature v_i is compared with the sound embedding h by cosine similarity
(eq. 2), optionally clipped at zero (eq. 3, ``relu_cosine``); a softmax over all cells (eq. 1, with an
optional temperature τ) turns the scores into the attention α, and z = Σ α_i v_i (eq. 4) is the visual
feature "at the sound". Two ReLU-FC blocks map z to f_v, which training pulls towards the matching
sound's features f_s (eq. 6).

The cosine map itself is kept alongside α: its peak and contrast say how strongly any region answers
the sound, which α (always a distribution) cannot; ambient sound gives a weak, flat response.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MECHANISMS = ("cosine", "relu_cosine")


def cosine_map(v: Tensor, h: Tensor, eps: float = 1e-8) -> Tensor:
    """Eq. 2: cosine similarity of every cell of ``v (B, D, h, w)`` with ``h (B, D)`` -> ``(B, h, w)``."""
    v_bar = F.normalize(v, dim=1, eps=eps)
    h_bar = F.normalize(h, dim=1, eps=eps)
    return torch.einsum("bdyx,bd->byx", v_bar, h_bar)


def attention_scores(cosine: Tensor, mechanism: str = "cosine") -> Tensor:
    """The pre-softmax scores a_i: the cosine (eq. 2) or its positive part (eq. 3)."""
    if mechanism == "cosine":
        return cosine
    if mechanism == "relu_cosine":
        return cosine.clamp_min(0.0)
    raise ValueError(f"unknown attention mechanism {mechanism!r}; choose one of: {', '.join(MECHANISMS)}")


def softmax_map(scores: Tensor, temperature: float = 1.0) -> Tensor:
    """Eq. 1 with a temperature: softmax of ``scores / τ`` over all cells of each map ``(B, h, w)``.

    τ = 1 is the paper. Cosines lie in [−1, 1], so with ~400 cells a 4-cell source can hold at most ~7%
    of the mass at τ = 1; τ ≈ 0.03–0.07 (as in LVS and EZ-VSL) lets α concentrate on the source.
    """
    b, hh, ww = scores.shape
    return torch.softmax(scores.reshape(b, -1) / temperature, dim=1).reshape(b, hh, ww)


def attend_features(v: Tensor, alpha: Tensor) -> Tensor:
    """Eq. 4: z = Σ_i α_i v_i, ``(B, D, h, w) × (B, h, w) -> (B, D)``."""
    return torch.einsum("bdyx,byx->bd", v, alpha)


def map_confidence(cosine: Tensor) -> Tensor:
    """Confidence in [0, 1] per map ``(B, h, w) -> (B,)``: peak strength × peak contrast.

    peak strength = max cosine clipped to [0, 1] (no region resembles the sound → 0);
    contrast = (max − mean) / (max − min), 1 for one peak on a flat map, about ½ for a uniformly
    spread response, 0 for a constant map. Ambient sound scores low on both.
    """
    flat = cosine.reshape(cosine.shape[0], -1)
    mx, mn, mean = flat.max(dim=1).values, flat.min(dim=1).values, flat.mean(dim=1)
    contrast = ((mx - mean) / (mx - mn).clamp_min(1e-6)).clamp(0.0, 1.0)
    return mx.clamp(0.0, 1.0) * contrast


class VisualHead(nn.Module):
    """The two ReLU-FC blocks that turn the attended feature z into the visual embedding f_v."""

    def __init__(self, in_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Linear(in_dim, in_dim), nn.ReLU(), nn.Linear(in_dim, embed_dim))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
