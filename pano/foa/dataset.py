"""FOA 360° videos as training data for the sound localizer: the ambisonic track plays the annotator.

Every first-order ambisonic recording says where its sound comes from. This dataset samples frames
from each FOA video in a folder and pairs them with what a mono listener hears (the omni W channel,
as the ``network`` localizer hears mono and FOA inputs alike) and with the ``ambisonic`` saliency map at
that frame as the attention target. Frames whose ambisonic confidence is below ``min_confidence``
(silence, diffuse sound) carry no supervised target (``has_gt`` False): in ``--mode semi`` they count
only for the unsupervised loss, the paper's semi-supervised setup with FOA in place of annotators.

Projection: the frame is kept equirectangular, ``image_size/2 × image_size`` (so the default 320 gives
the 160×320 frames the ``network`` localizer runs on), and the map is resampled onto the same grid.
Training sees exactly what inference sees (the whole panorama, the same resampling).

Augmentations (``FoaAugment``, on every read in training; a few real clips must look like many):

* **yaw**: the camera and the sound field turned together: the frame rolled by a random number of
  columns and the target map with it. The map is the ``ambisonic`` map of the FOA turned by the same
  yaw (``pano.sphere.ambisonics.rotate_foa_yaw`` rotates X and Y), so the label stays on the source;
  this keeps the network from learning where sources happened to be in the training videos.
* **flip**: left and right swapped: frame and map flipped horizontally, the FOA's Y negated
  (``mirror_foa``), W (what the network hears) unchanged.
* **colour**: brightness, contrast, saturation and a small per-channel gain drawn afresh (cameras and
  light differ between clips, sound sources do not care).
* **time crop**: a random 60–100 % stretch of the sampled sound window, tiled back to its length (so
  the sound statistics, not the zero padding, fill it); off when SoundNet's features are cached per
  sample (``--freeze-sound``), where a crop would be computed once and then reused.

The video is never decoded into memory: one streaming pass per video (frames downsized in swscale,
audio read as sliding windows) writes the sampled frames, W windows, target maps and confidences to
a cache folder (``<cache>/<key>/*.npy``, renamed into place when complete), and later epochs and later
runs read them back memory-mapped. The key covers the file (resolved path, size, mtime) and every
sampling setting, so editing a video or changing a setting rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from common.atomic import owned_mkdtemp
from common.errors import InputError, UserError

CACHE_VERSION = 1
DEFAULT_AUDIO_SECONDS = 1.0
_BATCH = 32  # sampled frames per streaming step (bounds the audio windows held at once)


@dataclass(frozen=True)
class FoaAugment:
    """Which augmentations training reads samples with (module docstring); ``none()`` for evaluation."""

    yaw: bool = True
    flip: bool = True
    colour: bool = True
    time_crop: bool = True

    @classmethod
    def none(cls) -> FoaAugment:
        return cls(False, False, False, False)

    @property
    def any(self) -> bool:
        return self.yaw or self.flip or self.colour or self.time_crop


def turn_sample(rgb: np.ndarray, target: np.ndarray | None, degrees: float, flip: bool = False):
    """Frame (H, W, 3) and target map (H, W) as seen by a camera turned by ``degrees`` of yaw (a source at
    ψ is then at ψ + degrees, as ``rotate_foa_yaw`` turns the sound), then mirrored when ``flip`` (ψ → −ψ,
    as ``mirror_foa``). ``degrees`` is rounded to whole columns of the frame."""
    shift = int(round(degrees / 360.0 * rgb.shape[1]))
    rgb = np.roll(rgb, shift, axis=1)
    target = None if target is None else np.roll(target, shift, axis=1)
    if flip:
        rgb = rgb[:, ::-1]
        target = None if target is None else target[:, ::-1]
    return np.ascontiguousarray(rgb), None if target is None else np.ascontiguousarray(target)


def jitter_colour(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` (uint8) with random brightness, contrast and saturation (×0.7–1.3) and channel gains (±5 %)."""
    img = rgb.astype(np.float32)
    img *= rng.uniform(0.7, 1.3)
    mean = img.mean()
    img = (img - mean) * rng.uniform(0.7, 1.3) + mean
    grey = img.mean(axis=2, keepdims=True)
    img = (img - grey) * rng.uniform(0.7, 1.3) + grey
    img *= rng.uniform(0.95, 1.05, 3)[None, None, :]
    return np.clip(img, 0, 255).astype(np.uint8)


