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

import contextlib
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import pano
from common import interrupt
from common.atomic import is_disk_full
from common.errors import InputError, OptionError, OutputError
from common.interrupt import POLL_SECONDS
from pano.context import RunContext, output_geometry
from pano.exporters import EXPORTERS, ExportJob
from pano.importance import batch_centroids
from pano.media.audio import AudioWindows
from pano.media.boxes import MetadataBoxes
from pano.media.probe import MediaInfo, probe, require_audio, require_equirectangular
from pano.media.video import planes_to_rgb
from pano.media.writer import VideoWriter, yuv_buffer
from pano.outputs import ensure_writable_dir, output_set
from pano.overlay import draw_saliency_frame
from pano.planning.base import Observation, Planner, create_planner
from pano.render import DEFAULT_HFOV, NFOVRenderer
from pano.saliency.base import FrameBatch, SaliencySource, create_source
from pano.saliency.select import choose_localizer
from pano.trajectory import Trajectory, nearest_samples, validate_views
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
    size: tuple[int, int] | str = "standard"  # output (width, height), or the rule: "standard" / "native"
    projection: str = "auto"  # auto | equirect (see pano.media.probe)
    stereo: str = "auto"  # auto | mono | top-bottom | left-right
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
    overwrite: bool = False  # replace existing files pano-pan did not write (never an input)

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


def run_context(info: MediaInfo, options: RunOptions, notify: Callable[[str], None] | None = None) -> RunContext:
    """Every run-wide decision for ``info`` under ``options``, made once (see ``pano.context``)."""
    geometry = output_geometry(info.pano_size[0], options.hfov, options.vfov, options.size,
                               src_height=info.pano_size[1])
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
        try:
            self._fh.write(np.clip(maps * scale[:, None, None], 0, 255).astype(np.uint8).tobytes())
        except OSError as exc:
            raise self._full(exc) from None
        self.count += len(maps)

    def _full(self, exc: OSError) -> BaseException:
        """A full temporary folder is named as such (not the output folder)."""
        if not is_disk_full(exc):
            return exc
        return OutputError(
            f"{self.path.parent.parent}: the disk is full (no space left on device) while keeping the saliency "
            "maps between the passes; free space there, point TMPDIR elsewhere, or use --no-saliency-video"
        )

    def finish(self) -> _MapReader | None:
        try:
            self._fh.close()
        except OSError as exc:
            raise self._full(exc) from None
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


def frame_batches(info: MediaInfo, source: SaliencySource, times: np.ndarray) -> Iterator[FrameBatch]:
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
    for index, _t, rgb in info.frames(size=source.frame_size):
        if index >= len(times):
            break
        idx_buf.append(index)
        frame_buf.append(rgb)
        if len(idx_buf) == bs:
            yield make(idx_buf, frame_buf)
            idx_buf, frame_buf = [], []
    if idx_buf:
        yield make(idx_buf, frame_buf)


_END = object()  # queued after the last item: the worker returns once everything before it is done


class _Worker:
    """Runs ``fn(item)`` for queued items on one background thread, so the saliency overlay and its
    encoder use the second core while the main thread decodes and renders the NFOV view. The queue is
    short, so memory stays a few frames; an error in the worker is re-raised in the caller.

    No wait blocks for long: every ``put``/``get``/``join`` polls with a short timeout, looking at the
    other side (a failed worker, a stop request) and at pending signals (``common.interrupt``), so
    an error or Ctrl-C on either side stops both, and :meth:`close` with ``abort`` returns at once
    after the item in hand.
    """

    def __init__(self, fn: Callable, depth: int = 4) -> None:
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="pano-pan-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._fn(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller in put()/close()
                self._error = exc
                self._stop.set()
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item) -> None:
        while True:
            self._raise_error()
            interrupt.check()
            if not self._thread.is_alive():
                raise RuntimeError("the writer thread stopped unexpectedly")
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def close(self, abort: bool = False) -> None:
        """Finish the queued items (``abort``: only the one in hand) and stop the thread.

        A signal while draining turns the close into an abort: the thread is stopped either way, so no
        writer thread outlives its render.
        """
        if self._closed:
            return
        try:
            if not abort:
                while self._thread.is_alive() and self._error is None:
                    interrupt.check()
                    try:
                        self._queue.put(_END, timeout=POLL_SECONDS)
                        break
                    except queue.Full:
                        continue
                while self._thread.is_alive():
                    interrupt.check()
                    self._thread.join(timeout=POLL_SECONDS)
        finally:
            self._stop.set()  # a no-op after a clean drain; otherwise the thread ends after the item in hand
            while self._thread.is_alive():
                self._thread.join(timeout=POLL_SECONDS)
            self._closed = True
        if not abort:
            self._raise_error()

    def __enter__(self) -> _Worker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """As an ExitStack member: drain on success, abort when unwinding an error or a signal."""
        self.close(abort=exc_type is not None)


