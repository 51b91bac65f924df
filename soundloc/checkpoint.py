"""Saving and loading trained localizers in the project's one checkpoint format.

A checkpoint is a single ``torch.save`` file ``{"format": "soundloc", "version": 1, "config": {...},
"state_dict": {...}, "meta": {...}}`` (see ARCHITECTURE.md). It is always read with
``weights_only=True`` so that a downloaded file cannot run code, written to a temporary name and
renamed so that an interrupted save never leaves a truncated file, and refused with a CheckpointError
that says what is wrong with it (missing, not a checkpoint, corrupt, or not matching its config).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from common import interrupt
from common.atomic import atomic_path
from common.errors import CheckpointError
from soundloc.model import ModelConfig, SoundLocalizer

FORMAT = "soundloc"
VERSION = 1


def save_checkpoint(path: str | Path, model: SoundLocalizer, meta: dict | None = None) -> Path:
    """Write ``model`` (config + weights + ``meta``) to ``path`` atomically; returns the path."""
    return write_payload(path, {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    })


def write_payload(path: str | Path, payload: dict) -> Path:
    """``torch.save`` a checkpoint-contract dict to ``path`` atomically (fsynced before the rename)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A signal inside torch.save broke its zip writer (RuntimeError, exit 1): it waits for the end of the
        # write instead, then stops the program as any interrupt does (common.interrupt).
        with interrupt.deferred(), atomic_path(path) as tmp, open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot write ({exc.strerror}); choose a writable path") from None
    return path


def read_payload(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint-contract dict in ``path`` (``weights_only=True``), or a CheckpointError saying why not."""
    return _read(Path(path), map_location)


def _read(path: Path, map_location) -> dict:
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass the checkpoint file in it (e.g. {path}/best.pt)")
    if path.exists() and not path.is_file():
        raise CheckpointError(f"{path}: is not a regular file (a pipe or a device); pass a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; check the path or train one first")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files (KeyError, EOFError, ...)
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        # "Unsupported global": a real pickle that names classes; anything else (a JPEG's bytes read as
        # pickle opcodes, a truncated zip) is simply not a checkpoint.
        if isinstance(exc, pickle.UnpicklingError) and "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path}: holds objects other than tensors and plain data, refused for safety; "
                "re-save it with soundloc.checkpoint.save_checkpoint"
            ) from None
        if isinstance(exc, pickle.UnpicklingError):
            msg = "not a PyTorch file"  # torch's own text suggests weights_only=False, which we never do
        raise CheckpointError(
            f"{path}: corrupt or not a torch file ({msg}); pass a checkpoint written by 'pano-pan train', "
            "or re-download it"
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a soundloc checkpoint (no format='soundloc' header); "
            "pass a file written by soundloc.checkpoint.save_checkpoint"
        )
    if obj.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {obj.get('version')!r} is not supported (this build reads "
            f"{VERSION}); use a matching pano-pan version"
        )
    for key in ("config", "state_dict"):
        if not isinstance(obj.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint has no {key!r} dictionary; the file is damaged")
    return obj


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[SoundLocalizer, dict]:
    """Rebuild the model a checkpoint describes and load its weights; returns ``(model, meta)``.

    The model comes back in eval mode. ImageNet weights are never downloaded here: the checkpoint's
    own weights replace them.
    """
    path = Path(path)
    obj = _read(path, map_location)
    if "part" in obj["config"]:
        raise CheckpointError(f"{path}: holds only {obj['config']['part']} weights, not a trained localizer; "
                              "start training from it with 'pano-pan train --soundnet-weights FILE'")
    try:
        config = ModelConfig.from_dict(obj["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: checkpoint config is invalid ({exc}); the file is damaged or too new") from None
    model = SoundLocalizer(config, load_pretrained=False)
    own = model.state_dict()
    state = obj["state_dict"]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(
        k for k in set(own) & set(state) if not isinstance(state[k], torch.Tensor) or state[k].shape != own[k].shape
    )
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
                parts.append(f"{label}: {', '.join(keys[:3])}{more}")
        raise CheckpointError(
            f"{path}: weights do not match its config (backbone={config.backbone!r}, "
            f"embed_dim={config.embed_dim}; {'; '.join(parts)}); the checkpoint is damaged or was edited"
        )
    model.load_state_dict(state)
    model.to(map_location)
    model.eval()
    meta = obj.get("meta")
    return model, dict(meta) if isinstance(meta, dict) else {}
