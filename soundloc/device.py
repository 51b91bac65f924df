"""One reading of ``--device`` for every command, so they accept the same words and fail the same way."""

from __future__ import annotations

import torch

from common.errors import UserError


def resolve_device(device: str | None, local_rank: int = 0) -> torch.device:
    """``auto`` → the local CUDA device when there is one, else CPU; ``cpu``, ``cuda``, ``cuda:N``.

    ``local_rank`` picks the GPU for ``cuda``/``auto`` under torchrun. Asking for CUDA without a visible
    GPU is refused rather than silently run on the CPU.
    """
    device = (device or "auto").strip()
    if device == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is visible to PyTorch here; use --device cpu")
    if device == "cuda":
        return torch.device(f"cuda:{local_rank}")
    if device != "cpu" and not device.startswith("cuda:"):
        raise UserError(f"--device {device!r}: use auto, cpu, cuda or cuda:N")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r}: use auto, cpu, cuda or cuda:N") from None
