"""Faces with MTCNN in NumPy: the three-stage cascade of Zhang et al., "Joint Face Detection and
Alignment Using Multitask Cascaded Convolutional Networks" (IEEE SPL 2016), P-Net over an image
pyramid, then R-Net on 24-px and O-Net on 48-px crops of the survivors, each stage rejecting and
refining boxes.

The weights are facenet-pytorch's (MIT, © Tim Esler; the MTCNN weights by Zhang et al. as converted by
davidsandberg/facenet, MIT), converted once to ``models/mtcnn.npz`` by ``models/convert_mtcnn.py``;
this module needs only NumPy (no PyTorch, no download at run time). The pipeline follows
facenet-pytorch 2.6.0's ``detect_face`` step by step (the same pyramid, area resampling, box
regression, squaring, clipped crops and NMS rules), so it returns the same boxes and probabilities
as that reference (``tests/test_faces.py`` compares them where torch is installed).

Convolutions are im2col + one matrix product per layer on NHWC float32 arrays; max-pooling uses
ceil mode as in the original Caffe models. A 288-px view costs a few milliseconds at a 12-px minimum
face.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common.errors import InputError

WEIGHTS = Path(__file__).resolve().parent / "models" / "mtcnn.npz"


@functools.lru_cache(maxsize=1)
def load_weights(path: str = str(WEIGHTS)) -> dict[str, np.ndarray]:
    """The three nets' parameters (``<net>.<layer>.<param>``, torch layouts), float32."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p} is missing: the MTCNN face weights ship with pano-pan; reinstall it")
    with np.load(p) as data:
        return {k: np.asarray(data[k], np.float32) for k in data.files}


# --- layers (NHWC float32) ---------------------------------------------------------------------------

def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Valid 2-D convolution (stride 1) of (N, H, W, C) by torch weights (O, C, kh, kw), plus bias."""
    o, c, kh, kw = w.shape
    n, h, wd, _ = x.shape
    if kh == 1 and kw == 1:
        return x @ w.reshape(o, c).T + b
    cols = sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, Ho, Wo, C, kh, kw): torch's (C, kh, kw) order
    ho, wo = h - kh + 1, wd - kw + 1
    out = cols.reshape(n * ho * wo, c * kh * kw) @ w.reshape(o, -1).T
    out += b
    return out.reshape(n, ho, wo, o)


def prelu(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x * a)


def max_pool(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """k×k max-pool with stride s and ceil mode (a last, partial window is kept), no padding."""
    n, h, w, c = x.shape
    ho, wo = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1
    ph, pw = (ho - 1) * s + k - h, (wo - 1) * s + k - w
    if ph > 0 or pw > 0:
        x = np.pad(x, ((0, 0), (0, max(ph, 0)), (0, max(pw, 0)), (0, 0)), constant_values=-np.inf)
    win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
    return win.max(axis=(4, 5))[:, :ho, :wo]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@functools.lru_cache(maxsize=256)
def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) averaging weights of torch's ``interpolate(mode="area")`` (adaptive average
    pooling: output i averages inputs floor(i·n_in/n_out) .. ceil((i+1)·n_in/n_out) − 1)."""
    m = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        a, e = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, a:e] = 1.0 / (e - a)
    return m


def area_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float image resampled to ``size`` (h, w) as torch's area interpolation does."""
    h, w, c = img.shape
    ry, rx = _area_matrix(h, size[0]), _area_matrix(w, size[1])
    rows = (ry @ img.reshape(h, w * c)).reshape(size[0], w, c).transpose(1, 0, 2).reshape(w, size[0] * c)
    return (rx @ rows).reshape(size[1], size[0], c).transpose(1, 0, 2)


# --- the three nets (inputs (N, H, W, 3) RGB scaled to about [-1, 1]) -------------------------------

