"""360° video in, NFOV video + saliency video + trajectory JSON out, in two streaming passes.

Pass 1 computes each frame's saliency map (decoding pixels only if the source needs them, at the
source's small analysis size) and feeds the planner small per-frame numbers; the maps go to a
temporary file as bytes, never into memory. The planner then fixes the whole path, and pass 2 decodes
full-resolution frames once, rendering the NFOV view and the saliency overlay from each. Memory is
therefore bounded by one batch of frames, whatever the video's length.
"""

from __future__ import annotations

import contextlib
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import pano
from common.errors import InputError, OptionError
from pano.context import RunContext, output_geometry
from pano.exporters import EXPORTERS, ExportJob
from pano.importance import batch_centroids
from pano.media.audio import AudioWindows
from pano.media.probe import MediaInfo, probe, require_audio, require_equirectangular
from pano.media.video import iter_frames
from pano.media.writer import VideoWriter
from pano.outputs import ensure_writable_dir
from pano.overlay import draw_saliency_frame
from pano.planning.base import Observation, create_planner
from pano.render import DEFAULT_HFOV, NFOVRenderer
from pano.saliency.base import FrameBatch, SaliencySource, create_source
from pano.saliency.select import choose_localizer
from pano.trajectory import Trajectory
from pano.view_audio import view_stereo_chunks

# (pass name, total frames) -> context manager yielding an "advance by n frames" callable
ProgressFactory = Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def _no_progress(_name: str, _total: int) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None


@dataclass
class RunOptions:
    localizer: str = "auto"
    planner: str = "autocam"
    hfov: float = DEFAULT_HFOV
    vfov: float | None = None
    size: tuple[int, int] | None = None  # output (width, height)
    saliency_video: bool = True
    audio_format: str = "auto"
    device: str = "cpu"
    checkpoint: str | None = None
    localizer_options: dict = field(default_factory=dict)
    planner_options: dict = field(default_factory=dict)
    crf: int = 20
    preset: str = "veryfast"
    exports: tuple[str, ...] = ()  # names in pano.exporters.EXPORTERS: "csv", "ffmpeg", "plot"
    nfov_audio: str = "auto"  # see NFOV_AUDIO

# auto: "view" for FOA sources, else "keep"; keep: the source's track as it is (stream copy when MP4
# can hold it); view: stereo from the FOA track, turned with the camera (pano.view_audio).
NFOV_AUDIO = ("auto", "keep", "view")


@dataclass
class RunResult:
    nfov: Path
    saliency: Path | None
    trajectory: Path
    localizer: str
    reason: str
    frames: int
    media: MediaInfo
    timings: dict = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    extra_outputs: list[Path] = field(default_factory=list)


def frame_times(path: str | Path) -> np.ndarray:
    """Presentation times of every video frame, from packets alone (no decoding), sorted."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0]
        tb = float(stream.time_base)
    return np.sort(np.asarray(pts, dtype=np.float64)) * tb - start


def run_context(info: MediaInfo, options: RunOptions, notify: Callable[[str], None] | None = None) -> RunContext:
    """Every run-wide decision for ``info`` under ``options``, made once (see ``pano.context``)."""
    geometry = output_geometry(info.width, options.hfov, options.vfov, options.size)
    return RunContext.for_media(info, checkpoint=options.checkpoint, device=options.device, geometry=geometry,
                                notify=notify)


def resolve_localizer(ctx: RunContext, requested: str) -> tuple[str, str]:
    """The localizer to use and a one-line reason, applying ``auto``."""
    if requested != "auto":
        return requested, "as requested"
    return choose_localizer(ctx)


class _MapStore:
    """Per-frame maps kept on disk as uint8 between the passes (one small file, read back in order)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "maps.u8"
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in finish()
        self.shape: tuple[int, int] | None = None
        self.count = 0

    def append(self, maps: np.ndarray) -> None:
        if self.shape is None:
            self.shape = maps.shape[1:]
        peak = maps.reshape(len(maps), -1).max(axis=1)
        scale = np.where(peak > 0, 255.0 / np.maximum(peak, 1e-30), 0.0)
        self._fh.write(np.clip(maps * scale[:, None, None], 0, 255).astype(np.uint8).tobytes())
        self.count += len(maps)

    def finish(self) -> _MapReader | None:
        self._fh.close()
        return _MapReader(self.path, self.count, self.shape) if self.count else None


class _MapReader:
    """Reads one stored map at a time (seek + read). Not a memmap: mapped pages count as resident
    memory, which would make a long video's peak memory grow with its duration."""

    def __init__(self, path: Path, count: int, shape: tuple[int, int]) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._count, self._shape = count, shape
        self._size = int(np.prod(shape))

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> np.ndarray:
        self._fh.seek(int(index) * self._size)
        return np.frombuffer(self._fh.read(self._size), dtype=np.uint8).reshape(self._shape)

    def close(self) -> None:
        self._fh.close()


