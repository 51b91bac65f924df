"""The ``network`` saliency source: the trained two-stream localizer run on equirectangular frames.

As in the paper's 360° application (Sec. 6) the frame goes into the fully convolutional network as it
is, without reprojection, and the sound is the window centred on the frame. The sound side is computed
once per video in ``prepare``: one streaming conv8 pass over the soundtrack, then each frame's f_s is
two cumulative-sum look-ups (``soundloc.streaming``), so audio costs almost nothing per frame.

The visual side dominates the cost, so by default only every ``stride``-th frame (10: three maps a
second at 30 fps, the same granularity as AutoCam's path search, during which a camera limited to 60°/s
moves at most 20°) goes through the network, at 160×320 (a 10×20 attention grid, 18° cells, for
VGG-16), and the maps in between are linear blends of their neighbours. On two CPU cores that makes
VGG-16 about real time; ``stride=1, inference_height=480`` is the paper's every-frame full resolution.
Batches are a multiple of ``stride`` and the last frame of every batch is computed, so no
batch ever waits for the next one; the last computed map is carried over to blend the next batch's
first frames.

The frame wraps around at ±180° yaw, so it is padded circularly left and right by half the backbone's
receptive field (rounded up to whole feature cells) before the CNN and the padded cells are cropped
from the feature grid: the columns at the seam then see the other side of the seam instead of zeros,
and a panorama rolled by whole cells gives the same map, rolled. The sound is what a mono listener at
the camera hears: the omnidirectional W channel for FOA (an FFmpeg downmix of AmbiX would mix in
X, Y, Z and swing the level with the source's direction), else a downmix.

Each map is the attention α = softmax(cos/τ) (τ from the checkpoint's config) min–max normalised per
frame; the confidence comes from the cosine map's peak and contrast, so ambient sound gives low
confidence and the planner holds the camera.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from common.errors import OptionError
from common.options import PluginOptions, option
from common.threads import budget
from pano.localizers.base import FrameBatch, Localizer, SaliencyBatch
from pano.localizers.prior import blend_prior
from pano.media.audio import mono_chunks
from soundloc.attention import map_confidence
from soundloc.checkpoint import load_checkpoint
from soundloc.device import resolve_device
from soundloc.download import resolve
from soundloc.model import preprocess_image, scale_waveform
from soundloc.streaming import WindowPooler, conv8_track

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo
    from pano.run.context import RunContext


def seam_cells(model) -> int:
    """Feature cells of circular padding that make the seam exact: half the receptive field, rounded up."""
    return -(-model.receptive_field // (2 * model.feature_stride))


def wrapped_features(model, x: torch.Tensor, cells: int | None = None) -> torch.Tensor:
    """Visual features of equirectangular frames ``(B, 3, H, W)`` with circular padding in yaw.

    The pad is ``cells`` feature cells on each side, by default :func:`seam_cells` so that no cropped
    cell sees the padding the convolutions add at the padded image's own edges.
    """
    stride = model.feature_stride
    cells = seam_cells(model) if cells is None else cells
    pad = min(cells * stride, x.shape[-1])  # a frame narrower than the pad wraps at most once
    cells = pad // stride
    v = model.visual_features(F.pad(x, (pad, pad, 0, 0), mode="circular"))
    return v[..., cells : v.shape[-1] - cells] if cells else v


def _default_threads() -> int:
    # Pass 1 decodes only small analysis frames, so the network may use every core: measured on two
    # cores, VGG-16 at 160×320 ran the 10 s demo in 9.0 s with two threads against 12.7 s with one.
    return budget() or max(1, os.cpu_count() or 1)  # a batch job's thread budget caps it


@dataclass(frozen=True)
class NetworkOptions(PluginOptions):
    stride: int = option(10, "run the network on every N-th frame; blend the maps in between", lo=1, hi=1000)
    inference_height: int = option(160, "frame height fed to the network (width = 2×)", lo=16, hi=2160, even=True)
    threads: int | None = option(None, "CPU threads for PyTorch; default: all cores", lo=1, hi=1024)
    audio_window: float | None = option(None, "seconds of sound per frame; default: the checkpoint's",
                                        lo=0.5, hi=120.0)
    batch_size: int | None = option(None, "frames per batch (rounded up to a multiple of stride)", lo=1, hi=4096)
    seam_padding: int | None = option(None, "feature cells of circular padding on each side of the ±180° seam; "
                                      "default: half the receptive field (exact, ~2x the visual cost for VGG-16 "
                                      "at 160x320); 0: zero padding, as before", lo=0, hi=64)
    prior_strength: float = option(0.0, "front-and-horizon prior (pano.localizers.prior): how much evidence a move "
                                   "away from yaw 0 / pitch 0 must beat; 0 = none", lo=0.0, hi=100.0)
    prior_yaw_sigma: float = option(30.0, "prior's width in yaw (degrees)", lo=1.0, hi=360.0)
    prior_pitch_sigma: float = option(15.0, "prior's width in pitch (degrees)", lo=1.0, hi=180.0)


class NetworkLocalizer(Localizer):
    """Sound-conditioned attention of a trained ``SoundLocalizer`` on every frame; the checkpoint and
    device come from the run context."""

    name = "network"
    Options = NetworkOptions
    audio_spec = None  # the source reads the soundtrack itself, once, in prepare()

    def __init__(self, ctx: RunContext | None = None, options: NetworkOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        if self.ctx.checkpoint is None:
            raise OptionError(
                "the network localizer needs --checkpoint PATH (a file written by soundloc training); "
                "or choose --localizer synchrony, which needs none"
            )
        self.device = resolve_device(self.ctx.device)
        self.checkpoint = resolve(self.ctx.checkpoint)  # a path, or URL#sha256=HEX fetched into the cache
        self.stride = o.stride
        self.threads = _default_threads() if o.threads is None else o.threads
        self.model, self.meta = load_checkpoint(self.checkpoint, map_location=self.device)
        cfg = self.model.config
        self.sample_rate = cfg.sample_rate
        self.window = float(cfg.audio_window if o.audio_window is None else o.audio_window)
        self.frame_size = (o.inference_height, 2 * o.inference_height)
        self.seam_cells = seam_cells(self.model) if o.seam_padding is None else o.seam_padding
        per = max(1, 16 // self.stride) if o.batch_size is None else max(1, -(-o.batch_size // self.stride))
        self.batch_size = self.stride * per
        self._pooler: WindowPooler | None = None
        self._carry: tuple[int, np.ndarray, float] | None = None  # (frame index, map, confidence)

    def describe(self) -> dict:
        cfg = self.model.config
        return {
            "checkpoint": str(self.checkpoint),
            "backbone": cfg.backbone,
            "attention": cfg.attention,
            "attention_temperature": cfg.attention_temperature,
            "padding": cfg.padding,
            "stride": self.stride,
            "inference_size": list(self.frame_size),
            "seam_padding_cells": self.seam_cells,
            "audio_window": self.window,
            "device": str(self.device),
            "prior_strength": self.options.prior_strength,
            "prior_yaw_sigma": self.options.prior_yaw_sigma,
            "prior_pitch_sigma": self.options.prior_pitch_sigma,
        }

    def prepare(self, media: MediaInfo) -> None:
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        chunks = (scale_waveform(c[0]).numpy() for c in mono_chunks(media, self.sample_rate))
        feats = conv8_track(self.model.soundnet, chunks, device=str(self.device))
        self._pooler = WindowPooler(feats, self.sample_rate, self.window)
        self._carry = None

    @torch.inference_mode()
    def _compute(self, frames: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = preprocess_image(frames, self.frame_size).to(self.device)
        f_s = self._pooler.pooled(times).to(self.device)
        out = self.model.attend_sound(wrapped_features(self.model, x, self.seam_cells), f_s)
        alpha = out.attention.float()
        flat = alpha.reshape(alpha.shape[0], -1)
        lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
        maps = (alpha - lo) / (hi - lo).clamp_min(1e-12)
        return maps.cpu().numpy().astype(np.float32), map_confidence(out.cosine).float().cpu().numpy()

    def process(self, batch: FrameBatch) -> SaliencyBatch:
        if self._pooler is None:
            raise RuntimeError("NetworkLocalizer.prepare() must run before process()")
        if batch.frames is None:
            raise RuntimeError("NetworkLocalizer needs frames")
        idx = np.asarray(batch.indices, np.int64)
        n = len(idx)
        carry = self._carry if self._carry is not None and self._carry[0] < idx[0] else None
        anchor = ((idx + 1) % self.stride == 0) | (np.arange(n) == n - 1)
        if carry is None:
            anchor[0] = True
        pos = np.flatnonzero(anchor)
        maps_a, conf_a = self._compute(batch.frames[pos], np.asarray(batch.times)[pos])
        # anchor list with the carried map in front: positions, frame indices, maps, confidences
        a_idx = idx[pos].astype(np.float64)
        a_maps, a_conf = maps_a, conf_a
        if carry is not None:
            a_idx = np.concatenate([[float(carry[0])], a_idx])
            a_maps = np.concatenate([carry[1][None], a_maps])
            a_conf = np.concatenate([[carry[2]], a_conf])
        hi = np.clip(np.searchsorted(a_idx, idx, side="left"), 0, len(a_idx) - 1)
        lo = np.clip(hi - 1, 0, None)
        span = np.maximum(a_idx[hi] - a_idx[lo], 1e-9)
        w = np.where(hi == lo, 1.0, np.clip((idx - a_idx[lo]) / span, 0.0, 1.0)).astype(np.float32)
        maps = (1 - w)[:, None, None] * a_maps[lo] + w[:, None, None] * a_maps[hi]
        conf = (1 - w) * a_conf[lo] + w * a_conf[hi]
        self._carry = (int(idx[-1]), maps[-1].copy(), float(conf[-1]))
        o = self.options
        # the prior after the blend: the carried map stays the network's own evidence
        maps, conf = blend_prior(maps, conf, o.prior_strength, o.prior_yaw_sigma, o.prior_pitch_sigma)
        return SaliencyBatch(maps=maps.astype(np.float32), confidence=np.clip(conf, 0.0, 1.0).astype(np.float32))
