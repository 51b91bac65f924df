"""The exporter family: files written beside the trajectory JSON for other tools (CSV, ffmpeg, plot,
editors' timelines).

An exporter is a plugin (``cls(ctx, options)``) with one method, ``write(job)``, returning the paths it
wrote. The JSON itself is the contract and is always written; exporters are the user's ``--export``
choices. Adding one is a new module with an ``Exporter`` subclass plus one line in ``EXPORTERS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from common.options import PluginOptions
from common.registry import Registry
from pano.paths.trajectory import write_csv
from pano.run.context import RunPlugin
from pano.run.names import OutputNames

if TYPE_CHECKING:
    from pano.paths.trajectory import Trajectory
    from pano.run.context import RunContext


@dataclass
class ExportJob:
    """What a run hands its exporters."""

    trajectory: Trajectory
    prefix: Path  # output folder / input stem; an exporter appends its own suffix
    yaw_strip: np.ndarray | None = None  # the planner's per-frame yaw profile, for plots
    nfov: Path | None = None  # the rendered NFOV video (.mp4, or .mov for ProRes), for timelines

    def path(self, suffix: str) -> Path:
        return OutputNames(self.prefix).path(suffix)


class Exporter(RunPlugin, ABC):
    family: ClassVar[str] = "exporter"
    suffixes: ClassVar[tuple[str, ...]] = ()  # the files it writes, e.g. (".trajectory.csv",)

    def __init__(self, ctx: RunContext | None = None, options: PluginOptions | None = None) -> None:
        super().__init__(ctx, options)

    @abstractmethod
    def write(self, job: ExportJob) -> list[Path]:
        """Write the export for ``job``; return the paths written."""


class CsvExporter(Exporter):
    """``<stem>.trajectory.csv``: one row per frame, for spreadsheets and editors."""

    name = "csv"
    suffixes = (".trajectory.csv",)

    def write(self, job: ExportJob) -> list[Path]:
        return [write_csv(job.trajectory, job.path(self.suffixes[0]))]



# The exporter family: one line per exporter, imported on first use.
EXPORTERS: Registry[Exporter] = Registry("exporter", {
    "csv": "pano.paths.exporters:CsvExporter",
    "ffmpeg": "pano.paths.ffmpeg:FfmpegExporter",
    "plot": "pano.paths.plot:PlotExporter",
    "strip": "pano.view.strip:StripExporter",
    "otio": "pano.paths.timeline:OtioExporter",
    "edl": "pano.paths.timeline:EdlExporter",
    "fcp-xml": "pano.paths.timeline:FcpXmlExporter",
    "fcpxml": "pano.paths.timeline:FcpxmlExporter",
}, flag="--export", entry_point_group="pano_pan.exporters")
