"""Pass 2: a trajectory rendered into the NFOV video (with its sound) and the saliency video.

One decode of the source feeds both: the NFOV view straight from the decoder's YUV planes, the
saliency overlay (at most 15 frames a second) from a small copy of them on a second thread.
``pano-pan run``, ``pano-pan render`` and the viewer's Render all render through :func:`render_trajectory`.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from common import interrupt
from common.atomic import OutputSet
from common.errors import InputError, OptionError
from common.files import require_regular_file
from common.memory import release_free_memory
from common.outputs import ensure_writable_dir, output_set
from common.progress import ProgressFactory, no_progress
from common.worker import Worker
from pano.media.audio import segment_chunks
from pano.media.boxes import MetadataBoxes
from pano.media.codecs import Encoding
from pano.media.probe import MediaInfo, probe, require_equirectangular
from pano.media.video import look_due, planes_to_rgb
from pano.media.writer import VideoWriter, yuv_buffer
from pano.paths.trajectory import Trajectory, nearest_samples, validate_views
from pano.rendering import NFOV_AUDIO
from pano.rendering.maps import MapReader
from pano.rendering.nfov import NFOVRenderer
from pano.rendering.overlay import draw_saliency_frame
from pano.rendering.view_audio import VIEW_AUDIO_RATE, segment_stereo_chunks
from pano.sphere.geometry import vertical_fov
from pano.sphere.views import output_geometry

# auto: "view" for FOA sources, else "keep"; keep: the source's track as it is (stream copy when MP4
# can hold it); view: stereo from the FOA track, turned with the camera (pano.rendering.view_audio).
# binaural: for headphones, the FOA field turned to the view and rendered with measured KEMAR HRTFs
# (pano.rendering.binaural). auto stays "view": the flat video plays on speakers as often as on
# headphones, and binaural sound on speakers is coloured and loses its width, while the stereo decode
# works on both.



SALIENCY_VIDEO_MAX_WIDTH = 720
SALIENCY_CRF = 23  # a diagnostic: smaller than the NFOV video's quality
# A diagnostic shows where the sound was and where the camera looked; 15 frames a second show that as
# well as 30 or 60, and each frame costs a shrink of the full-size planes, the overlay and an encode
# (at 4K about 1.2 CPU s per 10 s of 30 fps video, a fifth of stock ffmpeg's whole fixed-view render).
SALIENCY_MAX_FPS = 15.0


def reserve_render(input_path: str | Path, traj_path: str | Path, output: str | Path,
                   overwrite: bool = False) -> tuple[Trajectory, OutputSet]:
    """The checks ``pano-pan render`` makes before any work, for the CLI and the viewer's Render alike.

    The input must be a file and the trajectory must load; the output may replace neither of them, nor
    a file pano-pan did not write (without ``overwrite``), and its folder must be writable. Returns the
    trajectory and the :class:`OutputSet` to render inside (``with outputs: render_trajectory(...)``).
    """
    input_path, traj_path, output = Path(input_path), Path(traj_path), Path(output)
    require_regular_file(input_path, "video file")
    traj = Trajectory.load(traj_path)
    outputs = output_set([input_path, traj_path], overwrite=overwrite)
    outputs.reserve(output)
    ensure_writable_dir(output.parent if str(output.parent) else Path("."))
    return traj, outputs


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


def saliency_video_rate(fps: float) -> float:
    """The saliency video's frame rate: the source's, or a whole fraction of it at most 15 fps (30 → 15,
    25 → 12.5, 60 → 15). The frames it shows are the first at least 1/15 s after the last one shown
    (``pano.media.video.look_due``), which for a constant rate is every ``ceil(fps / 15)``-th frame."""
    return fps / max(1, math.ceil(fps / SALIENCY_MAX_FPS - 1e-6)) if fps > 0 else fps


def render_trajectory(
    input_path: str | Path | MediaInfo,
    trajectory: Trajectory,
    nfov_path: str | Path,
    size: tuple[int, int] | str | None = None,
    saliency_path: str | Path | None = None,
    saliency_maps: np.ndarray | MapReader | None = None,
    progress: ProgressFactory | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    audio_mode: str = "auto",
    notify: Callable[[str], None] | None = None,
    origin: str = "trajectory",
    times: np.ndarray | None = None,
    encoding: Encoding | None = None,
    segment: tuple[float, float | None] | None = None,
) -> Path:
    """Pass 2: decode once, render the view of each trajectory sample, with the sound (see NFOV_AUDIO).

    Each frame shows the sample nearest its presentation time (the contract matches by ``t``), and is
    written with that same time, so the video matches its trajectory and its sound even for variable
    frame rate or a late-starting stream. A trajectory that does not cover the video is refused.
    With ``saliency_path`` the overlay video is written from the same decoded frames (maps optional:
    without them only the view is drawn). ``times`` are the frames' times if the caller has them.
    ``encoding`` is the NFOV video's codec (``pano.media.codecs``; default H.264 at ``crf``/``preset``).
    ``segment`` (start, end) renders only those seconds of the file (default: the segment the
    trajectory records, if any); the video then starts at 0 while the trajectory keeps the file's clock.
    """
    info = input_path if isinstance(input_path, MediaInfo) else probe(input_path)
    require_equirectangular(info)
    if segment is None and trajectory.source.get("segment"):
        segment = tuple(trajectory.source["segment"])
    if segment is not None and info.segment is None:
        info = info.with_segment(segment[0], segment[1])
        times = None
    offset = info.segment[0] if info.segment else 0.0
    progress = progress or no_progress
    notify = notify or (lambda _m: None)
    n = len(trajectory)
    if n == 0:
        raise InputError(f"{info.path}: the trajectory is empty")
    validate_views(trajectory, origin)
    times = info.frame_times() if times is None else times
    if len(times) == 0:
        raise InputError(f"{info.path}: the video stream has no frames; the file may be damaged")
    _check_coverage(trajectory, times, info, origin, notify)
    samples = _SampleOfFrame(trajectory, times, info.fps)
    pano_w, pano_h = info.pano_size
    out_w, out_h = output_geometry(pano_w, float(trajectory.hfov[0]), float(trajectory.vfov[0]), size,
                                   src_height=pano_h).size
    trajectory = _fit_aspect(trajectory, out_w, out_h, notify)
    renderer = _Renderers(pano_w, pano_h, out_w, out_h)
    sound = _sound_kind(info, audio_mode)
    sal_w, sal_h = saliency_video_size(pano_w, pano_h)
    full_range = 2 if info.pix_fmt.startswith("yuvj") else None  # the planes pass through: keep their range
    decoded = 0
    # The checks and the frame-to-sample map above made whole-length temporaries (tens of bytes a frame);
    # freed in this thread's heap they would stay resident under the render's threads, which cannot reuse them.
    release_free_memory()
    with contextlib.ExitStack() as stack:
        # Entered first, left last: while threads run, a signal waits for a safe point (common.interrupt),
        # and one that comes while the writers finish is raised after they have closed.
        stack.enter_context(interrupt.deferred())
        # The picture and a sound made from the track are read from one open container; left after the
        # writers and their threads, which read from it.
        info = stack.enter_context(info.reading_together(video=True, audio=sound in ("binaural", "view", "segment")))
        audio, stereo, stream = _nfov_sound(info, trajectory, sound)
        nfov = stack.enter_context(
            VideoWriter(nfov_path, out_w, out_h, info.fps, audio_from=audio, crf=crf, preset=preset,
                        audio_stream=stream, color_range=full_range, encoding=encoding,
                        downmix=2 if info.audio_format == "mono" and info.audio_channels > 2 else None)
        )
        sal = None
        if saliency_path is not None:
            # An equirectangular panorama: declared as one, so 360° players show it as 360°.
            sal_writer = stack.enter_context(
                VideoWriter(saliency_path, sal_w, sal_h, saliency_video_rate(info.fps), audio_from=None,
                            crf=SALIENCY_CRF, preset="ultrafast", threads=1, boxes=MetadataBoxes(equirectangular=True))
            )
            # OpenCV's RGB → I420 (the inverse of planes_to_rgb's) costs a tenth of swscale's rgb24 path.
            sal = stack.enter_context(Worker(lambda args: sal_writer.write_yuv(
                cv2.cvtColor(draw_saliency_frame(*args[0]), cv2.COLOR_RGB2YUV_I420), args[1])))
        sal_last = -math.inf  # the time of the last frame the saliency video showed
        # Left after the threads and before the writers: the pages the threads freed go back to the system
        # before each writer gathers its file's sample tables (common.memory).
        stack.callback(release_free_memory)

        def encode_view(item: tuple[np.ndarray, float]) -> None:
            view, t = item
            nfov.write_yuv(view, t - offset)
            if stereo is not None:
                _feed_audio(nfov, stereo, until=t - offset + 0.5)

        nfov_worker = stack.enter_context(Worker(encode_view))
        advance = stack.enter_context(progress("rendering", len(times)))
        for index, t, (planes, shift) in info.yuv_frames():
            interrupt.check()
            i = samples(t)
            yaw, pitch, roll = float(trajectory.yaw[i]), float(trajectory.pitch[i]), float(trajectory.roll[i])
            hf, vf = float(trajectory.hfov[i]), float(trajectory.vfov[i])
            view, *out_planes = yuv_buffer(out_w, out_h)
            if planes[0].shape[:2] != (pano_h, pano_w):  # a stream that changes size, or a file replaced mid-run
                raise InputError(f"{info.path}: frame {index} is {planes[0].shape[1]}×{planes[0].shape[0]} but the "
                                 f"video said {pano_w}×{pano_h}; the frame size changes inside the file or the file "
                                 "changed while it was read; re-encode it to one size and leave it alone during a run")
            renderer(hf, vf).render_yuv(planes, shift, yaw, pitch, roll, out_planes)
            nfov_worker.put((view, t))
            if sal is not None and look_due(t, sal_last, 1.0 / SALIENCY_MAX_FPS):
                sal_last = t
                small = planes_to_rgb(planes, shift, sal_w, sal_h)
                smap = None
                if saliency_maps is not None and len(saliency_maps):
                    smap = np.asarray(saliency_maps[min(index, len(saliency_maps) - 1)], dtype=np.float32)
                conf = float(trajectory.confidence[i])
                sal.put(((small, smap, conf, yaw, pitch, hf, vf), t - offset))
            decoded += 1
            advance(1)
        nfov_worker.close()  # every view encoded before the rest of the sound is written
        if stereo is not None:
            _feed_audio(nfov, stereo, until=None)
    warn_if_short(info, decoded, notify)
    return Path(nfov_path)


def _fit_aspect(trajectory: Trajectory, out_w: int, out_h: int, notify: Callable[[str], None]) -> Trajectory:
    """The path with its vertical fov following the output's aspect, when a given size changes it.

    A view of ``hfov × vfov`` drawn into pixels of another aspect is stretched (a ball becomes an
    ellipse); ``pano-pan run --size`` derives the vertical fov from the size, and so does this.
    """
    views = np.tan(np.radians(trajectory.hfov) / 2) / np.tan(np.radians(trajectory.vfov) / 2)
    if np.allclose(views, out_w / out_h, rtol=0.01):
        return trajectory
    fitted = copy.copy(trajectory)
    fitted.vfov = np.array([vertical_fov(float(h), out_w, out_h) for h in trajectory.hfov])
    notify(f"the path's views are {float(views[0]):.3g}:1 and the output {out_w}x{out_h} is {out_w / out_h:.3g}:1; "
           "the vertical field of view follows the output (the horizontal one is kept), so nothing is stretched")
    return fitted


class _SampleOfFrame:
    """The trajectory sample each decoded frame shows: the one nearest its presentation time."""

    def __init__(self, trajectory: Trajectory, times: np.ndarray, fps: float) -> None:
        self.trajectory, self.times, self.step = trajectory, times, 1.0 / fps
        self.sample_of_frame, _ = nearest_samples(trajectory.t, times)
        if len(trajectory) < 2**31:  # held through the render: 4 bytes a frame, not 8
            self.sample_of_frame = self.sample_of_frame.astype(np.int32)

    def __call__(self, t: float) -> int:
        times = self.times
        slot = min(int(np.searchsorted(times, t - 0.5 * self.step)), len(times) - 1)  # this frame in times
        if abs(times[slot] - t) < 0.5 * self.step:
            return int(self.sample_of_frame[slot])
        return int(nearest_samples(self.trajectory.t, [t])[0][0])  # a frame the time list did not have


class _Renderers:
    """One NFOV renderer per field of view in use, a few kept (each holds full-size lookups, ~15 MB at
    720p, and a zoom passes through many fields of view)."""

    KEEP = 4

    def __init__(self, pano_w: int, pano_h: int, out_w: int, out_h: int) -> None:
        self.sizes = (pano_w, pano_h, out_w, out_h)
        self._cache: dict[tuple[float, float], NFOVRenderer] = {}

    def __call__(self, hf: float, vf: float) -> NFOVRenderer:
        key = (round(hf, 3), round(vf, 3))
        if key not in self._cache:
            if len(self._cache) >= self.KEEP:
                self._cache.clear()
            self._cache[key] = NFOVRenderer(*self.sizes, hf, vf)
        return self._cache[key]


def _sound_kind(info: MediaInfo, audio_mode: str) -> str:
    """How the NFOV video gets its sound under ``audio_mode`` (NFOV_AUDIO): "binaural", "view" (both
    made from the FOA track), "segment" (a segment's part of the source track, decoded: a stream copy
    cannot start mid-packet), "copy" (the source's track as it is) or "none"."""
    if audio_mode not in NFOV_AUDIO:
        raise OptionError(f"--nfov-audio {audio_mode!r}: choose from {', '.join(NFOV_AUDIO)}")
    if audio_mode in ("view", "binaural") and not info.is_foa:
        raise InputError(
            f"{info.path}: --nfov-audio {audio_mode} needs first-order ambisonic audio; use --nfov-audio keep"
        )
    if not info.has_audio:
        return "none"
    if audio_mode == "binaural":
        return "binaural"
    if info.is_foa and audio_mode in ("auto", "view"):
        return "view"
    return "segment" if info.segment is not None else "copy"


def _nfov_sound(info: MediaInfo, trajectory: Trajectory,
                kind: str) -> tuple[Path | None, Iterator | None, tuple[int, int] | None]:
    """The NFOV video's sound of ``kind`` (:func:`_sound_kind`): the file whose track is copied, or
    generated chunks with their (channels, rate); else nothing."""
    if kind == "binaural":
        from pano.rendering.binaural import binaural_chunks  # SciPy's signal and spatial: only when asked

        t, yaw, pitch = _in_time_order(trajectory.t, trajectory.yaw, trajectory.pitch)
        ears = binaural_chunks(info, t, yaw, pitch, VIEW_AUDIO_RATE)
        return None, segment_chunks(ears, VIEW_AUDIO_RATE, info.segment), (2, VIEW_AUDIO_RATE)
    if kind == "segment":
        rate = info.audio_sample_rate or VIEW_AUDIO_RATE
        chunks = segment_chunks(info.audio_chunks(rate, channels=None), rate, info.segment)
        return None, chunks, (info.audio_channels, rate)
    if kind != "view":
        return (info.path if kind == "copy" else None), None, None
    t, yaw = _in_time_order(trajectory.t, trajectory.yaw)
    chunks = segment_stereo_chunks(info, t, yaw, VIEW_AUDIO_RATE)
    return None, chunks, (2, VIEW_AUDIO_RATE)


def _in_time_order(t: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """``t`` and ``columns`` sorted by time; the arrays themselves when already in order (pano-pan's own
    paths always are), not copies held through the whole render."""
    if len(t) < 2 or bool(np.all(t[1:] >= t[:-1])):
        return (t, *columns)
    by_time = np.argsort(t, kind="stable")
    return tuple(a[by_time] for a in (t, *columns))


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
    if info.segment is not None:  # a segment is as long as it is
        return
    if expected and frames < expected - max(2, 0.01 * expected):
        notify(
            f"warning: {info.path.name} ends early: processed {frames} of the {expected} frames its header "
            f"announces ({frames / info.fps:.1f} of {info.duration:.1f} s); the file may be truncated"
        )



def _feed_audio(writer: VideoWriter, chunks: Iterator[np.ndarray], until: float | None) -> None:
    """Write generated audio up to ``until`` seconds (all of it for None), keeping A/V interleaved."""
    while until is None or writer.audio_time < until:
        chunk = next(chunks, None)
        if chunk is None:
            return
        writer.write_audio(chunk)