SALIENCY_VIDEO_MAX_WIDTH = 720


def saliency_video_size(width: int, height: int) -> tuple[int, int]:
    """2:1, the panorama's width halved until it is at most 720 (3840 → 480, 5760 → 720, 960 → 480).

    It is a diagnostic view (where was the sound, where did the camera look). Exact halvings make its
    frames a chain of 2×2 means of the decoded planes, with no fractional resize: at 640 wide, a 4K
    source's saliency video cost a quarter of stock ffmpeg's whole fixed-view render
    (benchmarks/pipeline.py)."""
    w = max(width // 2, 4)
    while w > SALIENCY_VIDEO_MAX_WIDTH:
        w //= 2
    w -= w % 4
    return max(w, 4), max(w // 2, 2)


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
    input_path = Path(input_path)
    info = probe(input_path, options.audio_format, options.projection, options.stereo)
    require_equirectangular(info)
    require_audio(info)
    outdir = ensure_writable_dir(outdir)
    for line in info.notices:
        notify(f"note: {line}")
    if info.stereo != "mono":
        eye = "top" if info.stereo == "top-bottom" else "left"
        notify(f"stereo {info.stereo} ({info.stereo_source}): analysing and rendering the {eye} eye, "
               f"{info.pano_size[0]}×{info.pano_size[1]}")
    stem = input_path.stem
    nfov_path = outdir / f"{stem}.nfov.mp4"
    sal_path = outdir / f"{stem}.saliency.mp4" if options.saliency_video else None
    traj_path = outdir / f"{stem}.trajectory.json"

    ctx = run_context(info, options, notify)
    name, reason = resolve_localizer(ctx, options.localizer)
    notify(f"localizer {name}: {reason}")
    source = create_source(name, ctx, options.localizer_options)
    planner = create_planner(options.planner, ctx, options.planner_options)
    exporters = [EXPORTERS.create(kind, ctx) for kind in dict.fromkeys(options.exports)]
    prefix = outdir / stem
    # All outputs are written under hidden names and renamed together at the end; none may replace an
    # input or a file pano-pan did not write (checked now, before the long work).
    outputs = output_set([input_path, options.checkpoint], overwrite=options.overwrite)
    outputs.reserve(nfov_path, sal_path, traj_path,
                    *(prefix.with_name(prefix.name + sfx) for e in exporters for sfx in e.suffixes))
    with outputs:
        return _run(info, ctx, name, reason, source, planner, exporters, prefix, options, progress, notify)


def _run(info: MediaInfo, ctx: RunContext, name: str, reason: str, source: SaliencySource, planner: Planner,
         exporters: list, prefix: Path, options: RunOptions, progress: ProgressFactory,
         notify: Callable[[str], None]) -> RunResult:
    """The two passes and the writes, inside the run's output set."""
    timings: dict[str, float] = {}
    nfov_path = prefix.with_name(prefix.name + ".nfov.mp4")
    sal_path = prefix.with_name(prefix.name + ".saliency.mp4") if options.saliency_video else None
    traj_path = prefix.with_name(prefix.name + ".trajectory.json")
    t0 = time.perf_counter()
    times = info.frame_times()
    if len(times) == 0:
        raise InputError(f"{info.path}: the video stream has no frames; the file may be damaged")
    warn_if_short(info, len(times), notify)
    source.prepare(info)
    timings["prepare"] = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="pano-pan-") as tmp:
        store = _MapStore(Path(tmp)) if sal_path else None
        t1 = time.perf_counter()
        with progress("analysing", len(times)) as advance:
            for batch in frame_batches(info, source, times):
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
            cut=path.cut,
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
                times=times[:n],
            )
        finally:
            if maps_on_disk is not None:
                maps_on_disk.close()
        timings["render"] = time.perf_counter() - t3
    traj.save(traj_path)
    job = ExportJob(traj, prefix, planner.yaw_strip() if {"plot", "strip"} & set(options.exports) else None)
    extra = [path for exporter in exporters for path in exporter.write(job)]
    return RunResult(nfov_path, sal_path, traj_path, name, reason, n, info, timings, list(info.notices), extra)


