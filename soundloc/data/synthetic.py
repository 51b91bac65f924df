"""Procedural audio-visual scenes: the project's own data for tests, demos and the learnability benchmark.

Each scene shows a few coloured shapes on a textured background. Every object class has its own look
*and* its own kind of sound (tone, chirp, noise bursts, buzz, beeps, rumble). One object — the source —
is heard; the others are silent distractors of other classes, so a localizer must match what it hears
to what it sees: a centre prior or a "most salient blob" prior is not enough. Some scenes are
ambient-only (background noise, no source, ``label == -1``, no ground truth).

The ground truth is the source's bounding box as a one-annotator score map (eq. 9 with #consensus 1,
i.e. a binary box). ``labelled_fraction`` hides it on a deterministic subset of scenes (``has_gt``
False) for semi-supervised training. Everything is deterministic in ``(seed, index)`` and generated on
the fly in about a millisecond at 64–128 px.
"""

from __future__ import annotations

import cv2
import numpy as np
from torch.utils.data import Dataset

from soundloc.data.common import make_sample, normalize_image
from soundloc.metrics import consensus_map

#: (name, RGB colour, shape) of each class; the sound is made by ``class_sound``.
CLASSES = [
    ("tone", (220, 40, 40), "disc"),
    ("chirp", (40, 200, 60), "square"),
    ("bursts", (50, 80, 230), "triangle"),
    ("buzz", (235, 215, 40), "ring"),
    ("beeps", (210, 60, 210), "diamond"),
    ("rumble", (40, 210, 220), "bar"),
]


def class_sound(cls: int, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A second or two of the class's characteristic sound, with small random variations."""
    t = np.arange(n) / sr
    k = rng.uniform(0.9, 1.1)  # pitch/rate variation
    phase = rng.uniform(0, 2 * np.pi)
    if cls == 0:  # steady tone with vibrato
        f = 660 * k
        s = np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 5 * t) + phase)
    elif cls == 1:  # repeated rising chirps
        period = 0.5 * k
        tt = np.mod(t + rng.uniform(0, period), period) / period
        s = np.sin(2 * np.pi * np.cumsum(300 + 2700 * tt) / sr)
    elif cls == 2:  # white-noise bursts at ~4 Hz
        gate = (np.mod(t * 4 * k + rng.uniform(), 1.0) < 0.35).astype(np.float64)
        s = rng.standard_normal(n) * gate * 0.7
    elif cls == 3:  # low square-wave buzz (rich harmonics)
        s = np.sign(np.sin(2 * np.pi * 150 * k * t + phase)) * 0.6
    elif cls == 4:  # alternating two-tone beeps
        hi = np.mod(t * 3 * k, 1.0) < 0.5
        s = np.sin(2 * np.pi * np.where(hi, 1200, 800) * k * t)
    else:  # low-passed amplitude-modulated rumble
        noise = rng.standard_normal(n)
        kernel = np.ones(40) / 40
        s = np.convolve(noise, kernel, mode="same") * 5 * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t + phase))
    s = s / (np.abs(s).max() + 1e-9)
    return s


def _ambient(n: int, rng: np.random.Generator, level: float) -> np.ndarray:
    """Pinkish background noise (white noise through a short smoothing filter)."""
    x = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    return x / (np.abs(x).max() + 1e-9) * level


