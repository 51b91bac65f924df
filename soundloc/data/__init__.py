"""Datasets of frame/sound pairs; all yield the sample dict described in ``soundloc.data.common``.

``open_dataset`` turns what a user typed (a folder, or ``synthetic:N[:seed]``) into a dataset so that
the CLI, the benchmark and library users name data the same way.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import UserError
from soundloc.data.common import normalize_image
from soundloc.data.flickr import FlickrSoundNet, parse_annotation, read_id_list
from soundloc.data.synthetic import SyntheticScenes
from soundloc.data.videos import VIDEO_EXTS, VideoFolder

DATASET_TYPES = ("auto", "flickr", "videos", "synthetic")

__all__ = [
    "DATASET_TYPES", "FlickrSoundNet", "SyntheticScenes", "VideoFolder", "normalize_image", "open_dataset",
    "audio_seconds_for", "parse_annotation", "parse_synthetic_spec", "read_id_list",
]


def audio_seconds_for(spec: str, given: float | None, default: float) -> float:
    """Seconds of sound per sample: ``given``, else 1 s for synthetic scenes (their clip length), else
    ``default`` (the model's window)."""
    if given is not None:
        if not given > 0:
            raise UserError(f"--audio-seconds {given}: must be a positive number of seconds")
        return given
    return 1.0 if str(spec).startswith("synthetic:") else default


def parse_synthetic_spec(spec: str) -> tuple[int, int] | None:
    """``synthetic:N[:seed]`` -> (N, seed); None when ``spec`` is not of that form."""
    if not spec.startswith("synthetic:"):
        return None
    parts = spec.split(":")[1:]
    try:
        n = int(parts[0])
        seed = int(parts[1]) if len(parts) > 1 else 0
        if n < 1 or len(parts) > 2:
            raise ValueError
    except (ValueError, IndexError):
        raise UserError(f"{spec}: write synthetic data as synthetic:N or synthetic:N:SEED, N >= 1") from None
    return n, seed


def open_dataset(spec: str | Path, dataset_type: str = "auto", image_size: int = 320,
                 sample_rate: int = 22050, audio_seconds: float = 20.0, *, ids: str | Path | None = None,
                 frames_per_video: int = 1, seed: int = 0, gt_size: int | None = None,
                 synthetic_options: dict | None = None):
    """Open ``spec`` as a dataset.

    ``dataset_type="auto"`` picks synthetic for ``synthetic:…``, ``videos`` for a folder holding video
    files but no images, else ``flickr``. ``gt_size`` (flickr/synthetic) defaults to 256 for flickr (the
    annotation frame) and the image size for synthetic scenes.
    """
    spec_s = str(spec)
    syn = parse_synthetic_spec(spec_s)
    if dataset_type not in DATASET_TYPES:
        raise UserError(f"--dataset-type {dataset_type}: use one of {', '.join(DATASET_TYPES)}")
    if syn is not None or dataset_type == "synthetic":
        if syn is None:
            raise UserError(f"{spec_s}: synthetic data is named synthetic:N[:seed], e.g. synthetic:200:1")
        n, s = syn
        return SyntheticScenes(n, seed=s, image_size=image_size, sample_rate=sample_rate,
                               audio_seconds=audio_seconds, gt_size=gt_size, **(synthetic_options or {}))
    root = Path(spec_s)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; pass a data folder or synthetic:N[:seed]")
    if dataset_type == "auto":
        has_video = any(p.suffix.lower() in VIDEO_EXTS for p in root.rglob("*") if p.is_file())
        has_image = any(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in root.rglob("*") if p.is_file())
        dataset_type = "videos" if has_video and not has_image else "flickr"
    if dataset_type == "videos":
        return VideoFolder(root, image_size, sample_rate, audio_seconds, frames_per_video, seed)
    return FlickrSoundNet(root, image_size, sample_rate, audio_seconds, ids=ids, gt_size=gt_size or 256)
