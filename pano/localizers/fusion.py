"""``fusion``: a weighted combination of other saliency sources.

Different sources see different evidence (the trained network what looks like a sound source, the
ambisonic map where the sound energy arrives from, synchrony what moves with the sound), and their maps
come on different grids and in different units. Fusion brings each map to one grid, turns it into a
distribution on the sphere (divided by its area-weighted sum, so no source wins by its scale) and adds
them weighted by the user's weight times the source's own per-frame confidence, so a source that is
unsure on a frame gives way to the others.

The pipeline decodes once for the fusion, so the fusion asks for the union of what its children need:
the largest ``frame_size`` (each child gets the frames resized to its own size) and one audio stream
from which every child's windows are derived: the highest sample rate, the longest window, and FOA
when any child needs it. A mono child of an FOA fusion gets the W (omnidirectional) channel; a child
with a shorter window gets the centred part; a lower rate is made with ``scipy.signal.resample_poly``.
Limitation: derived windows are resampled per window, so the resampler's edge transient touches the
first and last few samples of each; children cannot ask for stereo (fusion derives only "mono" and
"foa"; `audiovisual` on a stereo file is refused), and a mono fusion cannot feed an FOA child (no direction to invent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import gcd
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from common.errors import OptionError
from common.options import PluginOptions, option
from pano.localizers.base import AudioSpec, FrameBatch, Localizer, SaliencyBatch
from pano.sphere.geometry import area_weights

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo
    from pano.run.context import RunContext

ChildSpec = Localizer | str | tuple[str, Mapping[str, Any]] | Mapping[str, Any]
_LAYOUT_CHANNELS = {"mono": 1, "foa": 4}


def resize_equirect(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (B, h, w) equirectangular maps to ``size`` = (H, W), wrapping at the ±180° seam.

    Shrinking in both directions uses area averaging, whose cells tile the image exactly, so nothing
    crosses the seam. Otherwise bilinear sampling at the target pixel centres from a copy with one
    wrapped column on each side, so the seam interpolates between the first and last columns.
    """
    maps = np.asarray(maps, dtype=np.float32)
    b, h, w = maps.shape
    th, tw = int(size[0]), int(size[1])
    if (h, w) == (th, tw):
        return maps.copy()
    if th <= h and tw <= w:
        return np.stack([cv2.resize(m, (tw, th), interpolation=cv2.INTER_AREA) for m in maps]).reshape(
            b, th, tw
        )
    map_x = ((np.arange(tw) + 0.5) * w / tw - 0.5 + 1.0).astype(np.float32)  # +1: the wrapped pad column
    map_y = ((np.arange(th) + 0.5) * h / th - 0.5).astype(np.float32)
    grid_x = np.broadcast_to(map_x[None, :], (th, tw)).copy()
    grid_y = np.broadcast_to(map_y[:, None], (th, tw)).copy()
    padded = np.concatenate([maps[:, :, -1:], maps, maps[:, :, :1]], axis=2)
    out = [
        cv2.remap(m, grid_x, grid_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for m in padded
    ]
    return np.stack(out).reshape(b, th, tw)


def _resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(B, H, W, 3) uint8 frames at ``size`` = (h, w); area averaging when shrinking."""
    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    interp = cv2.INTER_AREA if h <= frames.shape[1] and w <= frames.shape[2] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in frames])


def union_audio_spec(specs: Sequence[AudioSpec]) -> AudioSpec | None:
    """One audio request from which each of ``specs`` can be derived (see the module docstring)."""
    if not specs:
        return None
    for spec in specs:
        if spec.layout not in _LAYOUT_CHANNELS:
            raise OptionError(f"fusion cannot provide audio layout {spec.layout!r}; only mono and foa")
    layout = "foa" if any(s.layout == "foa" for s in specs) else "mono"
    return AudioSpec(
        sample_rate=max(s.sample_rate for s in specs), layout=layout, window=max(s.window for s in specs)
    )


def derive_audio(audio: np.ndarray, have: AudioSpec, want: AudioSpec) -> np.ndarray:
    """Windows (B, C, S) recorded per ``have`` turned into what ``want`` asks for."""
    x = np.asarray(audio, dtype=np.float32)
    if have == want:
        return x
    if want.layout == "mono":
        x = x[:, :1]  # FOA W is the omnidirectional (pressure) signal; mono stays mono
    elif have.layout != want.layout:
        raise OptionError(f"fusion cannot derive {want.layout} audio from {have.layout}")
    n_src = x.shape[-1]
    n_keep = min(n_src, max(1, int(round(want.window * have.sample_rate))))
    start = (n_src - n_keep) // 2
    x = x[..., start : start + n_keep]
    if want.sample_rate != have.sample_rate:
        g = gcd(int(want.sample_rate), int(have.sample_rate))
        from scipy.signal import resample_poly  # imported here: scipy.signal costs ~0.7 s at CLI start

        x = resample_poly(x, want.sample_rate // g, have.sample_rate // g, axis=-1).astype(np.float32)
    n_want = max(1, int(round(want.window * want.sample_rate)))
    if x.shape[-1] > n_want:
        cut = (x.shape[-1] - n_want) // 2
        x = x[..., cut : cut + n_want]
    elif x.shape[-1] < n_want:
        extra = n_want - x.shape[-1]
        x = np.pad(x, [(0, 0), (0, 0), (extra // 2, extra - extra // 2)])
    return np.ascontiguousarray(x, dtype=np.float32)


def _build_child(spec: ChildSpec, ctx: RunContext) -> tuple[Localizer, float | None]:
    """A constructed source and the weight its spec carries (None: use ``weights`` or 1)."""
    from pano.localizers.base import create_localizer

    if isinstance(spec, Localizer):
        return spec, None
    if isinstance(spec, str):
        return create_localizer(spec, ctx), None
    if isinstance(spec, Mapping):
        if "name" not in spec:
            raise OptionError(f"fusion source {dict(spec)!r} needs a 'name'")
        return create_localizer(spec["name"], ctx, spec.get("options", {})), spec.get("weight")
    if isinstance(spec, tuple | list) and len(spec) == 2 and isinstance(spec[0], str):
        return create_localizer(spec[0], ctx, spec[1]), None
    raise OptionError(f"fusion source {spec!r} is not a source, a name, (name, options) or a mapping")


def default_children(ctx: RunContext) -> list[str]:
    """What ``fusion`` combines when not told: every source the input supports."""
    names = ["network"] if ctx.checkpoint else []
    if ctx.is_foa:
        names.append("ambisonic")
    return [*names, "synchrony"]


@dataclass(frozen=True)
class FusionOptions(PluginOptions):
    sources: Any = option(None, "children: names, [name, {options}] pairs or {name, options, weight} mappings; "
                          "default: every source the input supports")
    weights: tuple[float, ...] | None = option(None, "one weight per child (default: a mapping's weight, else 1)",
                                               lo=0.0, hi=1e6)
    grid: tuple[int, int] | None = option(None, "(H, W) of the fused map; default: the largest child grid",
                                          lo=1, hi=2048)
    confidence_weighted: bool = option(True, "multiply each child's weight by its per-frame confidence")


class FusionLocalizer(Localizer):
    """Weighted, confidence-aware combination of other sources on one equirectangular grid.

    Children built by name get the fusion's own run context (checkpoint, device, audio format), so the
    run's decisions reach them unchanged. Library callers may also pass constructed sources.
    """

    name = "fusion"
    Options = FusionOptions

    def __init__(self, ctx: RunContext | None = None, options: FusionOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        sources = o.sources if o.sources is not None else default_children(self.ctx)
        if isinstance(sources, str | Localizer) or not sources:
            raise OptionError("fusion needs a list of sources, e.g. sources=['network', 'synchrony']")
        built = [_build_child(s, self.ctx) for s in sources]
        self.children = [child for child, _ in built]
        weights = o.weights if o.weights is not None else [1.0 if w is None else w for _, w in built]
        if len(weights) != len(self.children):
            raise OptionError(f"fusion got {len(weights)} weights for {len(self.children)} sources")
        self.weights = np.asarray([float(w) for w in weights])
        if np.any(self.weights < 0) or not np.isfinite(self.weights).all() or self.weights.sum() <= 0:
            raise OptionError(f"fusion weights must be ≥ 0 with a positive sum, got {list(weights)}")
        self.grid = o.grid
        self.confidence_weighted = o.confidence_weighted
        self._update_requests()

    def _update_requests(self) -> None:
        """Ask for the union of the children's frames and audio (children may change theirs in prepare)."""
        sizes = [tuple(c.frame_size) for c in self.children if c.frame_size is not None]
        self.frame_size = max(sizes, key=lambda s: (s[0] * s[1], s)) if sizes else None
        self.audio_spec = union_audio_spec([c.audio_spec for c in self.children if c.audio_spec is not None])
        self.batch_size = min(c.batch_size for c in self.children)

    def prepare(self, media: MediaInfo) -> None:
        for child in self.children:
            child.prepare(media)
        self._update_requests()

    def describe(self) -> dict:
        return {
            "sources": [
                {"name": c.name, "weight": float(w), "params": c.describe()}
                for c, w in zip(self.children, self.weights, strict=True)
            ],
            "grid": None if self.grid is None else list(self.grid),
            "confidence_weighted": self.confidence_weighted,
        }

    def _child_batch(self, child: Localizer, batch: FrameBatch, cache: dict) -> FrameBatch:
        frames = None
        if child.frame_size is not None:
            if batch.frames is None:
                raise OptionError(f"fusion: {child.name} needs frames and the pipeline passed none")
            size = tuple(child.frame_size)
            if size not in cache:
                cache[size] = _resize_frames(np.asarray(batch.frames), size)
            frames = cache[size]
        audio = None
        if child.audio_spec is not None and batch.audio is not None and self.audio_spec is not None:
            audio = derive_audio(batch.audio, self.audio_spec, child.audio_spec)
        return FrameBatch(indices=batch.indices, times=batch.times, frames=frames, audio=audio)

    def process(self, batch: FrameBatch) -> SaliencyBatch:
        cache: dict = {}
        outs = [child.process(self._child_batch(child, batch, cache)) for child in self.children]
        if self.grid is None:
            self.grid = max((o.maps.shape[1:] for o in outs), key=lambda s: (s[0] * s[1], s))
        h, w = self.grid
        cos = area_weights(h).astype(np.float32)[None]  # (1, H, 1)
        fused = np.zeros((len(batch.indices), h, w), np.float32)
        total_conf = np.zeros(len(batch.indices))
        for out, weight in zip(outs, self.weights, strict=True):
            maps = resize_equirect(out.maps, (h, w))
            mass = (maps * cos).sum(axis=(1, 2))
            dist = maps / np.where(mass > 0, mass, 1.0)[:, None, None]
            conf = out.confidence
            k = weight * (conf if self.confidence_weighted else np.ones_like(conf))
            fused += (k[:, None, None] * dist).astype(np.float32)
            total_conf += weight * conf
        norm = float(self.weights.sum())
        return SaliencyBatch(maps=fused / norm, confidence=total_conf / norm)
