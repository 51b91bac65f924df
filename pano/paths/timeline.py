"""Editors' timelines: the shots of a run as an OpenTimelineIO timeline over the NFOV render, and the
formats editors import, written through OTIO's maintained adapters.

``--export otio`` → ``<stem>.otio`` (OpenTimelineIO JSON, which Resolve, Premiere via plugins, Nuke
Studio and OTIO's own tools open), ``edl`` → ``<stem>.edl`` (CMX 3600), ``fcp-xml`` →
``<stem>.fcp.xml`` (Final Cut Pro 7 XML, which Premiere Pro and DaVinci Resolve import), ``fcpxml`` →
``<stem>.fcpxml`` (Final Cut Pro X). All describe the same timeline:

* a video track with one clip per shot of the camera path (a shot starts at the first sample and at
  every ``cut``), each a range of ``<stem>.nfov.mp4`` (or ``.mov``) at the source's frame rate, so the
  editor sees the planner's cuts as edit points and can trim, reorder or replace shots;
* an audio track with the whole render's sound as one clip (the sound runs on across the cuts);
* each shot clip's metadata ``pano-pan`` holds the view path over that shot (per frame: the file's
  time ``t``, ``yaw``, ``pitch``, ``hfov``, ``vfov``) and the times on the 360° file's clock, so a tool can
  re-frame the shot from the 360° source; the timeline's metadata names the source and the run.

EDL and FCP XML carry no such metadata (their adapters drop it); the cut points and timecodes are the
same. The timeline starts at 00:00:00:00, the NFOV file's own start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import opentimelineio as otio

from common.atomic import atomic_path
from common.errors import OutputError
from common.extras import MissingExtra
from common.options import PluginOptions
from pano.paths.exporters import Exporter, ExportJob
from pano.paths.trajectory import Trajectory
from pano.run.names import OutputNames

ADAPTER_PACKAGES = {"cmx_3600": "otio-cmx3600-adapter", "fcp_xml": "otio-fcp-adapter",
                    "fcpx_xml": "otio-fcpx-xml-adapter", "otio_json": "opentimelineio"}


def shot_bounds(traj: Trajectory) -> list[tuple[int, int]]:
    """(first, end) sample indices of each shot, in time order: a shot starts at sample 0 and at every cut."""
    n = len(traj)
    cut = np.zeros(n, bool) if traj.cut is None else np.asarray(traj.cut, bool)
    starts = [0] + [int(i) for i in np.flatnonzero(cut) if i > 0]
    return list(zip(starts, [*starts[1:], n], strict=True))


def frame_rate(traj: Trajectory) -> float:
    """The timeline's rate: the source's declared fps, else the samples' median spacing."""
    fps = float(traj.source.get("fps") or 0.0)
    if fps > 0:
        return round(fps, 3)
    d = np.diff(np.asarray(traj.t, float))
    d = d[d > 0]
    return round(float(1.0 / np.median(d)), 3) if len(d) else 30.0


def build_timeline(traj: Trajectory, media: Path, name: str) -> otio.schema.Timeline:
    """The OTIO timeline of ``traj``'s shots over the rendered NFOV video ``media``."""
    rate = frame_rate(traj)
    n = len(traj)
    if np.any(np.diff(np.asarray(traj.t, float)) < 0):
        raise OutputError(f"{name}: the trajectory's samples are out of time order; save it from pano-pan first")
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(n, rate))

    def reference() -> otio.schema.ExternalReference:
        return otio.schema.ExternalReference(target_url=media.resolve().as_uri(), available_range=available)

    timeline = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(0, rate))
    timeline.metadata["pano-pan"] = {
        "source": dict(traj.source), "generator": dict(traj.generator), "shots": len(shot_bounds(traj)),
        "media": media.name,
    }
    video = otio.schema.Track(name="NFOV", kind=otio.schema.TrackKind.Video)
    for k, (a, b) in enumerate(shot_bounds(traj), start=1):
        clip = otio.schema.Clip(
            name=f"{name} shot {k}", media_reference=reference(),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(a, rate),
                                                 otio.opentime.RationalTime(b - a, rate)),
        )
        clip.metadata["pano-pan"] = {
            "shot": k, "first_sample": a, "samples": b - a,
            "file_time": [round(float(traj.t[a]), 6), round(float(traj.t[b - 1]), 6)],
            "path": {key: [round(float(v), 3) for v in getattr(traj, key)[a:b]]
                     for key in ("t", "yaw", "pitch", "hfov", "vfov")},
        }
        video.append(clip)
    audio = otio.schema.Track(name="Sound", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name=f"{name} sound", media_reference=reference(), source_range=available))
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    return timeline


@dataclass(frozen=True)
class TimelineOptions(PluginOptions):
    pass


class TimelineExporter(Exporter):
    """One timeline format; subclasses name the suffix and OTIO's adapter."""

    Options = TimelineOptions
    adapter: ClassVar[str] = "otio_json"

    def __init__(self, ctx=None, options=None) -> None:
        super().__init__(ctx, options)
        if self.adapter not in otio.adapters.available_adapter_names():  # checked before any work
            raise MissingExtra(f"--export {self.name} needs OTIO's {self.adapter} adapter: "
                               f"pip install {ADAPTER_PACKAGES[self.adapter]}")

    def write(self, job: ExportJob) -> list[Path]:
        path = job.path(self.suffixes[0])
        media = job.nfov if job.nfov is not None else OutputNames(job.prefix).nfov
        timeline = build_timeline(job.trajectory, media, job.prefix.name)
        with atomic_path(path) as tmp:
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name=self.adapter)
        return [path]


class OtioExporter(TimelineExporter):
    """``<stem>.otio``: the OpenTimelineIO timeline, with the view path in each shot's metadata."""

    name = "otio"
    suffixes = (".otio",)
    adapter = "otio_json"


class EdlExporter(TimelineExporter):
    """``<stem>.edl``: the shots as a CMX 3600 edit decision list."""

    name = "edl"
    suffixes = (".edl",)
    adapter = "cmx_3600"


class FcpXmlExporter(TimelineExporter):
    """``<stem>.fcp.xml``: Final Cut Pro 7 XML, for Premiere Pro and DaVinci Resolve."""

    name = "fcp-xml"
    suffixes = (".fcp.xml",)
    adapter = "fcp_xml"


class FcpxmlExporter(TimelineExporter):
    """``<stem>.fcpxml``: Final Cut Pro X."""

    name = "fcpxml"
    suffixes = (".fcpxml",)
    adapter = "fcpx_xml"