def render_trajectory(
    input_path: str | Path | MediaInfo,
    trajectory: Trajectory,
    nfov_path: str | Path,
    size: tuple[int, int] | str | None = None,
    saliency_path: str | Path | None = None,
    saliency_maps: np.ndarray | _MapReader | None = None,
    progress: ProgressFactory | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    audio_mode: str = "auto",
    notify: Callable[[str], None] | None = None,
    origin: str = "trajectory",
    times: np.ndarray | None = None,
) -> Path:
    """Pass 2: decode once, render the view of each trajectory sample, with the sound (see NFOV_AUDIO).

    Each frame shows the sample nearest its presentation time (the contract matches by ``t``), and is
    written with that same time, so the video matches its trajectory and its sound even for variable
    frame rate or a late-starting stream. A trajectory that does not cover the video is refused.
    With ``saliency_path`` the overlay video is written from the same decoded frames (maps optional:
    without them only the view is drawn). ``times`` are the frames' times if the caller has them.
    """
    info = input_path if isinstance(input_path, MediaInfo) else probe(input_path)
    require_equirectangular(info)
    progress = progress or _no_progress
    notify = notify or (lambda _m: None)
    n = len(trajectory)
    if n == 0:
        raise InputError(f"{info.path}: the trajectory is empty")
    validate_views(trajectory, origin)
    times = info.frame_times() if times is None else times
    if len(times) == 0:
        raise InputError(f"{info.path}: the video stream has no frames; the file may be damaged")
    _check_coverage(trajectory, times, info, origin, notify)
    sample_of_frame, _ = nearest_samples(trajectory.t, times)
    step = 1.0 / info.fps
    hfov0, vfov0 = float(trajectory.hfov[0]), float(trajectory.vfov[0])
    pano_w, pano_h = info.pano_size
    out_w, out_h = output_geometry(pano_w, hfov0, vfov0, size, src_height=pano_h).size
    renderers: dict[tuple[float, float], NFOVRenderer] = {}

    def renderer(hf: float, vf: float) -> NFOVRenderer:
        key = (round(hf, 3), round(vf, 3))
        if key not in renderers:
            if len(renderers) >= 4:  # each holds full-size lookups (~15 MB at 720p): a zoom makes many
                renderers.clear()
            renderers[key] = NFOVRenderer(pano_w, pano_h, out_w, out_h, hf, vf)
        return renderers[key]

    if audio_mode not in NFOV_AUDIO:
        raise OptionError(f"--nfov-audio {audio_mode!r}: choose from {', '.join(NFOV_AUDIO)}")
    if audio_mode == "view" and not info.is_foa:
        raise InputError(
            f"{info.path}: --nfov-audio view needs first-order ambisonic audio; use --nfov-audio keep"
        )
    view_audio = info.has_audio and info.is_foa and audio_mode in ("auto", "view")
    audio = info.path if info.has_audio and not view_audio else None
    by_time = np.argsort(trajectory.t, kind="stable")
    stereo = (view_stereo_chunks(info, trajectory.t[by_time], trajectory.yaw[by_time], VIEW_AUDIO_RATE)
              if view_audio else None)
    sal_w, sal_h = saliency_video_size(pano_w, pano_h)
    full_range = 2 if info.pix_fmt.startswith("yuvj") else None  # the planes pass through: keep their range
    decoded = 0
    with contextlib.ExitStack() as stack:
        # Entered first, left last: while threads run, a signal waits for a safe point (common.interrupt),
        # and one that comes while the writers finish is raised after they have closed.
        stack.enter_context(interrupt.deferred())
        nfov = stack.enter_context(
            VideoWriter(nfov_path, out_w, out_h, info.fps, audio_from=audio, crf=crf, preset=preset,
                        audio_stream=(2, VIEW_AUDIO_RATE) if stereo is not None else None, color_range=full_range)
        )
        sal = None
        if saliency_path is not None:
            # An equirectangular panorama: declared as one, so 360° players show it as 360°.
            sal_writer = stack.enter_context(
                VideoWriter(saliency_path, sal_w, sal_h, info.fps, audio_from=None, crf=crf + 3, preset="ultrafast",
                            threads=1, boxes=MetadataBoxes(equirectangular=True))
            )
            sal = stack.enter_context(_Worker(lambda args: sal_writer.write(draw_saliency_frame(*args[0]), args[1])))

        def encode_view(item: tuple[np.ndarray, float]) -> None:
            view, t = item
            nfov.write_yuv(view, t)
            if stereo is not None:
                _feed_audio(nfov, stereo, until=t + 0.5)

        nfov_worker = stack.enter_context(_Worker(encode_view))
        advance = stack.enter_context(progress("rendering", len(times)))
        for index, t, (planes, shift) in info.yuv_frames():
            interrupt.check()
            slot = min(int(np.searchsorted(times, t - 0.5 * step)), len(times) - 1)  # this frame in times
            known = abs(times[slot] - t) < 0.5 * step
            i = int(sample_of_frame[slot]) if known else int(nearest_samples(trajectory.t, [t])[0][0])
            yaw, pitch, roll = float(trajectory.yaw[i]), float(trajectory.pitch[i]), float(trajectory.roll[i])
            hf, vf = float(trajectory.hfov[i]), float(trajectory.vfov[i])
            view, *out_planes = yuv_buffer(out_w, out_h)
            renderer(hf, vf).render_yuv(planes, shift, yaw, pitch, roll, out_planes)
            nfov_worker.put((view, t))
            if sal is not None:
                small = planes_to_rgb(planes, shift, sal_w, sal_h)
                smap = None
                if saliency_maps is not None and len(saliency_maps):
                    smap = np.asarray(saliency_maps[min(index, len(saliency_maps) - 1)], dtype=np.float32)
                conf = float(trajectory.confidence[i])
                sal.put(((small, smap, conf, yaw, pitch, hf, vf), t))
            decoded += 1
            advance(1)
        nfov_worker.close()  # every view encoded before the rest of the sound is written
        if stereo is not None:
            _feed_audio(nfov, stereo, until=None)
    warn_if_short(info, decoded, notify)
    return Path(nfov_path)