def pnet(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P-Net: (N, h, w, 4) box offsets and (N, h, w) face probability, one cell per 2 px (12-px window)."""
    x = prelu(conv(x, p["pnet.conv1.weight"], p["pnet.conv1.bias"]), p["pnet.prelu1.weight"])
    x = max_pool(x, 2, 2)
    x = prelu(conv(x, p["pnet.conv2.weight"], p["pnet.conv2.bias"]), p["pnet.prelu2.weight"])
    x = prelu(conv(x, p["pnet.conv3.weight"], p["pnet.conv3.bias"]), p["pnet.prelu3.weight"])
    a = softmax(conv(x, p["pnet.conv4_1.weight"], p["pnet.conv4_1.bias"]))
    return conv(x, p["pnet.conv4_2.weight"], p["pnet.conv4_2.bias"]), a[..., 1]


def _flatten(x: np.ndarray) -> np.ndarray:
    # torch flattens (N, C, H, W).permute(0, 3, 2, 1), i.e. (N, W, H, C): the TF weights' order
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(len(x), -1)


def rnet(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R-Net on (N, 24, 24, 3): (N, 4) box offsets, (N,) face probability."""
    x = max_pool(prelu(conv(x, p["rnet.conv1.weight"], p["rnet.conv1.bias"]), p["rnet.prelu1.weight"]), 3, 2)
    x = max_pool(prelu(conv(x, p["rnet.conv2.weight"], p["rnet.conv2.bias"]), p["rnet.prelu2.weight"]), 3, 2)
    x = prelu(conv(x, p["rnet.conv3.weight"], p["rnet.conv3.bias"]), p["rnet.prelu3.weight"])
    x = prelu(_flatten(x) @ p["rnet.dense4.weight"].T + p["rnet.dense4.bias"], p["rnet.prelu4.weight"])
    a = softmax(x @ p["rnet.dense5_1.weight"].T + p["rnet.dense5_1.bias"])
    return x @ p["rnet.dense5_2.weight"].T + p["rnet.dense5_2.bias"], a[:, 1]


def onet(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """O-Net on (N, 48, 48, 3): (N, 4) box offsets, (N, 10) landmarks (5 x then 5 y, box fractions),
    (N,) face probability."""
    x = max_pool(prelu(conv(x, p["onet.conv1.weight"], p["onet.conv1.bias"]), p["onet.prelu1.weight"]), 3, 2)
    x = max_pool(prelu(conv(x, p["onet.conv2.weight"], p["onet.conv2.bias"]), p["onet.prelu2.weight"]), 3, 2)
    x = max_pool(prelu(conv(x, p["onet.conv3.weight"], p["onet.conv3.bias"]), p["onet.prelu3.weight"]), 2, 2)
    x = prelu(conv(x, p["onet.conv4.weight"], p["onet.conv4.bias"]), p["onet.prelu4.weight"])
    x = prelu(_flatten(x) @ p["onet.dense5.weight"].T + p["onet.dense5.bias"], p["onet.prelu5.weight"])
    a = softmax(x @ p["onet.dense6_1.weight"].T + p["onet.dense6_1.bias"])
    return (x @ p["onet.dense6_2.weight"].T + p["onet.dense6_2.bias"],
            x @ p["onet.dense6_3.weight"].T + p["onet.dense6_3.bias"], a[:, 1])


# --- boxes ------------------------------------------------------------------------------------------

def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first. ``union``: torchvision's rule (IoU
    of x1, y1, x2, y2 areas, a box overlapping a kept one by more than ``threshold`` dropped);
    ``min``: facenet's last-stage rule (areas with +1, intersection over the smaller area)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    plus = 1.0 if method == "min" else 0.0
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    area = (x2 - x1 + plus) * (y2 - y1 + plus)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + plus)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + plus)
        inter = w * h
        o = inter / np.minimum(area[i], area[rest]) if method == "min" else inter / (area[i] + area[rest] - inter)
        order = rest[o <= threshold]
    return np.asarray(keep, np.int64)


def _square(b: np.ndarray) -> np.ndarray:
    """Boxes (x1, y1, x2, y2, ...) made square about their centres (the longer side)."""
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w * 0.5 - side * 0.5
    b[:, 1] += h * 0.5 - side * 0.5
    b[:, 2], b[:, 3] = b[:, 0] + side, b[:, 1] + side
    return b