def crop_time(wave: np.ndarray, rng: np.random.Generator, low: float = 0.6) -> np.ndarray:
    """A random ``low``–100 % stretch of ``wave``, tiled back to its length."""
    n = len(wave)
    k = max(1, int(round(n * rng.uniform(low, 1.0))))
    start = int(rng.integers(0, n - k + 1))
    return np.resize(wave[start:start + k], n)


@dataclass(frozen=True)
class FoaSampling:
    """How frames and targets are taken from each video (all of it goes into the cache key).

    ``image_size`` is the equirectangular frame's width (height = width / 2); ``frames_per_second``
    sampled frames per second of video, at jittered times (``seed``); ``audio_seconds`` of the W channel
    centred on each frame, at ``sample_rate`` (the model's); ``min_confidence`` the ambisonic confidence
    from which a frame carries a supervised target.
    """

    image_size: int = 320
    sample_rate: int = 22050
    audio_seconds: float = DEFAULT_AUDIO_SECONDS
    frames_per_second: float = 2.0
    min_confidence: float = 0.5
    seed: int = 0

    def check(self) -> None:
        if self.image_size < 32 or self.image_size % 2:
            raise UserError(f"--image-size {self.image_size}: FOA frames need an even width >= 32")
        if not 0.01 <= self.frames_per_second <= 120:
            raise UserError(f"frames per second {self.frames_per_second}: use 0.01-120")
        if not 0 < self.audio_seconds <= 60:
            raise UserError(f"--audio-seconds {self.audio_seconds}: use a value in (0, 60]")
        if not 0 <= self.min_confidence <= 1:
            raise UserError(f"minimum confidence {self.min_confidence}: use a value in [0, 1]")

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.image_size // 2, self.image_size


def find_foa_videos(root: str | Path, notify: Callable[[str], None] | None = None) -> list:
    """``MediaInfo`` of every 360° video with FOA under ``root`` (sorted by path); others are skipped
    with a note, and a folder with none is refused."""
    from pano.media.probe import probe
    from soundloc.data.videos import VIDEO_EXTS

    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; pass a folder of 360° videos with FOA sound")
    notify = notify or (lambda _m: None)
    found = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    for path in files:
        try:
            info = probe(path)
        except UserError as exc:
            notify(f"skipping {path}: {exc}")
            continue
        if not info.is_foa or not info.is_equirectangular:
            why = "no FOA audio" if not info.is_foa else "not equirectangular"
            notify(f"skipping {path}: {why}")
            continue
        found.append(info)
    if not found:
        raise UserError(f"{root}: no 360° video with first-order ambisonic (FOA) sound in "
                        f"{'/'.join(VIDEO_EXTS)} files; `pano-pan inspect FILE` says what a file holds")
    return found


def _cache_key(info, sampling: FoaSampling) -> str:
    st = info.path.stat()
    blob = json.dumps({"v": CACHE_VERSION, "path": str(info.path.resolve()), "size": st.st_size,
                       "mtime": st.st_mtime_ns, "format": info.audio_format, **asdict(sampling)}, sort_keys=True)
    return f"{info.path.stem[:40]}-{hashlib.sha1(blob.encode()).hexdigest()[:16]}"


