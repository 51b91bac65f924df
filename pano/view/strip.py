"""The yaw × time saliency strip behind the timeline, as ``--plot`` draws it.

The trajectory holds no maps, so the strip comes from one of two places:

* ``<stem>.strip.png`` beside the trajectory, written by ``pano-pan run --export strip`` (the planner's
  own strip, the one ``--plot`` draws, whatever the localizer): one row per frame, one column per yaw
  bin from −180° on the left, 8-bit, scaled to the 99.5th percentile like the plot;
* for FOA sources without that file, recomputed from the ambisonic track alone (no video decoding;
  about 0.2 ms per frame plus the audio decode), as the confidence-weighted yaw profile of the
  ambisonic maps — what the ``centroid`` planner's strip is, and the evidence the default ``auto``
  localizer uses for FOA.

Other sources without a sidecar get no strip, and the page says how to get one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from common.errors import InputError
from common.outputs import atomic_output
from common.ownership import png_with_mark
from pano.paths.exporters import Exporter, ExportJob
from pano.run.names import OutputNames

STRIP_SUFFIX = ".strip.png"
BINS = 72


def strip_path_for(prefix: Path) -> Path:
    return OutputNames(prefix).path(STRIP_SUFFIX)


def write_strip(path: str | Path, strip: np.ndarray) -> Path:
    """(N, bins) per-frame yaw profile → 8-bit grayscale PNG, one row per frame."""
    s = np.nan_to_num(np.asarray(strip, dtype=np.float64))
    hi = float(np.percentile(s, 99.5)) if s.size else 0.0
    hi = hi or float(s.max(initial=0.0)) or 1.0
    img = np.clip(s / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV always encodes a 2-D uint8 image
        raise InputError(f"{path}: could not encode the strip")
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(png_with_mark(buf.tobytes()))  # a later run may replace it (common.ownership)
    return path


def read_strip(path: str | Path, frames: int) -> np.ndarray | None:
    """The sidecar as (frames, bins) float in [0, 1], or None when absent or for another clip length."""
    if not Path(path).is_file():
        return None
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None or img.ndim != 2 or img.shape[0] != frames:
        return None
    return img.astype(np.float32) / 255.0


def foa_strip(info, times: np.ndarray, notify: Callable[[float], None] | None = None) -> np.ndarray:
    """Confidence-weighted yaw profile (N, BINS) of the ambisonic source's maps, audio only."""
    from pano.localizers.base import create_localizer
    from pano.localizers.batches import frame_batches
    from pano.localizers.importance import batch_centroids
    from pano.planning.centroid import yaw_profile
    from pano.run.context import RunContext

    source = create_localizer("ambisonic", RunContext.for_media(info))
    source.prepare(info)
    out = np.zeros((len(times), BINS), np.float32)
    for batch in frame_batches(info, source, times):
        result = source.process(batch)
        maps = np.asarray(result.maps, dtype=np.float32)
        _y, _p, resultant = batch_centroids(maps)
        conf = np.clip(np.asarray(result.confidence, dtype=np.float64), 0, 1) * resultant
        out[batch.indices] = yaw_profile(maps, BINS) * conf[:, None].astype(np.float32)
        if notify:
            notify(float(batch.indices[-1] + 1) / len(times))
    return out


def strip_image(strip: np.ndarray, max_columns: int = 2048, rows: int = 180) -> bytes:
    """The strip as the timeline shows it: PNG, time left→right, yaw +180° at the top, inferno colours."""
    s = np.asarray(strip, dtype=np.float32)
    hi = float(np.percentile(s, 99.5)) if s.size else 0.0
    heat = np.clip(s / (hi or float(s.max(initial=0.0)) or 1.0), 0, 1).T[::-1]  # (bins, N), +180 on top
    cols = int(min(max_columns, max(1, heat.shape[1])))
    heat = cv2.resize((heat * 255).astype(np.uint8), (cols, rows), interpolation=cv2.INTER_AREA
                      if heat.shape[1] > cols else cv2.INTER_NEAREST)
    ok, buf = cv2.imencode(".png", cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO))
    if not ok:  # pragma: no cover
        raise InputError("could not encode the strip image")
    return buf.tobytes()


class StripExporter(Exporter):
    """``<stem>.strip.png``: the planner's yaw × time strip as data, for the timeline of ``pano-pan view``."""

    name = "strip"
    suffixes = (STRIP_SUFFIX,)

    def write(self, job: ExportJob) -> list[Path]:
        if job.yaw_strip is None:
            self.ctx.notify("note: the planner keeps no yaw strip; no .strip.png written")
            return []
        strip = np.asarray(job.yaw_strip)
        if strip.shape[0] != len(job.trajectory) and strip.shape[1] == len(job.trajectory):
            strip = strip.T
        return [write_strip(job.path(STRIP_SUFFIX), strip)]
