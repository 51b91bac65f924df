"""cIoU, consensus maps, AUC, baselines, losses and retrieval on cases small enough to check by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from soundloc import metrics
from soundloc.losses import (
    attention_target,
    distance_ratio_loss,
    supervised_loss,
    unsupervised_loss,
)
from soundloc.retrieval import random_success, retrieval_table, topk_success


def box_map(size, box):
    return metrics.box_mask(box, size)


def test_perfect_map_scores_one_and_disjoint_zero():
    g = box_map(64, (10, 10, 30, 30))
    assert metrics.sample_ciou(g, g) == pytest.approx(1.0)
    assert metrics.sample_ciou(box_map(64, (40, 40, 60, 60)), g) == 0.0
    # a coarse map upsampled to the ground-truth size still hits a box aligned with its cells
    coarse = np.zeros((4, 4), np.float32)
    coarse[0:2, 0:2] = 1
    g2 = box_map(64, (0, 0, 32, 32))
    assert metrics.sample_ciou(coarse, g2) > 0.8


def test_ciou_hand_computed():
    g = np.array([[1.0, 0.5, 0.0, 0.0]])
    a = np.array([[True, False, True, False]])
    # (1) / (1 + 0.5 + 1 pixel of A outside G)
    assert metrics.ciou(a, g) == pytest.approx(1.0 / 2.5)
    assert metrics.ciou(np.zeros_like(a), np.zeros_like(g)) == 0.0


def test_consensus_map_weights_eq9():
    a1 = [(0, 0, 4, 4)]
    a2 = [(2, 2, 6, 6)]
    a3 = [(2, 2, 4, 4), (7, 7, 8, 8)]
    g = metrics.consensus_map([a1, a2, a3], 8, consensus=2)
    assert g[0, 0] == 0.5  # one annotator
    assert g[2, 2] == 1.0  # three annotators, capped at 1
    assert g[3, 3] == 1.0  # a1, a2, a3
    assert g[3, 4] == 0.5  # a2 only
    assert g[4, 4] == 0.5  # only a2 (boxes end-exclusive)
    assert g[7, 7] == 0.5  # a3's second box
    assert g[6, 6] == 0.0
    only_one = metrics.consensus_map([a1], 8, consensus=2)
    assert only_one.max() == 0.5


def test_auc_of_known_curve():
    cious = [0.0, 0.5, 1.0]
    curve = metrics.success_curve(cious)
    assert curve[0] == 1.0 and curve[10] == pytest.approx(2 / 3) and curve[11] == pytest.approx(1 / 3)
    expected = 0.05 * ((1 + 2 / 3) / 2 + 9 * 2 / 3 + (2 / 3 + 1 / 3) / 2 + 9 / 3)
    assert metrics.auc(cious) == pytest.approx(expected)
    assert metrics.auc([1.0] * 5) == pytest.approx(1.0)
    # success at threshold 0 is 1 by definition (cIoU >= 0), so an all-miss set keeps the first trapezoid
    assert metrics.auc([0.0] * 5) == pytest.approx(0.025)


def test_wilson_interval_and_summary():
    lo, hi = metrics.wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    s = metrics.summarize([0.2, 0.5, 0.9, 0.49])
    assert s.n == 4 and s.success == 0.5 and s.ci_low < 0.5 < s.ci_high
    assert s.mean_ciou == pytest.approx(0.5225)


def test_lvs_protocol_uses_224_and_median():
    g = box_map(256, (0, 0, 128, 256))  # left half
    resp = np.zeros((8, 8), np.float32)
    resp[:, :4] = 1.0
    resp += np.linspace(0, 0.01, 64).reshape(8, 8)
    mask, shape = metrics.prediction_mask(resp, (256, 256), "lvs")
    assert shape == (224, 224) and mask.shape == (224, 224)
    assert 0.45 < mask.mean() < 0.55
    assert metrics.sample_ciou(resp, g, "lvs") > 0.9
    with pytest.raises(ValueError):
        metrics.prediction_mask(resp, (256, 256), "other")


def test_baselines_centre_box_and_random():
    g = metrics.centre_box_map((64, 64), 0.5)
    assert g.sum() == 32 * 32
    b = metrics.baselines([g, g], "senocak", repeats=5, seed=1)
    assert b["centre"]["success"] == 1.0
    assert 0.0 <= b["random"]["success"] <= 1.0 and b["random"]["auc"] < 0.6
    assert b == metrics.baselines([g, g], "senocak", repeats=5, seed=1)


def test_distance_ratio_loss_matches_eq6():
    dp, dn = torch.tensor([0.3, 2.0]), torch.tensor([1.5, 0.1])
    e = torch.exp(torch.stack([dp, dn]))
    d_plus, d_minus = e[0] / e.sum(0), e[1] / e.sum(0)
    ref = d_plus**2 + (d_minus - 1) ** 2
    assert torch.allclose(distance_ratio_loss(dp, dn), ref)


def test_unsupervised_loss_prefers_matched_pairs():
    torch.manual_seed(0)
    f_s = torch.randn(6, 16) * 3
    matched = unsupervised_loss(f_s + 0.01 * torch.randn(6, 16), f_s)
    shuffled = unsupervised_loss(f_s.roll(1, 0), f_s)
    assert matched.shape == (6,) and matched.mean() < shuffled.mean()
    assert unsupervised_loss(f_s[:1], f_s[:1]).item() == 0.0
    assert unsupervised_loss(f_s, f_s, negatives="shift").shape == (6,)


def test_supervised_loss_and_target():
    gt = torch.zeros(1, 64, 64)
    gt[0, :32, :32] = 1
    target = attention_target(gt, (4, 4))
    assert target[0, :2, :2].all() and target.sum() == 4
    tiny = torch.zeros(1, 64, 64)
    tiny[0, 1:3, 1:3] = 1  # smaller than a cell: falls back to the best-covered cell
    assert attention_target(tiny, (4, 4)).sum() == 1
    good = torch.full((1, 4, 4), 1e-3)
    good[0, :2, :2] = (1 - 12e-3) / 4
    bad = torch.full((1, 4, 4), 1 / 16)
    assert supervised_loss(good, gt) < supervised_loss(bad, gt)


def test_retrieval_success():
    labels = [0, 0, 1, 1, 2, 2]
    emb = np.eye(3)[labels] + 0.01 * np.random.default_rng(0).standard_normal((6, 3))
    assert topk_success(emb, emb, labels, 1) == 1.0
    wrong = np.eye(3)[[1, 2, 0, 2, 0, 1]]
    assert topk_success(emb, wrong, labels, 1) < 1.0
    table = retrieval_table(emb, emb, labels, ks=(1, 2), repeats=10)
    assert table["image_to_audio"][1] == 1.0 and table["audio_to_image"][2] == 1.0
    assert 0 < table["random"][1] < table["random"][2] < 1
    assert 0 < random_success(labels, 2, repeats=20) < 1
    assert json.dumps(table)
