"""360° video in, NFOV video + saliency video + trajectory JSON out, in two streaming passes.

Pass 1 computes each frame's saliency map (decoding pixels only if the source needs them, at the
source's small analysis size) and feeds the planner small per-frame numbers; the maps go to a
temporary file as bytes, never into memory. The planner then fixes the whole path, and pass 2 decodes
full-resolution frames once, rendering the NFOV view from the decoder's YUV planes and the saliency
overlay from a small copy of them. Memory is therefore bounded by one batch of frames, whatever the
video's length.

The file is probed once: the :class:`MediaInfo` it returns travels through both passes and hands out
the readers (frame times, frames, planes, audio), so every stage sees the same projection, stereo eye
and audio decision.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError, OptionError
from common.memory import release_free_memory
from common.outputs import ensure_writable_dir, output_set
from common.progress import ProgressFactory, no_progress
from common.version import VERSION
from pano.localizers.base import Localizer, create_localizer
from pano.localizers.batches import frame_batches
from pano.localizers.importance import batch_centroids
from pano.localizers.people import DETAIL_SIZE
from pano.localizers.select import choose_localizer
from pano.localizers.subject import SubjectFinder
from pano.media.codecs import Encoding, choose_encoding
from pano.media.probe import MediaInfo, probe, require_audio, require_equirectangular
from pano.paths.exporters import EXPORTERS, ExportJob
from pano.paths.trajectory import Trajectory
from pano.planning.base import Observation, Planner, create_planner
from pano.rendering.maps import map_store
from pano.rendering.render import NFOV_AUDIO, render_trajectory, warn_if_short
from pano.run.context import RunContext
from pano.run.names import OutputNames
from pano.sphere.views import DEFAULT_FOV_RANGE, output_geometry, parse_aspect

# Where the planner frames subjects: pass 1 also decodes the frames this small (H, W) and finds the
# sounding subject's box on every SUBJECT_EVERY-th frame (pano.localizers.subject), and looks for
# people on a DETAIL_SIZE frame every PEOPLE_EVERY seconds (pano.localizers.people); only those frames
# are converted, and the others not decoded where no other frame refers to them (B-frames).
SUBJECT_FRAME = (256, 512)
SUBJECT_EVERY = 3
PEOPLE_EVERY = 2.0

__all__ = ["NFOV_AUDIO", "RunOptions", "RunResult", "render_trajectory", "run", "run_context"]


@dataclass
class RunOptions:
    localizer: str = "auto"
    planner: str = "autocam"
    hfov: float | None = None  # None: 65.5° (DEFAULT_HFOV), or the --aspect preset's lens
    vfov: float | None = None
    fov_range: tuple[float, float] | None = DEFAULT_FOV_RANGE  # the planner zooms within it; None = fixed
    size: tuple[int, int] | str = "standard"  # output (width, height), or the rule: "standard" / "native"
    projection: str = "auto"  # auto | equirect (see pano.media.probe)
    stereo: str = "auto"  # auto | mono | top-bottom | left-right
    saliency_video: bool = True
    audio_format: str = "auto"
    device: str = "cpu"
    checkpoint: str | None = None
    localizer_options: dict = field(default_factory=dict)
    planner_options: dict = field(default_factory=dict)
    crf: int | None = None  # None: the codec's default (pano.media.codecs.CODECS)
    preset: str | None = None  # x264's preset names for every codec; None: veryfast
    exports: tuple[str, ...] = ()  # names in pano.paths.exporters.EXPORTERS: "csv", "ffmpeg", "plot"
    nfov_audio: str = "auto"  # see NFOV_AUDIO
    overwrite: bool = False  # replace existing files pano-pan did not write (never an input)
    # delivery formats (--aspect, --codec, --encoder, --start/--end)
    aspect: str | None = None  # a pano.sphere.views.ASPECTS preset: "16:9", "9:16", "1:1", "4:5"
    codec: str | None = None  # pano.media.codecs.CODECS: h264 (default), hevc, av1, prores
    encoder: str | None = None  # an FFmpeg encoder such as h264_nvenc; falls back in one line when absent
    start: float | None = None  # seconds on the file's clock; the trajectory keeps that clock
    end: float | None = None

@dataclass
class RunResult:
    nfov: Path
    saliency: Path | None
    trajectory: Path
    localizer: str
    reason: str
    frames: int
    media: MediaInfo
    timings: dict = field(default_factory=dict)  # seconds per stage: prepare, analyse, plan, render
    notices: list[str] = field(default_factory=list)
    extra_outputs: list[Path] = field(default_factory=list)

    @property
    def outputs(self) -> list[Path]:
        """Every file the run wrote: the NFOV video, the saliency video (if any), the trajectory, exports."""
        return [p for p in (self.nfov, self.saliency, self.trajectory) if p is not None] + list(self.extra_outputs)


def run_context(info: MediaInfo, options: RunOptions, notify: Callable[[str], None] | None = None) -> RunContext:
    """Every run-wide decision for ``info`` under ``options``, made once (see ``pano.run.context``)."""
    geometry = output_geometry(info.pano_size[0], options.hfov, options.vfov, options.size,
                               src_height=info.pano_size[1],
                               aspect=parse_aspect(options.aspect) if options.aspect else None,
                               hfov_range=options.fov_range)
    return RunContext.for_media(info, checkpoint=options.checkpoint, device=options.device, geometry=geometry,
                                notify=notify)


def _segment_record(info: MediaInfo) -> dict:
    """``segment: [start, end]`` for the trajectory's source block (end None: to the end of the file)."""
    if info.segment is None:
        return {}
    start, end = info.segment
    return {"segment": [start, None if np.isinf(end) else end]}