def _batches(info: MediaInfo, source: SaliencySource, times: np.ndarray) -> Iterator[FrameBatch]:
    """Frames (if the source wants them) and audio windows, batch by batch, in frame order."""
    spec = source.audio_spec
    windows = AudioWindows(info, spec.layout, spec.sample_rate, spec.window) if spec else None
    bs = max(1, int(source.batch_size))

    def make(indices: list[int], frames: list[np.ndarray] | None) -> FrameBatch:
        idx = np.asarray(indices)
        ts = times[np.clip(idx, 0, len(times) - 1)]
        return FrameBatch(
            indices=idx,
            times=ts,
            frames=np.stack(frames) if frames else None,
            audio=windows.windows(ts) if windows else None,
        )

    if source.frame_size is None:
        for start in range(0, len(times), bs):
            yield make(list(range(start, min(start + bs, len(times)))), None)
        return
    idx_buf: list[int] = []
    frame_buf: list[np.ndarray] = []
    for index, _t, rgb in iter_frames(info.path, size=source.frame_size):
        if index >= len(times):
            break
        idx_buf.append(index)
        frame_buf.append(rgb)
        if len(idx_buf) == bs:
            yield make(idx_buf, frame_buf)
            idx_buf, frame_buf = [], []
    if idx_buf:
        yield make(idx_buf, frame_buf)


