"""``audiovisual``: the default without ambisonics — what one or two channels and the pixels can tell.

Mono audio carries no direction, so the map is built from the picture, with the sound only saying
*when* to look and *what* goes with it, and the front-and-horizon prior (``pano.localizers.prior``)
deciding whenever that evidence is weak:

- ``synchrony`` — pixels whose change goes with the loudness (the ``synchrony`` localizer, run inside):
  lips, hands on strings, hits at onsets; kept only where the picture visibly changes (the mean pooled
  |Δ luminance| over synchrony's window above ``motion_floor``), because on a still picture synchrony
  correlates codec noise with the sound and was confident about the sky;
- ``motion`` — what moves while sound is present, whatever its rhythm: a tractor circling, a train,
  a walker. A running mean (``motion_window``) of pooled |Δ luminance| over frames weighted by how
  loud the track is relative to its own recent level, minus the frame's median (camera motion and
  flicker move everything at once); it is confident only when the peak beats ``motion_floor`` luma
  levels per frame, so codec noise on a still picture is no evidence;
- ``people`` — a person whose picture changes while sound is present is a likely sound maker
  (``pano.localizers.people``: OpenCV's HOG detector on horizon views of a larger detail frame every
  ``people_every`` seconds, only in views where the picture changes); the one nearest the front wins,
  and its evidence falls off with the distance from the front (``people_front_sigma``). The motion
  part counts only *new* motion (``motion_novelty``): a region's own motion from ``motion_delay`` ago
  over ``motion_memory`` is subtracted, so a drummer who never stops does not pull the camera;
- ``stereo`` — with two channels that differ, their level difference (a coincident pair, what a stereo
  decode of FOA gives) or their arrival-time difference (a spaced pair, ``mic_spacing`` apart) gives
  the lateral direction (a cone around the left-right axis, ``pano.localizers.lateral``), but only
  as far as it is *reliable* there and then (one direct source that keeps its side; not a diffuse
  field, two independent channels, or a sound in the median plane): the mono map is multiplied by
  the cone raised to that reliability (over a floor, so picture evidence off the cone is weakened,
  not erased), and the prior widens in yaw as the reliability grows. The picture and the prior choose
  front or back on the cone, and the people part chooses among people by the cone as well (a person
  counts as far as they sit on it, and the front falloff fades as the cue grows reliable); with
  reliability 0 the map is exactly the mono one, so stereo can only add what the pair knows.

Parts are combined like ``fusion`` combines sources: each map made a distribution on the sphere,
weighted by ``weight × confidence × concentration`` (the share of the map within 30° of its peak,
so evidence spread over the sphere — everyone in a band moving, noise — counts for little); the
combined confidence is the noisy-or of the parts'. The prior
is then blended in (``prior_strength``; 0 switches it off), and last the stereo factor multiplies the
whole map. ``describe()`` records every option, the prior's included, in the trajectory.

Why these parts and weights: the ablation in ``benchmarks/mono_real.py`` on real FOA clips reduced to
mono and stereo, and on the synthetic scenes of the tests (see the README's table and docs/measurements.md).
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from common.errors import InputError, OptionError
from common.options import PluginOptions, option
from pano.localizers.base import AudioSpec, FrameBatch, Localizer, SaliencyBatch
from pano.localizers.lateral import MIC_SPACING, Z_HI, Z_LO, LateralTracker, lateral_likelihood
from pano.localizers.people import DETAIL_SIZE, VIEW_FOV, VIEW_YAWS, PeopleTrack, PersonDetector, sound_point
from pano.localizers.poses import POSE_SCORE, POSE_YAWS, PoseDetector, all_people
from pano.localizers.prior import as_distribution, blend_prior
from pano.localizers.synchrony import SynchronyLocalizer, audio_loudness, blur_equirect, luminance
from pano.sphere.geometry import (
    angular_distance,
    area_weights,
    grid_angles,
    grid_vectors,
    pitch_to_y,
    wrap_yaw,
    yaw_to_x,
)

if TYPE_CHECKING:
    from pano.media.probe import MediaInfo
    from pano.run.context import RunContext

PARTS = ("synchrony", "motion", "people", "stereo")
STILL_AFTER = 1.0  # seconds of video before "the picture changes nowhere" can be said
GRID = (64, 128)  # the analysis grid of every part; pools evenly to the planner's 32 rows


@dataclass(frozen=True)
class AudiovisualOptions(PluginOptions):
    parts: tuple[str, ...] = option(PARTS, "evidence used (stereo only acts on a stereo track)", choices=PARTS)
    synchrony_weight: float = option(0.3, "weight of the synchrony part (below motion's: on a steady sound "
                                     "it contradicts a mover)", lo=0.0, hi=100.0)
    motion_weight: float = option(1.0, "weight of the motion-while-sounding part", lo=0.0, hi=100.0)
    people_weight: float = option(0.5, "weight of the people part (a person whose picture changes while "
                                  "sound is present; the one nearest the front when there are several)",
                                  lo=0.0, hi=100.0)
    people_threshold: float = option(0.0, "HOG people detector's SVM margin a detection must beat (higher: "
                                     "fewer false people, more missed ones)", lo=-5.0, hi=10.0)
    people_front_sigma: float = option(60.0, "degrees: a person's evidence falls off with distance from the "
                                       "front like a Gaussian of this width (a person is a likely sound maker, "
                                       "not the sure one: one far from where the operator pointed must be "
                                       "confirmed by the other parts); 0 = no falloff", lo=0.0, hi=360.0)
    people_faces: bool = option(True, "also look for frontal faces (Haar cascade): finds people whose body "
                                "is hidden or too small for the body detector (HOG found no one on 7 of 8 real "
                                "clips of people at 960×480, faces found the talker on 4), at about three times "
                                "the detector's cost")
    people_face_finder: str = option("haar", "with people_faces, which face finder: haar (OpenCV's frontal "
                                     "cascade, 20 px faces and up) or mtcnn (NumPy MTCNN on the colour views, "
                                     "12 px and up: finds more faces, more false ones, ~3x the cost)",
                                     choices=("haar", "mtcnn"))
    people_bodies: str = option("hog", "bodies by which detector: hog (OpenCV's HOG, with the faces) or pose "
                                "(BlazePose's person detector as well, ai-edge-litert: finds people seated, in "
                                "profile, bent over an instrument, whom HOG at 960×480 misses; on the real set "
                                "it found the unrelated passers-by of still street pictures too and mono capture "
                                "fell 0.594 -> 0.219, so it is not the default)", choices=("hog", "pose"))
    people_still: float = option(4.0, "in a picture that changes nowhere (a locked-off camera on still talkers, a "
                                 "still image), how much a person counts against one whose picture changes: the "
                                 "picture cannot say who sounds, no other part has evidence, and a person is the "
                                 "likeliest sound maker (where the picture changes elsewhere, a still person is "
                                 "not the one playing and counts nothing); 0: only people whose picture changes",
                                 lo=0.0, hi=10.0)
    people_every: float = option(2.0, "seconds of video between two looks for people (only while sound is "
                                 "present)", lo=0.1, hi=60.0)
    people_hold: float = option(10.0, "seconds a person seen once is kept (people do not vanish between "
                                "looks, and the detector misses some looks)", lo=0.1, hi=600.0)
    prior_strength: float = option(0.5, "front-and-horizon prior: how much evidence a move away from "
                                   "yaw 0 / pitch 0 must beat (0 = no prior)", lo=0.0, hi=100.0)
    prior_yaw_sigma: float = option(30.0, "prior's width in yaw (degrees)", lo=1.0, hi=360.0)
    prior_pitch_sigma: float = option(15.0, "prior's width in pitch (degrees)", lo=1.0, hi=180.0)
    sync_gate_share: bool = option(False, "synchrony's weight keeps only the share of its map that the "
                                   "visible-change gate keeps (off: the gated remnant gets the whole's weight; "
                                   "on changed no real clip and, with the new-motion rule, pulled a pulsing "
                                   "source's aim 12° towards the front)")
    motion_window: float = option(1.0, "seconds, time constant of the motion evidence", lo=0.05, hi=30.0)
    motion_floor: float = option(0.75, "luma levels per frame a region must move by (above the frame's "
                                 "median) before motion counts", lo=0.0, hi=255.0)
    motion_scale: float = option(2.0, "luma levels per frame above the floor for confidence 1 − 1/e",
                                 lo=0.01, hi=255.0)
    motion_novelty: float = option(1.0, "how much of a region's own earlier motion (over motion_memory, "
                                   "motion_delay ago) is subtracted: what has moved all along (a drummer "
                                   "behind the camera) is not what a move should chase; 0 = off", lo=0.0, hi=1.0)
    motion_delay: float = option(1.5, "seconds: the earlier motion is taken this long ago (a mover's "
                                 "own recent past must not cancel it)", lo=0.0, hi=30.0)
    motion_memory: float = option(8.0, "seconds, time constant of the earlier motion", lo=0.1, hi=120.0)
    stereo_window: float = option(0.25, "seconds of stereo audio per frame for the level difference",
                                  lo=0.02, hi=2.0)
    lateral_gain: float = option(1.5, "stereo: the level ratio is multiplied by this before it is read as the "
                                 "lateral direction (room sound, equal in both channels, shrinks the ratio: a "
                                 "real FOA room recording at 80° left gave 0.48 instead of 0.98)", lo=0.1, hi=10.0)
    stereo_prior_yaw_sigma: float = option(90.0, "stereo: the prior's width in yaw once the pair gives a lateral "
                                           "cue (the cue places the sound left-right; the prior then only "
                                           "prefers front over back)", lo=1.0, hi=360.0)
    lateral_onset: float = option(2.0, "stereo: windows louder than the recent level count more, by (energy / "
                                  "level) to this power (the direct sound dominates onsets; the room's "
                                  "tail, which is alike in both channels, follows them)", lo=0.0, hi=8.0)
    stereo_smooth: float = option(0.5, "seconds, time constant of the lateral estimate", lo=0.0, hi=30.0)
    lateral_hold: float = option(2.0, "stereo: seconds over which the side must hold before the cue is "
                                 "trusted in full (one bang on one side does not swing the camera)",
                                 lo=0.0, hi=30.0)
    lateral_z_lo: float = option(Z_LO, "stereo: the cue counts from this |lateral| / spread on (below: a "
                                 "diffuse, incoherent or centred sound, and the run is the mono one)",
                                 lo=0.0, hi=100.0)
    lateral_z_hi: float = option(Z_HI, "stereo: |lateral| / spread at which the cue counts in full",
                                 lo=0.0, hi=100.0)
    mic_spacing: float = option(MIC_SPACING, "stereo: metres between the two microphones, for the arrival-time "
                                "difference (GCC-PHAT) of a spaced pair, e.g. 0.03 (a coincident pair has "
                                "none and reads the same with any value; 0, the default: level difference "
                                "only, since a wrong spacing misplaces ensembles)", lo=0.0, hi=2.0)
    cone_floor: float = option(0.1, "stereo: what the cone keeps of picture evidence off it (0-1), where "
                               "the cue is fully reliable", lo=0.0, hi=1.0)
    batch_size: int = option(32, "frames per batch", lo=1, hi=1024)

    def check(self) -> None:
        if not self.parts:
            self.fail(f"parts must be a non-empty subset of {', '.join(PARTS)}")


@functools.lru_cache(maxsize=4)
def _cell_vectors(h: int, w: int) -> np.ndarray:
    return grid_vectors(h, w).reshape(-1, 3).astype(np.float32)


def concentration(dist: np.ndarray, cap_deg: float = 30.0) -> np.ndarray:
    """How much of each distribution (B, h, w) lies within ``cap_deg`` of its peak, rescaled so a map
    spread evenly over the sphere gives 0 and one inside the cap gives 1: evidence that points
    everywhere (a band where everyone moves, noise) points nowhere."""
    b, h, w = dist.shape
    vec = _cell_vectors(h, w)
    area = np.broadcast_to(area_weights(h), (h, w)).reshape(-1).astype(np.float32)
    flat = dist.reshape(b, -1) * area
    total = flat.sum(axis=1)
    peak = vec[flat.argmax(axis=1)]  # (B, 3)
    inside = np.cos(np.radians(cap_deg)) <= (vec @ peak.T).T  # (B, P)
    frac = np.divide((flat * inside).sum(axis=1), total, out=np.zeros(b), where=total > 0)
    even = (1.0 - np.cos(np.radians(cap_deg))) / 2.0
    return np.clip((frac - even) / (1.0 - even), 0.0, 1.0)


def _kept_share(maps: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """(B,) the area-weighted share of each map (B, h, w) that survives multiplying by ``gate``."""
    area = area_weights(maps.shape[1]).astype(np.float32)[None]
    whole = (maps * area).sum(axis=(1, 2))
    kept = (maps * gate * area).sum(axis=(1, 2))
    return np.divide(kept, whole, out=np.zeros(len(whole)), where=whole > 0)


def _uses_stereo(ctx: RunContext, parts: tuple[str, ...]) -> bool:
    """A stereo pair (or a surround track's front pair) is used; a 4-, 9- or 16-channel track read as
    mono (``--audio-format mono`` on ambisonics) is not: its first two channels are W and Y, not a pair."""
    media = ctx.media
    n = int(media.audio_channels) if media is not None else 0
    return "stereo" in parts and not ctx.is_foa and n >= 2 and round(n**0.5) ** 2 != n


class AudiovisualLocalizer(Localizer):
    """Synchrony + motion-while-sounding + stereo lateral cue + front prior (module docstring)."""

    name = "audiovisual"
    Options = AudiovisualOptions

    def __init__(self, ctx: RunContext | None = None, options: AudiovisualOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        self.parts = tuple(p for p in PARTS if p in o.parts)
        self.frame_size = GRID
        self.batch_size = o.batch_size
        self.cascade = self.pose = None  # the people part's detectors: HOG bodies and faces, BlazePose bodies
        if "people" in self.parts:
            try:
                self.cascade = PersonDetector(o.people_threshold,
                                              faces=o.people_face_finder if o.people_faces else False).detect
            except InputError as exc:  # OpenCV 5: the models are gone; the other parts still work
                self.ctx.notify(f"note: audiovisual's people part runs without HOG bodies and faces ({exc})")
            if o.people_bodies == "pose":
                try:
                    self.pose = PoseDetector(score=POSE_SCORE).detect
                except InputError as exc:
                    self.ctx.notify(f"note: no pose detector ({exc})")
            if self.cascade is None and self.pose is None:
                self.parts = tuple(p for p in self.parts if p != "people")
        self.finds_people = "people" in self.parts
        if self.finds_people:
            self.detail_size = DETAIL_SIZE
            self.detail_every = float(o.people_every)
        self.sync = SynchronyLocalizer(self.ctx, SynchronyLocalizer.Options.parse({"frame_size": GRID}))
        self.stereo = _uses_stereo(self.ctx, self.parts)
        fps = float(self.ctx.fps)
        if not fps > 0:
            raise OptionError(f"audiovisual needs a positive frame rate, got {fps!r}")
        self.fps = fps
        sync_spec = self.sync.audio_spec
        window = max(sync_spec.window, o.stereo_window) if self.stereo else sync_spec.window
        self.audio_spec = AudioSpec(sample_rate=sync_spec.sample_rate, layout="stereo" if self.stereo else "mono",
                                    window=float(window))
        self._lam_m = float(np.exp(-1.0 / (o.motion_window * fps)))
        self.lateral = LateralTracker(self.audio_spec.sample_rate, fps, o.stereo_smooth, o.lateral_hold,
                                      o.lateral_onset, o.lateral_gain, o.lateral_z_lo, o.lateral_z_hi,
                                      o.mic_spacing)
        self._lam_b = float(np.exp(-1.0 / (o.motion_memory * fps)))
        self._delay = int(round(o.motion_delay * fps))
        self._lam_loud = float(np.exp(-1.0 / (10.0 * fps)))
        self._lam_c = float(np.exp(-1.0 / (self.sync.options.evidence_window * fps)))
        self.reset()

    def reset(self) -> None:
        self._prev_y: np.ndarray | None = None
        self._sm: np.ndarray | None = None  # Σ presence·motion, per cell
        self._sp = 0.0  # Σ presence
        self._recent: collections.deque[np.ndarray] = collections.deque()  # the last motion_delay of motion
        self._sb: np.ndarray | None = None  # Σ of the motion before those, per cell (motion_memory)
        self._wb = 0.0  # Σ of its weights
        self._change: np.ndarray | None = None  # running mean of visible change (no presence weighting)
        self._loud_ref = 0.0  # slow running loudness level, for "sound present"
        self.lateral.reset()  # the stereo pair's running lateral estimate
        if self.finds_people:
            self.people = PeopleTrack(self._look, self.options.people_hold)

    def prepare(self, media: MediaInfo) -> None:
        channels = getattr(media, "audio_channels", None)
        if channels is not None and channels <= 0:
            raise InputError(f"{getattr(media, 'path', 'input')}: has no audio stream, which the audiovisual "
                             "localizer needs; pass a video with its audio track")
        self.sync.prepare(media)
        self.reset()

    def describe(self) -> dict:
        return super().describe() | {"audio_window": self.audio_spec.window, "stereo_used": self.stereo,
                                     "people_used": self.finds_people, "synchrony": self.sync.describe()}

    # -- parts -------------------------------------------------------------------------------------
    def _mono(self, audio: np.ndarray | None, n: int) -> np.ndarray | None:
        """The synchrony part's mono windows: channel mean, centred cut to its window length."""
        if audio is None:
            return None
        x = np.asarray(audio, np.float32)
        x = x.mean(axis=1, keepdims=True) if x.shape[1] > 1 else x
        keep = max(1, int(round(self.sync.audio_spec.window * self.audio_spec.sample_rate)))
        start = max(0, (x.shape[-1] - keep) // 2)
        return np.ascontiguousarray(x[..., start:start + keep])

    def _motion(self, y: np.ndarray, loud: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Motion while sound is present: maps (B, h, w) and confidences (B,); the visible change
        (B, h, w) over synchrony's window, whatever the sound, which gates synchrony and people; and
        how present the sound is (B,) in [0, 1] (loudness against half its slow running level)."""
        o = self.options
        b, h, w = y.shape
        prev = y[:1] if self._prev_y is None else self._prev_y[None]
        before = np.concatenate([prev, y[:-1]], axis=0)
        dy = np.abs(y - before)
        m = blur_equirect(dy, self.sync.options.blur_deg)
        sample = self.sync._sample(h, w)
        g = np.median(m.reshape(b, -1)[:, sample], axis=1)
        m = np.maximum(m - g[:, None, None], 0.0)
        maps = np.empty_like(m)
        change = np.empty_like(m)
        conf = np.zeros(b)
        presence = np.zeros(b)
        for k in range(b):
            lc = self._lam_c
            self._change = m[k].copy() if self._change is None else lc * self._change + (1 - lc) * m[k]
            change[k] = self._change
            self._loud_ref = self._lam_loud * self._loud_ref + (1 - self._lam_loud) * float(loud[k])
            if self._loud_ref <= 0:
                self._loud_ref = float(loud[k])
            present = float(np.clip(loud[k] / max(0.5 * self._loud_ref, 1e-9), 0.0, 1.0)) if loud[k] > 0 else 0.0
            presence[k] = present
            self._sm = m[k] * present if self._sm is None else self._lam_m * self._sm + present * m[k]
            self._sp = self._lam_m * self._sp + present
            mean = self._sm / max(self._sp, 1e-9)
            earlier = self._earlier(m[k]) if o.motion_novelty > 0 else None
            if earlier is not None:
                mean = np.maximum(mean - o.motion_novelty * earlier, 0.0)
            peak = float(mean.max())
            excess = max(peak - o.motion_floor, 0.0)
            # New motion needs an earlier to be new against: nothing counts until motion_delay has passed.
            warm = self._sp > 0.5 and (o.motion_novelty <= 0 or self._sb is not None)
            conf[k] = 1.0 - np.exp(-excess / o.motion_scale) if warm else 0.0
            maps[k] = np.maximum(mean - o.motion_floor, 0.0)
        self._prev_y = y[-1].copy()
        return maps, conf, change, presence

    def _changing_views(self, change: np.ndarray | None, yaws: tuple[float, ...]) -> tuple[float, ...]:
        """Those of a detector's view ``yaws`` whose field holds visible change of at least half
        ``motion_floor`` (all of them where ``change`` is None)."""
        if change is None:
            return yaws
        yaw_g, pitch_g = grid_angles(*change.shape)
        rows = np.abs(pitch_g) <= VIEW_FOV / 2.0
        strong = (change[rows] >= 0.5 * self.options.motion_floor).any(axis=0)  # (w,) columns with change
        out = []
        for vy in yaws:
            cols = np.abs(((yaw_g - vy + 180.0) % 360.0) - 180.0) <= VIEW_FOV / 2.0
            if strong[cols].any():
                out.append(vy)
        return tuple(out)

    def _look(self, frame: np.ndarray, change: np.ndarray | None = None) -> np.ndarray:
        """(N, ROW) people on a detail frame, by each detector in its own views where the picture
        changes (``change``, the visible change map; None: every view), one row per person."""
        cascade = pose = None
        if self.cascade is not None:
            cascade = functools.partial(self.cascade, views=self._changing_views(change, VIEW_YAWS))
        if self.pose is not None:
            pose = functools.partial(self.pose, views=self._changing_views(change, POSE_YAWS))
        return all_people(cascade, pose, frame)

    def _still(self, change: np.ndarray, t: float) -> bool:
        """Whether the picture changes nowhere (the visible change map (h, w) under half ``motion_floor``
        everywhere, once a second of video has been seen: the map starts at zero): then it cannot say
        which person sounds."""
        return t >= STILL_AFTER and float(change.max()) < 0.5 * self.options.motion_floor

    def _people(self, batch: FrameBatch, change: np.ndarray, presence: np.ndarray,
                side: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """The people part: maps (B, h, w), confidences (B,) and the people held per frame.

        A look for people on each detail frame while sound is present; of the people held, those whose
        picture changes (the visible change map's peak inside the box, against ``motion_floor``: a
        player plays, a printed figure on a still wall does not) are candidates, and the one nearest
        the front wins (the operator pointed the camera at who matters): a blob the size of the box.

        ``side``: a stereo pair's lateral cue, (B, h, w) cone factors (``lateral_likelihood``) and (B,)
        reliabilities. A person counts as far as they sit on the cone, and the front falloff fades as the
        cue grows reliable (falloff ** (1 − reliability)): the falloff asks that a person far from the
        front be confirmed, and a reliable side is that confirmation. In a still picture of a talker at
        yaw −87 with two others nearer the front, the person nearest the front otherwise won and the
        cone, which had found the talker on its own, could only weaken that person's blob."""
        o = self.options
        b = len(batch.times)
        h, w = GRID
        maps = np.zeros((b, h, w), np.float32)
        conf = np.zeros(b)
        held: list[np.ndarray] = []
        yaw_g, pitch_g = grid_angles(h, w)
        for k in range(b):
            t = float(batch.times[k])
            frame = batch.detail.get(k) if batch.detail else None
            if frame is not None and presence[k] >= 0.5:
                # Only views where the picture changes (a person elsewhere could not pass the gate below),
                # or every view where it changes nowhere and still people count (people_still).
                if self._changing_views(change[k], VIEW_YAWS):
                    self.people.add(t, frame, change=change[k])
                elif o.people_still > 0 and self._still(change[k], t):
                    self.people.add(t, frame)
            people = self.people.at(t)
            held.append(people)
            if len(people) == 0 or presence[k] <= 0:
                continue
            best, best_d, best_gate, best_score, best_weight = None, np.inf, 0.0, 0.0, 1.0
            still = o.people_still if self._still(change[k], t) else 0.0
            rel = float(side[1][k]) if side is not None else 0.0
            for p in people:
                inside = ((np.abs(((yaw_g[None, :] - p[0] + 180.0) % 360.0) - 180.0) <= p[2] / 2 + 3.0)
                          & (np.abs(pitch_g[:, None] - p[1]) <= p[3] / 2 + 3.0))
                peak = float(change[k][inside].max()) if inside.any() else 0.0
                moving = float(np.clip(peak / max(o.motion_floor, 1e-6), 0.0, 1.0))
                gate = moving if moving >= 0.5 else still
                d = float(angular_distance(p[0], p[1], 0.0, 0.0))
                # A person whose picture changes beats a still one; among equals, the one nearest the front
                # (or, with a reliable stereo side, the one on its cone).
                weight = float(np.exp(-0.5 * (d / o.people_front_sigma) ** 2)) if o.people_front_sigma > 0 else 1.0
                if rel > 0:
                    py, pp = sound_point(p)
                    row = min(max(int(round(pitch_to_y(pp, h))), 0), h - 1)
                    col = int(round(yaw_to_x(wrap_yaw(py), w))) % w
                    weight = weight ** (1.0 - rel) * float(side[0][k, row, col])
                score = gate * weight
                if gate > 0 and (score > best_score or (score == best_score and d < best_d)):
                    best, best_d, best_gate, best_score, best_weight = p, d, gate, score, weight
            if best is None:
                continue
            # A blob at where the person sounds from (head to chest), as wide as the person.
            point_yaw, point_pitch = sound_point(best)
            dyaw = ((yaw_g[None, :] - point_yaw + 180.0) % 360.0) - 180.0
            sy, sp = max(best[2] / 3.0, 2.0), max(best[3] / 3.0, 2.0)
            maps[k] = np.exp(-0.5 * ((dyaw / sy) ** 2 + ((pitch_g[:, None] - point_pitch) / sp) ** 2))
            conf[k] = best_gate * presence[k] * (1.0 - np.exp(-(1.0 + max(float(best[4]), 0.0)))) * best_weight
        return maps, conf, held

    def _earlier(self, m: np.ndarray) -> np.ndarray | None:
        """The running mean of the motion from ``motion_delay`` ago back over ``motion_memory`` (None
        until there is any): a region that keeps moving whether or not it is the sound (a drummer, a
        fan, trees in wind) has as much of it as now, a region that starts to move has none."""
        self._recent.append(m)
        if len(self._recent) > self._delay:
            old = self._recent.popleft()
            lam = self._lam_b
            self._sb = old.copy() if self._sb is None else lam * self._sb + old
            self._wb = lam * self._wb + 1.0
        return None if self._sb is None else self._sb / self._wb

    # -- the batch ---------------------------------------------------------------------------------
    def process(self, batch: FrameBatch) -> SaliencyBatch:
        if batch.frames is None:
            raise OptionError("audiovisual needs frames; the pipeline did not pass any")
        frames = np.asarray(batch.frames)
        b = frames.shape[0]
        h, w = GRID
        if b == 0:
            return SaliencyBatch(np.zeros((0, h, w), np.float32), np.zeros(0))
        if frames.shape[1:3] != GRID:
            frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
        o = self.options
        mono = self._mono(batch.audio, b)
        dists, ks = [], []
        loud = np.zeros(b) if mono is None else audio_loudness(mono, self.audio_spec.sample_rate,
                                                               (100.0, 6000.0), 0.3)
        motion_maps, motion_conf, change, presence = self._motion(luminance(frames), loud)
        held = None
        lateral = self.stereo and batch.audio is not None and np.asarray(batch.audio).shape[1] >= 2
        est = self.lateral.update(np.asarray(batch.audio)[:, :2]) if lateral else None
        side = None
        if est is not None and np.any(est.reliability > 0):
            side = (lateral_likelihood(est, h, w, o.cone_floor), np.asarray(est.reliability, np.float64))
        if "people" in self.parts:
            people_maps, people_conf, held = self._people(batch, change, presence, side)
            if people_conf.any():  # most batches: nobody playing in view; skip the part's arithmetic
                d, has = as_distribution(people_maps)
                dists.append(d)
                ks.append(o.people_weight * people_conf * has * concentration(d))
        if "synchrony" in self.parts:
            res = self.sync.process(FrameBatch(batch.indices, batch.times, frames, mono))
            # Only where the picture visibly changes: synchrony's chance level is measured on the frame,
            # and on a still picture it correlates codec noise (±1-2 levels) with the sound.
            gate = np.clip(change / max(o.motion_floor, 1e-6), 0.0, 1.0)
            d, has = as_distribution(res.maps * gate)
            dists.append(d)
            # Renormalising the gated map would give a remnant the confidence of the whole (the sky's
            # peak gated away, a faint edge left at full weight): it keeps the share of the map it keeps.
            kept = _kept_share(res.maps, gate) if o.sync_gate_share else 1.0
            ks.append(o.synchrony_weight * res.confidence * kept * has * concentration(d))
        if "motion" in self.parts:
            d, has = as_distribution(motion_maps)
            dists.append(d)
            ks.append(o.motion_weight * motion_conf * has * concentration(d))
        if dists:
            k = np.stack(ks)  # (P, B)
            total = k.sum(axis=0)
            evidence = sum(ki[:, None, None].astype(np.float32) * di for ki, di in zip(k, dists, strict=True))
            evidence = evidence / np.where(total > 0, total, 1.0)[:, None, None].astype(np.float32)
            conf = 1.0 - np.prod(1.0 - np.clip(k, 0.0, 1.0), axis=0)
        else:
            evidence, conf = np.zeros((b, h, w), np.float32), np.zeros(b)
        if est is None:
            maps, conf = blend_prior(evidence, conf, o.prior_strength, o.prior_yaw_sigma, o.prior_pitch_sigma)
            return SaliencyBatch(maps.astype(np.float32), conf, people=held)
        rel = est.reliability
        maps, c_mono = blend_prior(evidence, conf, o.prior_strength, o.prior_yaw_sigma, o.prior_pitch_sigma)
        if not np.any(rel > 0):
            return SaliencyBatch(maps.astype(np.float32), c_mono, people=held)  # no usable lateral cue: the mono result
        # Where the pair places the sound, the prior only chooses front over back (and the horizon): a
        # narrow prior in yaw would pull a sound the pair places hard left back towards the front. Its
        # width grows with the reliability (in 5° steps: one prior per step), as the cone sharpens.
        sigma = o.prior_yaw_sigma + rel * (o.stereo_prior_yaw_sigma - o.prior_yaw_sigma)
        sigma = np.where(rel > 0, np.round(sigma / 5.0) * 5.0, o.prior_yaw_sigma)
        for value in np.unique(sigma[rel > 0]):
            idx = np.flatnonzero((sigma == value) & (rel > 0))
            maps[idx] = blend_prior(evidence[idx], conf[idx], o.prior_strength, float(value), o.prior_pitch_sigma)[0]
        maps = maps * side[0]
        # A reliable side is evidence by itself (with prior_strength=0 nothing else may vote).
        conf = np.maximum(c_mono, np.clip(2.0 * rel, 0.0, 1.0))
        return SaliencyBatch(maps.astype(np.float32), conf, people=held)