def resolve_localizer(ctx: RunContext, requested: str) -> tuple[str, str]:
    """The localizer to use and a one-line reason, applying ``auto``."""
    if requested != "auto":
        return requested, "as requested"
    return choose_localizer(ctx)


def run(
    input_path: str | Path,
    outdir: str | Path = ".",
    options: RunOptions | None = None,
    progress: ProgressFactory | None = None,
    notify: Callable[[str], None] | None = None,
    **fields: Any,
) -> RunResult:
    """The whole job; raises ``UserError`` subclasses for anything the user can fix.

    ``fields`` are :class:`RunOptions` fields given as keywords (``run("c.mp4", "out", aspect="9:16")``),
    applied over ``options``; an unknown one is an ``OptionError`` naming the valid ones. ``progress``
    is a factory ``(pass name, total frames) → context manager yielding advance(n)`` (see
    ``common.progress``); ``notify`` receives the run's one-line messages."""
    options = options or RunOptions()
    if fields:
        known = {f.name for f in dataclasses.fields(RunOptions)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise OptionError(f"run(): unknown option {', '.join(unknown)}; RunOptions has {', '.join(sorted(known))}")
        options = dataclasses.replace(options, **fields)
    progress = progress or no_progress
    notify = notify or (lambda _m: None)
    input_path = Path(input_path)
    info = probe(input_path, options.audio_format, options.projection, options.stereo)
    require_equirectangular(info)
    require_audio(info)
    info = info.with_segment(options.start, options.end)
    encoding = choose_encoding(options.codec, options.encoder, options.crf, options.preset, notify)
    outdir = ensure_writable_dir(outdir)
    for line in info.notices:
        notify(f"note: {line}")
    if info.stereo != "mono":
        eye = "top" if info.stereo == "top-bottom" else "left"
        notify(f"stereo {info.stereo} ({info.stereo_source}): analysing and rendering the {eye} eye, "
               f"{info.pano_size[0]}×{info.pano_size[1]}")
    names = OutputNames.of(outdir, input_path.stem)
    if names.prefix.name != input_path.stem:
        notify(f"note: the input's name is too long for the output names; they start {names.prefix.name}")

    ctx = run_context(info, options, notify)
    name, reason = resolve_localizer(ctx, options.localizer)
    notify(f"localizer {name}: {reason}")
    if options.codec or options.encoder or options.aspect:
        notify(f"video {encoding.describe()}, {ctx.geometry.width}×{ctx.geometry.height}, "
               f"{ctx.hfov:.1f}°×{ctx.vfov:.1f}°")
    source = create_localizer(name, ctx, options.localizer_options)
    planner = create_planner(options.planner, ctx, options.planner_options)
    exporters = [EXPORTERS.create(kind, ctx) for kind in dict.fromkeys(options.exports)]
    # All outputs are written under hidden names and renamed together at the end; none may replace an
    # input or a file pano-pan did not write (checked now, before the long work).
    outputs = output_set([input_path, options.checkpoint], overwrite=options.overwrite)
    outputs.reserve(names.nfov_as(encoding.suffix), names.saliency if options.saliency_video else None,
                    names.trajectory, *(names.path(sfx) for e in exporters for sfx in e.suffixes))
    with outputs:
        return _run(info, ctx, name, reason, source, planner, exporters, names, options, progress, notify,
                    encoding)


def _run(info: MediaInfo, ctx: RunContext, name: str, reason: str, source: Localizer, planner: Planner,
         exporters: list, names: OutputNames, options: RunOptions, progress: ProgressFactory,
         notify: Callable[[str], None], encoding: Encoding) -> RunResult:
    """The two passes and the writes, inside the run's output set."""
    timings: dict[str, float] = {}
    nfov_path, traj_path = names.nfov_as(encoding.suffix), names.trajectory
    sal_path = names.saliency if options.saliency_video else None
    t0 = time.perf_counter()
    times = info.frame_times()
    if len(times) == 0:
        raise InputError(f"{info.path}: the video stream has no frames; the file may be damaged")
    warn_if_short(info, len(times), notify)
    source.prepare(info)
    release_free_memory()  # reading the frame times made per-packet Python objects; their pages are free
    timings["prepare"] = time.perf_counter() - t0

    with map_store(enabled=sal_path is not None) as store:
        t1 = time.perf_counter()
        with progress("analysing", len(times)) as advance:
            look = SUBJECT_FRAME if planner.wants_subjects else None
            finder = (SubjectFinder(SUBJECT_EVERY, people=not source.finds_people, notify=notify,
                                    faces=planner.subject_faces, bodies=planner.subject_bodies)
                      if look is not None else None)
            detail = (DETAIL_SIZE, PEOPLE_EVERY) if finder is not None and finder.track is not None else None
            for batch in frame_batches(info, source, times, frame_size=look, detail=detail,
                                       look_every=SUBJECT_EVERY):
                result = source.process(batch)
                maps = result.maps
                yaw, pitch, resultant = batch_centroids(maps)
                conf = result.confidence * resultant
                boxes = None
                if finder is not None and (batch.frames is not None or batch.detail or batch.looks):
                    boxes = finder.boxes(batch, result.people, yaw, pitch, conf)
                planner.observe(Observation(batch.times, maps, yaw, pitch, conf, subject=boxes))
                if store is not None:
                    store.append(maps)
                advance(len(batch.indices))
            # The last batch's frames, maps and boxes are not needed by the plan or the render.
            batch = result = maps = boxes = None
        release_free_memory()  # the input's demuxer index and pass 1's frames are freed: not kept under the plan
        timings["analyse"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        path = planner.plan()
        n = len(path.yaw)
        traj = Trajectory(
            t=times[:n],
            yaw=path.yaw,
            pitch=path.pitch,
            hfov=path.hfov if path.hfov is not None else np.full(n, ctx.hfov),
            vfov=path.vfov if path.vfov is not None else np.full(n, ctx.vfov),
            confidence=path.confidence,
            cut=path.cut,
            subject=path.subject,  # each sample's ``subject`` key: the box its shot was composed on
            source=info.source_record() | {"frame_count": n} | _segment_record(info),
            generator={
                "name": "pano-pan",
                "version": VERSION,
                "localizer": name,
                "planner": options.planner,
                "params": {"localizer": source.describe(), "planner": planner.describe(), "reason": reason},
            },
        )
        # The plan is in the trajectory now: neither the planner's per-frame state nor the path's own
        # arrays (hfov, vfov and boxes were copied) are held through the render.
        del path
        planner.release()
        release_free_memory()  # what planning held for a moment is not kept resident under the render
        timings["plan"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        maps_on_disk = store.finish() if store is not None else None
        try:
            render_trajectory(
                info, traj, nfov_path, ctx.geometry.size, saliency_path=sal_path, saliency_maps=maps_on_disk,
                progress=progress, audio_mode=options.nfov_audio, times=times[:n], encoding=encoding,
            )
        finally:
            if maps_on_disk is not None:
                maps_on_disk.close()
        timings["render"] = time.perf_counter() - t3
    traj.save(traj_path)
    job = ExportJob(traj, names.prefix, planner.yaw_strip() if {"plot", "strip"} & set(options.exports) else None,
                    nfov=nfov_path)
    extra = [path for exporter in exporters for path in exporter.write(job)]
    return RunResult(nfov_path, sal_path, traj_path, name, reason, n, info, timings, list(info.notices), extra)