class _Worker:
    """Runs ``fn(item)`` for queued items on one background thread, so the saliency overlay and its
    encoder use the second core while the main thread decodes and renders the NFOV view. The queue is
    short, so memory stays a few frames; an error in the worker is re-raised in the caller."""

    def __init__(self, fn: Callable, depth: int = 4) -> None:
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="pano-pan-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._fn(item)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller in put()/close()
                    self._error = exc

    def put(self, item) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def saliency_video_size(width: int, height: int) -> tuple[int, int]:
    """Half the panorama's size (it is a diagnostic view), at most 1920 wide, even."""
    w = min(width // 2, 1920)
    w -= w % 4
    return max(w, 2), max(w // 2, 2)


def run(
    input_path: str | Path,
    outdir: str | Path = ".",
    options: RunOptions | None = None,
    progress: ProgressFactory | None = None,
    notify: Callable[[str], None] | None = None,
) -> RunResult:
    """The whole job; raises ``UserError`` subclasses for anything the user can fix."""
    options = options or RunOptions()
    progress = progress or _no_progress
    notify = notify or (lambda _m: None)
    timings: dict[str, float] = {}
    input_path = Path(input_path)
    info = probe(input_path, options.audio_format)
    require_equirectangular(info)
    require_audio(info)
    outdir = ensure_writable_dir(outdir)
    for line in info.notices:
        notify(f"note: {line}")
    stem = input_path.stem
    nfov_path = outdir / f"{stem}.nfov.mp4"
    sal_path = outdir / f"{stem}.saliency.mp4" if options.saliency_video else None
    traj_path = outdir / f"{stem}.trajectory.json"
    if nfov_path.resolve() == input_path.resolve():
        raise OptionError(f"{input_path}: the output would overwrite the input; choose another folder with -o")

    ctx = run_context(info, options, notify)
    name, reason = resolve_localizer(ctx, options.localizer)
    notify(f"localizer {name}: {reason}")
    source = create_source(name, ctx, options.localizer_options)
    planner = create_planner(options.planner, ctx, options.planner_options)
    exporters = [EXPORTERS.create(kind, ctx) for kind in dict.fromkeys(options.exports)]

    t0 = time.perf_counter()
    times = frame_times(info.path)
    if len(times) == 0:
        raise InputError(f"{info.path}: the video stream has no frames; the file may be damaged")
    source.prepare(info)
    timings["prepare"] = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="pano-pan-") as tmp:
        store = _MapStore(Path(tmp)) if sal_path else None
        t1 = time.perf_counter()
        with progress("analysing", len(times)) as advance:
            for batch in _batches(info, source, times):
                result = source.process(batch)
                maps = result.maps
                yaw, pitch, resultant = batch_centroids(maps)
                conf = result.confidence * resultant
                planner.observe(Observation(batch.times, maps, yaw, pitch, conf))
                if store is not None:
                    store.append(maps)
                advance(len(batch.indices))
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
            source=info.source_record() | {"frame_count": n},
            generator={
                "name": "pano-pan",
                "version": pano.__version__,
                "localizer": name,
                "planner": options.planner,
                "params": {"localizer": source.describe(), "planner": planner.describe(), "reason": reason},
            },
        )
        timings["plan"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        maps_on_disk = store.finish() if store is not None else None
        try:
            render_trajectory(
                info, traj, nfov_path, ctx.geometry.size, saliency_path=sal_path, saliency_maps=maps_on_disk,
                progress=progress, crf=options.crf, preset=options.preset, audio_mode=options.nfov_audio,
            )
        finally:
            if maps_on_disk is not None:
                maps_on_disk.close()
        timings["render"] = time.perf_counter() - t3
    traj.save(traj_path)
    job = ExportJob(traj, outdir / stem, planner.yaw_strip() if {"plot", "strip"} & set(options.exports) else None)
    extra = [path for exporter in exporters for path in exporter.write(job)]
    return RunResult(nfov_path, sal_path, traj_path, name, reason, n, info, timings, list(info.notices), extra)


def render_trajectory(
    input_path: str | Path | MediaInfo,
    trajectory: Trajectory,
    nfov_path: str | Path,
    size: tuple[int, int] | None = None,
    saliency_path: str | Path | None = None,
    saliency_maps: np.ndarray | _MapReader | None = None,
    progress: ProgressFactory | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    audio_mode: str = "auto",
) -> Path:
    """Pass 2: decode once, render the view of each trajectory sample, with the sound (see NFOV_AUDIO).

    Frames beyond the trajectory hold its last sample. With ``saliency_path`` the overlay video is
    written from the same decoded frames (maps optional: without them only the view is drawn).
    """
    info = input_path if isinstance(input_path, MediaInfo) else probe(input_path)
    require_equirectangular(info)
    progress = progress or _no_progress
    n = len(trajectory)
    if n == 0:
        raise InputError(f"{info.path}: the trajectory is empty")
    out_w, out_h = size or output_geometry(info.width, float(trajectory.hfov[0]), float(trajectory.vfov[0])).size
    renderers: dict[tuple[float, float], NFOVRenderer] = {}

    def renderer(hf: float, vf: float) -> NFOVRenderer:
        key = (round(hf, 3), round(vf, 3))
        if key not in renderers:
            if len(renderers) > 64:
                renderers.clear()
            renderers[key] = NFOVRenderer(info.width, info.height, out_w, out_h, hf, vf)
        return renderers[key]

    if audio_mode not in NFOV_AUDIO:
        raise OptionError(f"--nfov-audio {audio_mode!r}: choose from {', '.join(NFOV_AUDIO)}")
    if audio_mode == "view" and not info.is_foa:
        raise InputError(
            f"{info.path}: --nfov-audio view needs first-order ambisonic audio; use --nfov-audio keep"
        )
    view_audio = info.has_audio and info.is_foa and audio_mode in ("auto", "view")
    audio = info.path if info.has_audio and not view_audio else None
    stereo = view_stereo_chunks(info, trajectory.t, trajectory.yaw, VIEW_AUDIO_RATE) if view_audio else None
    sal_w, sal_h = saliency_video_size(info.width, info.height)
    with contextlib.ExitStack() as stack:
        nfov = stack.enter_context(
            VideoWriter(nfov_path, out_w, out_h, info.fps, audio_from=audio, crf=crf, preset=preset,
                        audio_stream=(2, VIEW_AUDIO_RATE) if stereo is not None else None)
        )
        sal = None
        if saliency_path is not None:
            sal_writer = stack.enter_context(
                VideoWriter(saliency_path, sal_w, sal_h, info.fps, audio_from=None, crf=crf + 3, preset="ultrafast")
            )
            sal = _Worker(lambda args: sal_writer.write(draw_saliency_frame(*args)))
            stack.callback(sal.close)  # runs before the writer closes: every queued frame gets written
        def encode_view(item: tuple[np.ndarray, float]) -> None:
            view, t = item
            nfov.write(view)
            if stereo is not None:
                _feed_audio(nfov, stereo, until=t + 0.5)

        nfov_worker = _Worker(encode_view)
        stack.callback(nfov_worker.close)
        advance = stack.enter_context(progress("rendering", info.frame_count or n))
        for index, _t, rgb in iter_frames(info.path):
            i = min(index, n - 1)
            yaw, pitch, roll = float(trajectory.yaw[i]), float(trajectory.pitch[i]), float(trajectory.roll[i])
            hf, vf = float(trajectory.hfov[i]), float(trajectory.vfov[i])
            nfov_worker.put((renderer(hf, vf).render(rgb, yaw, pitch, roll), _t))
            if sal is not None:
                small = cv2.resize(rgb, (sal_w, sal_h), interpolation=cv2.INTER_LINEAR)
                smap = None
                if saliency_maps is not None and len(saliency_maps):
                    smap = np.asarray(saliency_maps[min(index, len(saliency_maps) - 1)], dtype=np.float32)
                conf = float(trajectory.confidence[i])
                sal.put((small, smap, conf, yaw, pitch, hf, vf))
            advance(1)
        nfov_worker.close()  # every view encoded before the rest of the sound is written
        if stereo is not None:
            _feed_audio(nfov, stereo, until=None)
    return Path(nfov_path)


VIEW_AUDIO_RATE = 48000


def _feed_audio(writer: VideoWriter, chunks: Iterator[np.ndarray], until: float | None) -> None:
    """Write generated audio up to ``until`` seconds (all of it for None), keeping A/V interleaved."""
    while until is None or writer.audio_time < until:
        chunk = next(chunks, None)
        if chunk is None:
            return
        writer.write_audio(chunk)
