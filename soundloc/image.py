"""The one way an RGB picture becomes network input, for training, evaluation, ``localize`` and 360° frames.

A model trained on images prepared one way and run on images prepared another sees a shifted input
distribution (different resampling, different statistics), so every dataset and every inference path
calls :func:`preprocess_image`, and the ImageNet statistics that torchvision's backbones expect are
written down only here.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