def _regress(b: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = b.copy()
    w, h = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def _crops(img: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, size, size, 3) crops of the boxes (clipped to the image, 1-based as facenet's ``pad``) and
    the indices of the boxes they are of (empty crops skipped)."""
    h, w = img.shape[:2]
    b = np.trunc(boxes[:, :4]).astype(np.int64)
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    out, idx = [], []
    for k in range(len(b)):
        if ey[k] > y[k] - 1 and ex[k] > x[k] - 1:
            out.append(area_resize(img[y[k] - 1:ey[k], x[k] - 1:ex[k]], (size, size)))
            idx.append(k)
    if not out:
        return np.zeros((0, size, size, 3), np.float32), np.zeros(0, np.int64)
    return (np.stack(out).astype(np.float32) - 127.5) * 0.0078125, np.asarray(idx, np.int64)


class MTCNN:
    """Faces on an RGB uint8 image: :meth:`detect` gives (N, 5) rows x1, y1, x2, y2 (pixels), probability.

    ``min_face``: the smallest face side searched for (pixels; the pyramid starts at 12/min_face);
    ``thresholds``: the three stages' probabilities a box must reach; ``factor``: the pyramid step.
    Defaults are facenet-pytorch's but for ``min_face`` (20 there)."""

    def __init__(self, min_face: float = 12.0, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709, weights: str | Path = WEIGHTS) -> None:
        self.min_face = float(min_face)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.params = load_weights(str(weights))

    # the nets, as methods so tests can stand in for them
    def pnet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pnet(self.params, x)

    def rnet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return rnet(self.params, x)

    def onet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return onet(self.params, x)

    def scales(self, h: int, w: int) -> list[float]:
        m = 12.0 / self.min_face
        minl, s, out = min(h, w) * m, m, []
        while minl >= 12:
            out.append(s)
            s *= self.factor
            minl *= self.factor
        return out

    def stage1(self, img: np.ndarray) -> np.ndarray:
        """P-Net candidates (K, 5): regressed, squared boxes with P-Net's probability."""
        h, w = img.shape[:2]
        found = []
        for scale in self.scales(h, w):
            im = (area_resize(img, (int(h * scale + 1), int(w * scale + 1))).astype(np.float32) - 127.5) * 0.0078125
            reg, prob = self.pnet(im[None])
            ys, xs = np.nonzero(prob[0] >= self.thresholds[0])
            if len(ys) == 0:
                continue
            q1x, q1y = np.floor((2.0 * xs + 1) / scale), np.floor((2.0 * ys + 1) / scale)
            q2x, q2y = np.floor((2.0 * xs + 12) / scale), np.floor((2.0 * ys + 12) / scale)
            b = np.column_stack([q1x, q1y, q2x, q2y, prob[0, ys, xs], reg[0, ys, xs]]).astype(np.float32)
            found.append(b[nms(b[:, :4], b[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5), np.float32)
        b = np.concatenate(found)
        b = b[nms(b[:, :4], b[:, 4], 0.7)]
        rw, rh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        out = np.column_stack([b[:, 0] + b[:, 5] * rw, b[:, 1] + b[:, 6] * rh,
                               b[:, 2] + b[:, 7] * rw, b[:, 3] + b[:, 8] * rh, b[:, 4]])
        return _square(out)

    def detect(self, image: np.ndarray, landmarks: bool = False):
        """(N, 5) faces x1, y1, x2, y2, probability on an (H, W, 3) RGB image (uint8 or 0..255 floats),
        best first; with ``landmarks`` also (N, 5, 2) eye, nose and mouth-corner points."""
        img = np.asarray(image, np.float32)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"MTCNN needs an (H, W, 3) RGB image, not {img.shape}")
        none = np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        boxes = self.stage1(img)
        if len(boxes) == 0:
            return none if landmarks else none[0]
        crops, idx = _crops(img, boxes, 24)
        reg, prob = self.rnet(crops) if len(crops) else (np.zeros((0, 4)), np.zeros(0))
        ok = prob > self.thresholds[1]
        boxes = np.column_stack([boxes[idx][ok, :4], prob[ok]]).astype(np.float32)
        reg = reg[ok]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = _square(_regress(boxes[pick], reg[pick]))
        if len(boxes) == 0:
            return none if landmarks else none[0]
        crops, idx = _crops(img, boxes, 48)
        reg, pts, prob = self.onet(crops) if len(crops) else (np.zeros((0, 4)), np.zeros((0, 10)), np.zeros(0))
        ok = prob > self.thresholds[2]
        boxes = np.column_stack([boxes[idx][ok, :4], prob[ok]]).astype(np.float32)
        reg, pts = reg[ok], pts[ok]
        bw, bh = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
        points = np.stack([bw[:, None] * pts[:, :5] + boxes[:, :1] - 1,
                           bh[:, None] * pts[:, 5:] + boxes[:, 1:2] - 1], axis=-1)
        boxes = _regress(boxes, reg)
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, "min")
        return (boxes[pick], points[pick].astype(np.float32)) if landmarks else boxes[pick]