def sample_frames(times: np.ndarray, fps: float, sampling: FoaSampling) -> np.ndarray:
    """Indices of the frames to sample: one per ``1/frames_per_second`` slot, at a seeded time in it."""
    if len(times) == 0:
        return np.zeros(0, np.int64)
    duration = float(times[-1]) + 1.0 / max(fps, 1e-6)
    slots = max(1, int(duration * sampling.frames_per_second))
    rng = np.random.default_rng(sampling.seed)
    wanted = (np.arange(slots) + rng.uniform(0.0, 1.0, slots)) * duration / slots
    idx = np.clip(np.searchsorted(times, wanted), 0, len(times) - 1)
    return np.unique(idx)


def _streamed(info, sampling: FoaSampling, picks: np.ndarray, times: np.ndarray) -> Iterator[dict]:
    """Sampled frames with their W windows, ambisonic maps and confidences, in batches, in one pass."""
    from pano.localizers.base import FrameBatch, create_localizer
    from pano.media.audio import AudioWindows
    from pano.media.video import iter_frames
    from pano.run.context import RunContext

    foa = create_localizer("ambisonic", RunContext.for_media(info))
    foa.prepare(info)
    spec = foa.audio_spec
    foa_windows = AudioWindows(info, "foa", spec.sample_rate, spec.window)
    w_windows = AudioWindows(info, "mono", sampling.sample_rate, sampling.audio_seconds)  # W for FOA
    wanted = set(int(i) for i in picks)
    idx_buf: list[int] = []
    frame_buf: list[np.ndarray] = []

    def flush() -> dict:
        idx = np.asarray(idx_buf, np.int64)
        ts = times[idx]
        res = foa.process(FrameBatch(idx, ts, audio=foa_windows.windows(ts)))
        return {"frames": np.stack(frame_buf), "audio": w_windows.windows(ts)[:, 0].astype(np.float16),
                "maps": res.maps.astype(np.float16), "confidence": res.confidence.astype(np.float32),
                "times": ts.astype(np.float64)}

    last = int(picks[-1]) if len(picks) else -1
    for index, _t, rgb in iter_frames(info.path, size=sampling.frame_size):
        if index > last:
            break
        if index in wanted:
            idx_buf.append(index)
            frame_buf.append(rgb)
            if len(idx_buf) == _BATCH:
                yield flush()
                idx_buf, frame_buf = [], []
    if idx_buf:
        yield flush()


def build_cache(info, sampling: FoaSampling, cache_dir: Path) -> Path:
    """The cache folder of one video, written by a streaming pass unless a complete one is there."""
    final = cache_dir / _cache_key(info, sampling)
    if (final / "done.json").is_file():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    times = info.frame_times()
    if len(times) == 0:
        raise InputError(f"{info.path}: the video stream has no frames; the file may be damaged")
    picks = sample_frames(times, info.fps, sampling)
    tmp = owned_mkdtemp(".partial-", cache_dir)  # a killed run's is removed by the next one
    try:
        parts = list(_write_parts(_streamed(info, sampling, picks, times), tmp))
        n = sum(parts)
        (tmp / "done.json").write_text(json.dumps({"video": str(info.path), "samples": n,
                                                   "sampling": asdict(sampling)}))
        if final.exists():  # a concurrent run finished first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_parts(batches: Iterator[dict], folder: Path) -> Iterator[int]:
    """Appends each batch to raw per-field files and converts them to ``.npy`` at the end, so no more
    than one batch is ever in memory."""
    handles: dict[str, tuple] = {}
    try:
        for b in batches:
            for key, arr in b.items():
                if key not in handles:
                    handles[key] = (open(folder / f"{key}.raw", "wb"), arr.dtype, arr.shape[1:])  # noqa: SIM115
                handles[key][0].write(np.ascontiguousarray(arr).tobytes())
            yield len(b["times"])
    finally:
        for fh, _dtype, _shape in handles.values():
            fh.close()
    for key, (_fh, dtype, shape) in handles.items():
        raw = np.memmap(folder / f"{key}.raw", dtype=dtype, mode="r")
        arr = raw.reshape((-1, *shape))
        out = np.lib.format.open_memmap(folder / f"{key}.npy", mode="w+", dtype=dtype, shape=arr.shape)
        out[:] = arr
        out.flush()
        del out, raw, arr
        (folder / f"{key}.raw").unlink()