def _draw(img: np.ndarray, shape: str, colour, cx: float, cy: float, r: float) -> tuple[float, ...]:
    """Draw one object; returns its bounding box (xmin, ymin, xmax, ymax) in pixels, end exclusive."""
    c = tuple(int(v) for v in colour)
    x, y, ri = int(round(cx)), int(round(cy)), max(2, int(round(r)))
    if shape == "disc":
        cv2.circle(img, (x, y), ri, c, -1, cv2.LINE_AA)
        box = (x - ri, y - ri, x + ri + 1, y + ri + 1)
    elif shape == "square":
        s = int(round(ri * 0.85))
        cv2.rectangle(img, (x - s, y - s), (x + s, y + s), c, -1)
        box = (x - s, y - s, x + s + 1, y + s + 1)
    elif shape == "triangle":
        pts = np.array([[x, y - ri], [x - ri, y + ri], [x + ri, y + ri]], np.int32)
        cv2.fillPoly(img, [pts], c, cv2.LINE_AA)
        box = (x - ri, y - ri, x + ri + 1, y + ri + 1)
    elif shape == "ring":
        cv2.circle(img, (x, y), ri, c, max(2, ri // 3), cv2.LINE_AA)
        box = (x - ri - ri // 6, y - ri - ri // 6, x + ri + ri // 6 + 1, y + ri + ri // 6 + 1)
    elif shape == "diamond":
        pts = np.array([[x, y - ri], [x + ri, y], [x, y + ri], [x - ri, y]], np.int32)
        cv2.fillPoly(img, [pts], c, cv2.LINE_AA)
        box = (x - ri, y - ri, x + ri + 1, y + ri + 1)
    else:  # bar
        cv2.rectangle(img, (x - ri, y - ri // 3), (x + ri, y + ri // 3), c, -1)
        box = (x - ri, y - ri // 3, x + ri + 1, y + ri // 3 + 1)
    h, w = img.shape[:2]
    return (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))


class SyntheticScenes(Dataset):
    """``n`` procedural scenes, deterministic by ``seed`` (see the module docstring).

    ``classes`` object classes are used (≤ 6); each scene has one heard source and up to
    ``max_distractors`` silent objects of other classes; ``ambient_fraction`` of scenes have no source.
    """

    def __init__(self, n: int, seed: int = 0, image_size: int = 96, sample_rate: int = 22050,
                 audio_seconds: float = 1.0, classes: int = 4, max_distractors: int = 2,
                 ambient_fraction: float = 0.1, labelled_fraction: float = 1.0, gt_size: int | None = None,
                 size_range: tuple[float, float] = (0.12, 0.22)) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        if not 1 <= classes <= len(CLASSES):
            raise ValueError(f"classes must be in 1..{len(CLASSES)}")
        self.n, self.seed, self.image_size = n, seed, image_size
        self.sample_rate, self.audio_samples = sample_rate, int(round(audio_seconds * sample_rate))
        self.classes, self.max_distractors = classes, max_distractors
        self.ambient_fraction, self.labelled_fraction = ambient_fraction, labelled_fraction
        self.gt_size = gt_size or image_size
        self.size_range = size_range

    def __len__(self) -> int:
        return self.n

    def annotated_indices(self) -> list[int]:
        """Indices of scenes whose ground truth is visible (``has_gt``), without building tensors."""
        return [i for i in range(self.n) if self.scene(i)["labelled"]]

    def scene(self, index: int) -> dict:
        """The raw scene: uint8 RGB image, float audio in [-1,1], source class, source box, labelled, and the
        classes of every object drawn (the source first unless the scene is ambient)."""
        if not 0 <= index < self.n:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        s = self.image_size
        # background: smooth colour gradient plus low-contrast texture
        c0, c1 = rng.uniform(60, 160, 3), rng.uniform(60, 160, 3)
        ramp = np.linspace(0, 1, s)[:, None, None]
        img = c0 * (1 - ramp) + c1 * ramp + rng.normal(0, 8, (s, s, 3))
        img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
        ambient = rng.random() < self.ambient_fraction
        n_obj = int(rng.integers(0, self.max_distractors + 1)) + (0 if ambient else 1)
        n_obj = max(1, min(n_obj, self.classes))
        kinds = rng.permutation(self.classes)[:n_obj]
        placed: list[tuple[float, float, float]] = []
        boxes = []
        for _ in kinds:
            for _try in range(30):
                r = rng.uniform(*self.size_range) * s
                cx, cy = rng.uniform(r, s - r), rng.uniform(r, s - r)
                if all((cx - px) ** 2 + (cy - py) ** 2 > (r + pr + 2) ** 2 for px, py, pr in placed):
                    break
            placed.append((cx, cy, r))
        for k, (cx, cy, r) in zip(kinds, placed, strict=True):
            _, colour, shape = CLASSES[int(k)]
            jitter = rng.integers(-25, 26, 3)
            boxes.append(_draw(img, shape, np.clip(np.array(colour) + jitter, 0, 255), cx, cy, r))
        audio = _ambient(self.audio_samples, rng, 0.08)
        label, box = -1, None
        if not ambient:
            label, box = int(kinds[0]), boxes[0]
            audio = audio + 0.6 * class_sound(label, self.audio_samples, self.sample_rate, rng)
        audio = np.clip(audio, -1, 1).astype(np.float32)
        labelled = box is not None and rng.random() < self.labelled_fraction
        return {"rgb": img, "audio": audio, "label": label, "box": box, "labelled": labelled,
                "objects": [int(k) for k in kinds]}

    def __getitem__(self, index: int) -> dict:
        sc = self.scene(index)
        gt = None
        if sc["labelled"]:
            f = self.gt_size / self.image_size
            x0, y0, x1, y1 = sc["box"]
            gt = consensus_map([[(x0 * f, y0 * f, x1 * f, y1 * f)]], self.gt_size, consensus=1)
        return make_sample(normalize_image(sc["rgb"], self.image_size), sc["audio"], gt, self.gt_size,
                           sc["label"], index)