def _check_coverage(traj: Trajectory, times: np.ndarray, info: MediaInfo, origin: str,
                    notify: Callable[[str], None]) -> None:
    """Refuse a trajectory whose samples do not reach the video's first or last frame; warn about one
    that runs past the video or lists its samples out of time order."""
    step = 1.0 / info.fps if info.fps > 0 else 1 / 30
    tol = 1.5 * step
    t0, t1 = float(np.min(traj.t)), float(np.max(traj.t))
    v0, v1 = float(times[0]), float(times[-1])
    if t0 > v0 + tol or t1 < v1 - tol:
        raise InputError(
            f"{origin}: the trajectory covers {t0:.2f}–{t1:.2f} s but {info.path.name} runs {v0:.2f}–{v1:.2f} s; "
            "pass the trajectory made for this video (pano-pan run writes one), with a sample for every frame"
        )
    if t1 > v1 + tol or t0 < v0 - tol:
        notify(
            f"warning: {origin}: the trajectory runs {t0:.2f}–{t1:.2f} s, beyond the video's {v0:.2f}–{v1:.2f} s; "
            "only the samples inside the video are used (is it from another video?)"
        )
    if np.any(np.diff(traj.t) < 0):
        notify(f"warning: {origin}: the samples are not in time order; each frame uses the sample nearest its time")
    _, gap = nearest_samples(traj.t, times)
    if float(gap.max()) > tol:
        notify(
            f"warning: {origin}: {int(np.sum(gap > tol))} frame(s) have no sample within a frame of their time; "
            "they use the nearest sample"
        )


def warn_if_short(info: MediaInfo, frames: int, notify: Callable[[str], None]) -> None:
    """One line when the file held fewer frames than its header announced (a truncated download)."""
    expected = int(info.frame_count or 0)
    if expected and frames < expected - max(2, 0.01 * expected):
        notify(
            f"warning: {info.path.name} ends early: processed {frames} of the {expected} frames its header "
            f"announces ({frames / info.fps:.1f} of {info.duration:.1f} s); the file may be truncated"
        )


VIEW_AUDIO_RATE = 48000


def _feed_audio(writer: VideoWriter, chunks: Iterator[np.ndarray], until: float | None) -> None:
    """Write generated audio up to ``until`` seconds (all of it for None), keeping A/V interleaved."""
    while until is None or writer.audio_time < until:
        chunk = next(chunks, None)
        if chunk is None:
            return
        writer.write_audio(chunk)
