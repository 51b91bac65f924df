"""Training losses of Senocak et al. Sec. 4: unsupervised triplet distance ratio (eqs. 5–6), supervised
cross-entropy on the attention map (eq. 8) and their semi-supervised sum (eq. 7).

Functions return per-sample losses (B,) so that the caller decides how to average across a batch and
across processes; ``combined_loss`` does the averaging the training loop uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

MODES = ("unsup", "sup", "semi")


def distance_ratio_loss(d_pos: Tensor, d_neg: Tensor) -> Tensor:
    """Eq. 6: ``‖[D+, D−] − [0, 1]‖²`` with ``D± = exp(d±) / (exp(d+) + exp(d−))``.

    Since D− = 1 − D+, this equals ``2·σ(d+ − d−)²``; the sigmoid form avoids overflow of exp(d).
    """
    d_plus = torch.sigmoid(d_pos - d_neg)
    d_minus = 1.0 - d_plus
    return d_plus.pow(2) + (d_minus - 1.0).pow(2)


def unsupervised_loss(f_v: Tensor, f_s: Tensor, negatives: str = "all", normalize: bool = False,
                      clip: Tensor | None = None) -> Tensor:
    """Per-sample triplet loss (eqs. 5–6) with the visual embedding as query.

    ``f_v`` (B,D) visual embeddings, ``f_s`` (B,D) sound vectors of the same pairs (positives). The
    negatives are the *other* samples' sounds in the batch: ``"all"`` averages the loss over every
    j ≠ i (more signal per step), ``"shift"`` uses only sample i+1 (one negative per triplet, as in the
    paper's "another random video"). ``normalize`` L2-normalises both embeddings first. A batch of one
    has no negative and gives zeros.
    """
    if normalize:
        f_v, f_s = F.normalize(f_v, dim=1), F.normalize(f_s, dim=1)
    b = f_v.shape[0]
    if b < 2:
        return f_v.sum(dim=1) * 0.0
    dist = torch.cdist(f_v.float(), f_s.float())  # (B,B): d(f_v[i], f_s[j])
    d_pos = dist.diagonal()
    if negatives == "shift":
        return distance_ratio_loss(d_pos, dist.roll(-1, dims=1).diagonal())
    if negatives != "all":
        raise ValueError(f"negatives must be 'all' or 'shift', not {negatives!r}")
    losses = distance_ratio_loss(d_pos[:, None], dist)  # (B,B)
    off = ~torch.eye(b, dtype=torch.bool, device=dist.device)
    if clip is not None:
        c = clip.to(dist.device).reshape(-1)
        off = off & ((c[:, None] != c[None, :]) | (c[:, None] < 0))
    return (losses * off).sum(dim=1) / off.sum(dim=1).clamp_min(1)


def attention_target(gt_map: Tensor, grid: tuple[int, int], threshold: float = 0.5) -> Tensor:
    """Binary α_GT on the attention grid from score maps g (B,G,G).

    A cell is positive when the mean score over the image area it covers is ≥ ``threshold``; when no
    cell reaches it (a box smaller than a cell), the best-covered cells are positive instead.
    """
    pooled = F.adaptive_avg_pool2d(gt_map[:, None].float(), grid)[:, 0]  # (B,h,w)
    target = (pooled >= threshold).float()
    peak = pooled.flatten(1).amax(dim=1)
    fallback = ((pooled >= peak[:, None, None] - 1e-6) & (peak[:, None, None] > 0)).float()
    empty = target.flatten(1).sum(dim=1) == 0
    return torch.where(empty[:, None, None], fallback, target)


def supervised_loss(attention: Tensor, gt_map: Tensor, normalize_target: bool = True,
                    eps: float = 1e-8) -> Tensor:
    """Per-sample eq. 8: ``−Σ_i α_GT,i log α_i`` on the (B,h,w) softmax attention.

    ``normalize_target`` divides by the number of positive cells (so a large box does not weigh more
    than a small one; with Adam this only rebalances samples). Samples without any positive cell give 0.
    """
    target = attention_target(gt_map, tuple(attention.shape[-2:]))
    nll = -(target * torch.log(attention.float().clamp_min(eps))).flatten(1).sum(dim=1)
    if normalize_target:
        nll = nll / target.flatten(1).sum(dim=1).clamp_min(1.0)
    return nll


@dataclass
class LossWeights:
    """Weights of eq. 7's two terms (Table 5 varies them; eq. 7 itself uses 1 and 1)."""

    unsup: float = 1.0
    sup: float = 1.0


def combined_loss(mode: str, out, batch: dict, weights: LossWeights | None = None,
                  negatives: str = "all", normalize_embeddings: bool = False,
                  other_clips: bool = False) -> tuple[Tensor, dict]:
    """Batch-mean loss of ``mode`` for model output ``out`` (LocalizerOutput) and a data batch.

    ``unsup``: eq. 6 on (f_v, ``out.target``: f_s as in the paper, or h); ``sup``: eq. 8 averaged over
    annotated samples only; ``semi``: eq. 7
    per sample, ``w_u·L_U + λ(α_GT)·w_s·L_S`` with λ = 1 where the sample has ground truth, averaged over
    the batch. ``other_clips`` takes eq. 6's negatives only from other recordings (``batch["clip"]``,
    see :func:`unsupervised_loss`). Returns the loss and a dict of float parts for logging.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    weights = weights or LossWeights()
    has_gt = batch["has_gt"].to(out.attention.device).float()
    parts: dict[str, float] = {}
    zero = out.attention.sum() * 0.0
    if mode in ("unsup", "semi"):
        clip = batch.get("clip") if other_clips else None
        lu = unsupervised_loss(out.f_v, out.target, negatives, normalize_embeddings, clip)
        parts["unsup"] = float(lu.mean().detach())
    if mode in ("sup", "semi"):
        ls = supervised_loss(out.attention, batch["gt_map"].to(out.attention.device)) * has_gt
        n_gt = has_gt.sum()
        parts["sup"] = float((ls.sum() / n_gt.clamp_min(1)).detach())
    if mode == "unsup":
        loss = lu.mean()
    elif mode == "sup":
        loss = ls.sum() / n_gt.clamp_min(1) if n_gt > 0 else zero
    else:
        loss = (weights.unsup * lu + weights.sup * ls).mean()
    parts["loss"] = float(loss.detach())
    return loss, parts
