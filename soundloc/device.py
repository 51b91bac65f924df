"""One reading of ``--device`` for every command, so they accept the same words and fail the same way."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from common.errors import UserError

if TYPE_CHECKING:
    import torch

_WORD = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def check_device_word(device: str | None) -> str:
    """The ``--device`` word checked for form only, without importing PyTorch (runs that never use the
    network must not pay for it); whether CUDA is there is checked when a device is resolved."""
    word = (device or "auto").strip()
    if not _WORD.match(word):
        raise UserError(f"--device {word!r}: use auto, cpu, cuda or cuda:N")
    return word


def resolve_device(device: str | None, local_rank: int = 0) -> torch.device:
    """``auto`` → the local CUDA device when there is one, else CPU; ``cpu``, ``cuda``, ``cuda:N``.

    ``local_rank`` picks the GPU for ``cuda``/``auto`` under torchrun. Asking for CUDA without a visible
    GPU is refused rather than silently run on the CPU.
    """
    import torch

    device = check_device_word(device)
    if device == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is visible to PyTorch here; use --device cpu")
    if device == "cuda":
        return torch.device(f"cuda:{local_rank}")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r}: use auto, cpu, cuda or cuda:N") from None