CACHE_FIELDS = ("frames", "audio", "maps", "confidence", "times")


def _open_cache(folder: Path) -> dict[str, np.ndarray]:
    """The memory-mapped fields of a cache entry; ValueError when one is missing, cut short or disagrees
    with ``done.json`` on the sample count (a disk filled or a file edited after the entry was made)."""
    try:
        samples = int(json.loads((folder / "done.json").read_text())["samples"])
        part = {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in CACHE_FIELDS}
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
    wrong = [k for k, arr in part.items() if len(arr) != samples]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} do not hold the {samples} samples of done.json")
    return part


class FoaVideoDataset(Dataset):
    """Frame / W-channel / FOA-target samples from every FOA 360° video under ``root`` (module docstring).

    ``augment`` (a ``FoaAugment``; True: all of them, False: none) changes each sample on every read
    (training); evaluation leaves it off. ``cache_dir`` defaults to ``ROOT/.pano-pan-cache``.
    """

    def __init__(self, root: str | Path, sampling: FoaSampling | None = None, cache_dir: str | Path | None = None,
                 augment: bool | FoaAugment = True, notify: Callable[[str], None] | None = None) -> None:
        self.sampling = sampling or FoaSampling()
        self.sampling.check()
        self.root = Path(root)
        self.videos = find_foa_videos(self.root, notify)
        cache = Path(cache_dir) if cache_dir is not None else self.root / ".pano-pan-cache"
        notify = notify or (lambda _m: None)
        self.parts: list[dict[str, np.ndarray]] = []
        for info in self.videos:
            folder = cache / _cache_key(info, self.sampling)
            if not (folder / "done.json").is_file():
                notify(f"sampling {info.path.name} into {cache}")
            folder = build_cache(info, self.sampling, cache)
            try:
                part = _open_cache(folder)
            except ValueError as exc:  # truncated or edited since it was written: rebuilt, and said
                notify(f"cache entry {folder} is damaged ({exc}); rebuilding it")
                shutil.rmtree(folder, ignore_errors=True)
                part = _open_cache(build_cache(info, self.sampling, cache))
            self.parts.append(part)
        sizes = [len(p["times"]) for p in self.parts]
        self._starts = np.cumsum([0, *sizes])
        self.augment = augment if isinstance(augment, FoaAugment) else (FoaAugment() if augment else FoaAugment.none())
        self.audio_samples = int(round(self.sampling.audio_seconds * self.sampling.sample_rate))

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        v = int(np.searchsorted(self._starts, index, side="right") - 1)
        return v, index - int(self._starts[v])

    def confidence(self) -> np.ndarray:
        """Ambisonic confidence of every sample, in index order."""
        return np.concatenate([np.asarray(p["confidence"], np.float32) for p in self.parts])

    def annotated_indices(self) -> list[int]:
        """Samples whose ambisonic confidence makes them supervised targets."""
        return [int(i) for i in np.flatnonzero(self.confidence() >= self.sampling.min_confidence)]

    def source(self, index: int) -> tuple[Path, float]:
        """(video, time in seconds) a sample was taken from."""
        v, k = self._locate(index)
        return self.videos[v].path, float(self.parts[v]["times"][k])

    def target(self, map_: np.ndarray) -> np.ndarray:
        """The ambisonic map on the frame's grid, peak 1 (eq. 8's α_GT then keeps the cells ≥ 0.5)."""
        import cv2

        h, w = self.sampling.frame_size
        m = np.asarray(map_, np.float32)
        sy, sx = m.shape[0] / h, m.shape[1] / w
        xs = ((np.arange(w, dtype=np.float32) + 0.5) * sx - 0.5)[None, :].repeat(h, 0)
        ys = np.clip((np.arange(h, dtype=np.float32) + 0.5) * sy - 0.5, 0, m.shape[0] - 1)[:, None].repeat(w, 1)
        # wrapped in x: the map is continuous across the ±180° seam
        out = cv2.remap(m, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        peak = float(out.max())
        return out / peak if peak > 0 else out

    def __getitem__(self, index: int) -> dict:
        from soundloc.data.common import fit_length, make_sample
        from soundloc.image import preprocess_image

        v, k = self._locate(int(index))
        part = self.parts[v]
        rgb = np.array(part["frames"][k])  # a writable copy of the memory-mapped frame
        conf = float(part["confidence"][k])
        gt = self.target(part["maps"][k]) if conf >= self.sampling.min_confidence else None
        aug = self.augment
        # numpy's global generator: seeded per DataLoader worker and per run by soundloc.train
        rng = np.random.default_rng(np.random.randint(2**31)) if aug.any else None
        if aug.yaw or aug.flip:
            degrees = float(rng.integers(rgb.shape[1])) * 360.0 / rgb.shape[1] if aug.yaw else 0.0
            rgb, gt = turn_sample(rgb, gt, degrees, flip=bool(aug.flip and rng.random() < 0.5))
        if aug.colour:
            rgb = jitter_colour(rgb, rng)
        audio = fit_length(np.asarray(part["audio"][k], np.float32), self.audio_samples)
        if aug.time_crop:
            audio = crop_time(audio, rng)
        return make_sample(preprocess_image(rgb, None)[0], audio, gt, self.sampling.frame_size, -1, int(index),
                           clip=v)


# Minutes of sampled FOA footage below which ``train`` says the network may not transfer: networks taught
# on 1.9 and 3.4 minutes of real clips (the README's tables) scored the fixed front view on held-out ones.
FEW_MINUTES = 10.0


def open_foa_training(data: str | Path, model_config, audio_seconds: float | None, *, frames_per_second: float,
                      min_confidence: float, seed: int, cache_dir: str | Path | None, resuming: bool,
                      notify: Callable[[str], None] | None = None,
                      augment: FoaAugment | None = None) -> tuple[FoaVideoDataset, object, dict]:
    """What ``pano-pan train DIR --dataset-type foa-videos`` trains on: (dataset, model config, meta).

    A new model's ``audio_window`` becomes the sampled seconds of sound (default
    ``DEFAULT_AUDIO_SECONDS``: sources move, so the sound must be the sound of this moment), so the
    ``network`` localizer pools the same span at inference. ``augment`` defaults to all augmentations.
    The meta records how the data was sampled and augmented.
    """
    from dataclasses import replace

    seconds = float(audio_seconds) if audio_seconds is not None else (
        float(model_config.audio_window) if resuming else DEFAULT_AUDIO_SECONDS)
    if not resuming:
        model_config = replace(model_config, audio_window=seconds)
    sampling = FoaSampling(image_size=int(model_config.image_size), sample_rate=int(model_config.sample_rate),
                           audio_seconds=seconds, frames_per_second=float(frames_per_second),
                           min_confidence=float(min_confidence), seed=int(seed))
    augment = FoaAugment() if augment is None else augment
    dataset = FoaVideoDataset(data, sampling, cache_dir, augment=augment, notify=notify)
    supervised = len(dataset.annotated_indices())
    if notify is not None:
        notify(f"{len(dataset)} frames from {len(dataset.videos)} FOA videos, {supervised} with a confident "
               f"ambisonic target (>= {sampling.min_confidence:g})")
        minutes = len(dataset) / sampling.frames_per_second / 60.0
        if minutes < FEW_MINUTES:
            notify(f"note: {minutes:.1f} minutes of FOA footage; networks taught on up to 3.4 minutes of real "
                   "footage scored only what a fixed front view scores on other real clips (README: Teaching the "
                   "network with your own FOA footage); more videos of more scenes help most")
    meta = {"dataset_type": "foa-videos", "audio_seconds": seconds,
            "foa": {**asdict(sampling), "frame_size": list(sampling.frame_size), "videos": len(dataset.videos),
                    "samples": len(dataset), "supervised": supervised, "augment": asdict(augment)}}
    return dataset, model_config, meta
