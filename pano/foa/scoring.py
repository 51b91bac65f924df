"""Held-out scoring of mono localizers against a reference direction per frame (FOA or ground truth).

The question a user of a mono 360° video cares about: if the camera looked where the localizer's map
peaks, would the sound source be in the picture? ``capture`` is the fraction of scored frames whose
map peak lies inside the NFOV (``hfov × vfov``, AutoCam's 65.5° by default) centred on the reference
direction. ``score_foa_folder`` uses the ``ambisonic`` map of each FOA video as the reference (frames
where its confidence is below ``min_confidence`` are not scored: there is no direction to find) and
runs the localizers on what a mono listener hears (the W channel), so one's own FOA footage measures
how well a checkpoint will do on mono footage. A centre view (always looking at yaw 0, pitch 0) is the
baseline that knows nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pano.sphere.geometry import in_view, x_to_yaw, y_to_pitch
from pano.sphere.views import DEFAULT_HFOV

DEFAULT_VFOV = 39.8  # the 16:9 view of DEFAULT_HFOV, as in the trajectory's "fov"
CENTRE = "centre"


@dataclass
class Track:
    """Per-frame map peaks (degrees) and confidences of one localizer on one video."""

    yaw: np.ndarray
    pitch: np.ndarray
    confidence: np.ndarray


def map_peaks(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) in degrees of each equirectangular map's highest cell (B, h, w)."""
    b, h, w = maps.shape
    flat = np.asarray(maps, np.float32).reshape(b, -1).argmax(axis=1)
    return np.asarray(x_to_yaw(flat % w, w)), np.asarray(y_to_pitch(flat // w, h))


def track(info, name: str, ctx, options: dict | None = None) -> Track:
    """Run localizer ``name`` over the whole video (streaming, as pass 1 of a run) and keep map peaks."""
    from pano.localizers.base import create_localizer
    from pano.localizers.batches import frame_batches

    source = create_localizer(name, ctx, options)
    times = info.frame_times()
    source.prepare(info)
    yaws, pitches, confs = [], [], []
    for batch in frame_batches(info, source, times):
        res = source.process(batch)
        y, p = map_peaks(res.maps)
        yaws.append(y)
        pitches.append(p)
        confs.append(res.confidence)
    if not yaws:
        return Track(np.zeros(0), np.zeros(0), np.zeros(0))
    return Track(np.concatenate(yaws), np.concatenate(pitches), np.concatenate(confs))


def capture(ref_yaw: np.ndarray, ref_pitch: np.ndarray, yaw: np.ndarray, pitch: np.ndarray,
            hfov: float = DEFAULT_HFOV, vfov: float = DEFAULT_VFOV) -> np.ndarray:
    """Per frame: does the direction (yaw, pitch) fall inside the view centred on the reference?"""
    return np.asarray(in_view(yaw, pitch, ref_yaw, ref_pitch, hfov, vfov), bool)


@dataclass
class FolderScores:
    """Capture per localizer (mean over scored frames of all videos), and per video."""

    methods: list[str]
    capture: dict[str, float]
    frames: int
    per_video: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"metric": "capture", "methods": self.methods, "capture": self.capture, "frames": self.frames,
                "per_video": self.per_video}


def score_foa_folder(root: str | Path, checkpoint: str | Path, device: str = "cpu", min_confidence: float = 0.5,
                     hfov: float = DEFAULT_HFOV, vfov: float = DEFAULT_VFOV, network_options: dict | None = None,
                     baselines: bool = True, notify: Callable[[str], None] | None = None) -> FolderScores:
    """Capture of the ``network`` localizer (and ``synchrony`` and the centre view) on every FOA video
    under ``root``, with each frame's ambisonic peak as the reference (module docstring)."""
    from pano.foa.dataset import find_foa_videos
    from pano.run.context import RunContext

    notify = notify or (lambda _m: None)
    methods = ["network"] + (["synchrony", CENTRE] if baselines else [])
    hits: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    per_video = []
    for info in find_foa_videos(root, notify):
        notify(f"scoring {info.path.name}")
        foa_ctx = RunContext.for_media(info, device=device)
        ref = track(info, "ambisonic", foa_ctx)
        mono_ctx = RunContext.for_media(info, checkpoint=checkpoint, device=device)
        runs = {"network": track(info, "network", mono_ctx, network_options)}
        if baselines:
            runs["synchrony"] = track(info, "synchrony", mono_ctx)
            runs[CENTRE] = Track(np.zeros_like(ref.yaw), np.zeros_like(ref.pitch), np.ones_like(ref.yaw))
        n = min(len(ref.yaw), *(len(t.yaw) for t in runs.values()))
        keep = np.flatnonzero(ref.confidence[:n] >= min_confidence)
        row = {"video": str(info.path), "frames": int(len(keep))}
        for m in methods:
            t = runs[m]
            h = capture(ref.yaw[keep], ref.pitch[keep], t.yaw[keep], t.pitch[keep], hfov, vfov)
            hits[m].append(h)
            row[m] = float(h.mean()) if len(h) else float("nan")
        per_video.append(row)
    total = int(sum(len(h) for h in hits["network"]))
    means = {m: float(np.concatenate(hits[m]).mean()) if total else float("nan") for m in methods}
    return FolderScores(methods, means, total, per_video)


def format_scores(scores: FolderScores) -> str:
    """The table ``pano-pan evaluate --dataset-type foa-videos`` prints."""
    names = [Path(r["video"]).name for r in scores.per_video]
    width = max([10, *(len(n) for n in names)]) + 2
    head = f"{'video':{width}s}{'frames':>7s}" + "".join(f"{m:>11s}" for m in scores.methods)
    lines = ["capture: fraction of frames whose map peak lies in the NFOV centred on the FOA direction", head]
    for name, r in zip(names, scores.per_video, strict=True):
        lines.append(f"{name:{width}s}{r['frames']:>7d}" + "".join(f"{r[m]:>11.3f}" for m in scores.methods))
    lines.append(f"{'all':{width}s}{scores.frames:>7d}" + "".join(f"{scores.capture[m]:>11.3f}"
                                                               for m in scores.methods))
    return "\n".join(lines)
