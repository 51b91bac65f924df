"""Pieces shared by every dataset: image preparation (``soundloc.image``), fixed-length audio, the sample dict.

Every dataset yields the same dict so that training and evaluation never care where a sample came from:

``image``  (3,S,S) float32, ImageNet-normalised;
``audio``  (samples,) float32 in [-1,1] at the model's sample rate, padded/cropped to a fixed length so
           that batches stack (the training loop scales it with ``scale_waveform``);
``gt_map`` (G,G) float32 consensus score map g of eq. 9 (zeros when there is no annotation); datasets of
           non-square frames give (G_h,G_w) on the frame's own grid;
``has_gt`` bool; ``label`` int class id (−1 when unknown or ambient); ``index`` int; ``clip`` int id of
           the recording a sample was cut from (−1 when each sample is its own), so that evaluation's
           mismatched-audio control never takes a sound from the image's own video.

``gt_map`` and ``has_gt`` are always present, so the default collate function works on mixed batches.
"""

from __future__ import annotations

import numpy as np
import torch

from soundloc.image import preprocess_image


def normalize_image(rgb: np.ndarray, size: int) -> torch.Tensor:
    """HWC uint8 RGB or grey (any size) -> (3,size,size) float32, prepared as at inference."""
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    return preprocess_image(np.ascontiguousarray(rgb[:, :, :3]), size)[0]


def fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    """Crop (centre) or zero-pad (end) a mono waveform to exactly ``n`` samples."""
    wave = np.asarray(wave, np.float32).reshape(-1)
    if wave.size >= n:
        start = (wave.size - n) // 2
        return wave[start : start + n].copy()
    out = np.zeros(n, np.float32)
    out[: wave.size] = wave
    return out


def make_sample(image: torch.Tensor, audio: np.ndarray, gt_map: np.ndarray | None, gt_size: int | tuple[int, int],
                label: int = -1, index: int = 0, clip: int = -1) -> dict:
    """Assemble the sample dict described in the module docstring (``gt_size`` (G_h, G_w) for non-square
    ground-truth grids)."""
    has_gt = gt_map is not None
    shape = (gt_size, gt_size) if isinstance(gt_size, int) else tuple(gt_size)
    g = np.zeros(shape, np.float32) if gt_map is None else gt_map.astype(np.float32)
    return {
        "image": image,
        "audio": torch.from_numpy(np.ascontiguousarray(audio, np.float32)),
        "gt_map": torch.from_numpy(np.ascontiguousarray(g)),
        "has_gt": torch.tensor(has_gt),
        "label": torch.tensor(int(label), dtype=torch.long),
        "index": torch.tensor(int(index), dtype=torch.long),
        "clip": torch.tensor(int(clip), dtype=torch.long),
    }
