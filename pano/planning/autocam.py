"""The ``autocam`` planner: Pano2Vid's AutoCam path search on sound-saliency scores.

Su, Jayaraman & Grauman (ACCV 2016) score a fixed grid of candidate view directions per time step and
pick the path with dynamic programming under a smoothness (maximum motion) constraint. This module only
wires the steps together; each lives in its own module:

* ``pano.planning.candidates`` — the candidate grid and the footprint matrix that scores every view of
  a pooled map in one product. Scores are weighted by the frame's confidence, so diffuse or silent
  frames barely vote; the map is then dropped.
* ``pano.planning.dp`` — per-block scores and the streaming Viterbi (coarse time, motion cost, cuts).
* ``pano.planning.editing`` — with ``cuts="auto"`` (the default), the editor's rules on the DP's cuts
  (``min_shot``, ``min_sound``).
* ``pano.planning.aims`` — refinement: the aim inside the chosen view, two-shots
  (``pano.planning.framing``), per-frame interpolation.
* ``pano.planning.composition`` — with ``subject="frame"`` (the default) pass 1 also finds the sounding
  subject's box in the picture (``Observation.subject``), and the aim frames the subject (whole when it
  fits, headroom for people, pitch from the picture within the sound's uncertainty) instead of the
  sound's point; the box each frame was composed on is recorded (``PlannedPath.subject``).
* ``pano.planning.aims.level_aims`` — with ``horizon`` > 0 (off by default), that many degrees of
  elevation are read as the horizon (real FOA elevation is biased by reflections; the camera keeps the
  horizon level unless a source is clearly high or low).
* ``pano.planning.zoom`` — where the run gives a field-of-view range, one eased field of view per
  shot (a two-shot that needs more than the nominal view widens it).
* the camera: ``motion="shots"`` (default) the L1-optimal still shots and eased pans of
  ``pano.planning.motion`` (the camera moves only when the aim leaves a central safe zone),
  ``"smooth"`` the older limit → smooth → limit chain (``pano.planning.smoothing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from common.options import PluginOptions, option
from pano.planning.aims import AimRules, block_aims, frame_aims, level_aims, two_shot_blocks
from pano.planning.base import Observation, PlannedPath, Planner, max_accel_option, max_speed_option
from pano.planning.candidates import candidate_grid, footprint_matrix, pool_maps
from pano.planning.composition import compose, hangs_from_top, keep_sound_in_view, refit_to_held_view, sound_on_box
from pano.planning.dp import BlockPath, BlockScores, Viterbi, block_frames
from pano.planning.editing import EditRules, edit_shots, is_cut
from pano.planning.motion import MotionStyle, ShotCamera
from pano.planning.smoothing import SmoothCamera, frame_steps, onset_breaks
from pano.planning.zoom import shot_fovs
from pano.sphere.geometry import area_weights, vec_to_yaw_pitch, yaw_pitch_to_vec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pano.run.context import RunContext


@dataclass(frozen=True)
class AutoCamOptions(PluginOptions):
    max_speed: float = max_speed_option()
    yaw_step: float = option(10.0, "candidate spacing in yaw (degrees)", lo=1.0, hi=90.0)
    pitch_step: float = option(20.0, "candidate spacing in pitch (degrees)", lo=1.0, hi=90.0)
    pitch_max: float = option(60.0, "highest candidate pitch (degrees)", lo=0.0, hi=89.0)
    motion_cost: float = option(0.008, "score-seconds per degree moved (enough that two sources that fit in "
                                "one view are framed together rather than panned between)", lo=0.0, hi=10.0)
    min_confidence: float = option(0.15, "frames below it do not vote and the aim is held", lo=0.0, hi=1.0)
    smooth: float = option(0.4, "Gaussian smoothing sigma of the path (s; motion=smooth only)", lo=0.0, hi=60.0)
    max_accel: float = max_accel_option()
    cuts: str = option("auto", "auto = cut instead of panning longer than max_pan_time to a new source "
                       "(editor's rules: min_shot, min_sound); never = always pan", choices=("auto", "never"))
    max_pan_time: float = option(2.0, "longest pan before a cut (s)", lo=0.1, hi=60.0)
    cut_cost: float = option(0.5, "score-seconds a cut costs", lo=0.0, hi=100.0)
    score_grid: int = option(32, "maps are pooled to at most this many rows", lo=4, hi=512)

    min_shot: float = option(1.5, "cuts: no shot shorter than this (s)", lo=0.0, hi=60.0)
    min_sound: float = option(0.5, "cuts: no cut to a view whose sound lasts less than this (s)", lo=0.0, hi=10.0)
    motion: str = option("shots", "how the camera moves: shots = L1-optimal still shots and eased pans; "
                         "smooth = the older Gaussian smoothing", choices=("shots", "smooth"))
    safe_zone: float = option(0.15, "half-width of the central zone (fraction of the field of view) the aim "
                              "may wander in without moving the camera", lo=0.0, hi=0.45)
    aim_memory: float = option(2.0, "the aim is the centroid of what the chosen view held over ± this many "
                               "seconds (two talkers taking turns in one view: one aim between them)",
                               lo=0.0, hi=30.0)
    two_shot: float = option(8.0, "two-shot: where the places attended to within ± this many seconds all fit "
                             "in the view, frame them all (dialogue) instead of panning at each turn; 0 = off",
                             lo=0.0, hi=120.0)
    two_shot_margin: float = option(2.0, "two-shot: degrees kept free inside each edge of the view",
                                    lo=0.0, hi=20.0)
    horizon: float = option(0.0, "degrees of elevation read as the horizon: the aim's pitch p becomes "
                            "sign(p)·max(0, |p| − this), for FOA whose elevation reflections pull 10–20° off "
                            "(8 keeps heads in frame on such footage; it costs sources that really sit 10–20° "
                            "up or down); 0 = off, the sound's own elevation", lo=0.0, hi=45.0)
    subject: str = option("frame", "frame = find the sounding subject in the picture around the sound and "
                          "compose its shot (whole when it fits, headroom, zoom); off = aim at the sound's "
                          "point", choices=("frame", "off"))
    faces: str = option("frontal", "subject=frame: a person whose face is found near the sound is the subject "
                        "too, framed head and shoulders under headroom (at 960×480 the body detector misses "
                        "most close talkers and seated players): frontal = frontal faces; profile = also "
                        "faces in profile; off = bodies only", choices=("frontal", "profile", "off"))
    bodies: str = option("pose", "subject=frame: what finds a person's body near the sound: pose = "
                         "BlazePose's person detector as well as OpenCV's HOG (it finds people seated, bent over "
                         "an instrument, in profile, which HOG misses at 960×480, and frames them whole, head "
                         "included; needs the LiteRT runtime, installed with pano-pan where a wheel exists, else "
                         "the run says so and uses HOG); hog = HOG only", choices=("pose", "hog"))


def _with_framed(values: np.ndarray, blk: np.ndarray, framed: dict[int, tuple], pick) -> np.ndarray:
    """``values`` (one row per frame, ``blk`` its block) with each frame of a two-shot block set to
    ``pick(framed[block])``. The per-frame arrays were lists of a Python float or tuple per frame (about 40
    bytes a frame at once, 9 MB for two hours); these are the same floats."""
    if not framed:
        return values
    keys = np.array(sorted(framed), dtype=np.int64)
    rows = np.array([pick(framed[int(b)]) for b in keys], dtype=np.float64)
    at = np.minimum(np.searchsorted(keys, blk), len(keys) - 1)
    hit = keys[at] == blk
    values[hit] = rows[at[hit]]
    return values


class AutoCamPlanner(Planner):
    """AutoCam-style planner (see module docstring). All angles in degrees, times in seconds."""

    name = "autocam"
    Options = AutoCamOptions

    def __init__(self, ctx: RunContext | None = None, options: AutoCamOptions | None = None) -> None:
        super().__init__(ctx, options)
        o = self.options
        self.cuts = o.cuts == "auto"

        self.cand_yaw, self.cand_pitch = candidate_grid(o.yaw_step, o.pitch_step, o.pitch_max)
        self.cand_vec = yaw_pitch_to_vec(self.cand_yaw, self.cand_pitch)
        c = len(self.cand_yaw)
        n_p = c // len(np.unique(self.cand_yaw))
        spacing = max(o.yaw_step, (2 * o.pitch_max / (n_p - 1)) if n_p > 1 else 0.0)
        self.k = block_frames(spacing, o.max_speed, self.fps)
        self.reach = o.max_speed * self.k / self.fps
        dist = np.degrees(np.arccos(np.clip(self.cand_vec @ self.cand_vec.T, -1, 1)))
        # A whisper of preference for the front and the horizon, on the first block only, breaks ties
        # in an all-silent video (which then looks ahead instead of at candidate 0, the floor behind).
        self._prior = (1e-4 * (self.cand_vec @ np.array([1.0, 0.0, 0.0]))).astype(np.float64)
        self._dp = Viterbi(dist, self.reach, o.motion_cost, self._prior,
                           cut_dist=o.max_speed * o.max_pan_time if self.cuts else None, cut_cost=o.cut_cost)
        self._edit = EditRules(dist, self.reach, self.k / self.fps, o.min_shot, o.min_sound,
                               o.max_speed * o.max_pan_time)
        self.zoom = self.ctx.geometry.hfov_range  # None: the field of view is fixed
        self._aim = AimRules(self.cand_vec, self.k, self.fps, self.hfov, self.vfov, o.aim_memory, o.two_shot,
                             o.two_shot_margin, max_hfov=self.zoom[1] if self.zoom else None)
        self._blocks = BlockScores(c, self.k)

        self._footprints: dict[tuple[int, int], sp.csr_matrix] = {}
        self._times: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._act: list[np.ndarray] = []  # per frame: confident and not empty (it votes)
        self._n = 0
        # Commitment state (frames handed out so far).
        self._decided: list[int] = []  # final candidate per block, in order
        self._hold: np.ndarray | None = None  # last aim carried into the next block
        if o.motion == "shots":
            self._calmer = ShotCamera(
                self.fps, self.hfov, self.vfov, o.max_speed, o.max_accel, MotionStyle(zone=o.safe_zone)
            )
        else:
            self._calmer = SmoothCamera(o.smooth * self.fps, o.max_speed, o.max_accel)
        self._cut_frames: list[np.ndarray] = []
        self._out: list[np.ndarray] = []
        self._want: list[np.ndarray] = []  # per committed frame: the field of view its shot wants (NaN: any)
        self._subject: list[np.ndarray] = []  # per observed frame: the subject's box from pass 1 (NaN: none)
        self._framed_box: list[np.ndarray] = []  # per committed frame: the box its shot was composed on
        self._sound: list[np.ndarray] = []  # per committed frame: the (yaw, pitch) its shot was composed around
        self._hangs: list[np.ndarray] = []  # per committed frame: its composed shot hangs from the subject's top
        self._committed = 0

    # ----------------------------------------------------------------- pass 1
    def _footprint(self, h: int, w: int) -> sp.csr_matrix:
        if (h, w) not in self._footprints:
            self._footprints[(h, w)] = footprint_matrix(
                self.cand_yaw, self.cand_pitch, h, w, self.hfov, self.vfov
            )
        return self._footprints[(h, w)]

    def observe(self, obs: Observation) -> None:
        times = np.asarray(obs.times, dtype=np.float64).ravel()
        conf = np.clip(np.nan_to_num(np.asarray(obs.confidence, dtype=np.float64).ravel()), 0, 1)
        b = len(times)
        if b == 0:
            return
        maps = pool_maps(obs.maps, self.options.score_grid)
        h, w = maps.shape[1:]
        fp = self._footprint(h, w)
        flat = maps.reshape(b, -1)
        total = flat @ np.broadcast_to(area_weights(h), (h, w)).ravel().astype(np.float32)
        res = np.asarray(fp @ np.ascontiguousarray(flat.T), dtype=np.float64)  # (4C, B)
        c = len(self.cand_yaw)
        vote = np.where(conf >= self.options.min_confidence, conf, 0.0) / self.fps
        scale = np.divide(vote, total, out=np.zeros(b), where=total > 0)  # per frame
        scores = res[:c] * scale[None, :]
        moms = res[c:].reshape(3, c, b) * scale[None, None, :]
        self._times.append(times)
        self._conf.append(conf.astype(np.float32))
        self._act.append((vote > 0) & (total > 0))
        box = obs.subject if obs.subject is not None and self.wants_subjects else np.full((b, 4), np.nan)
        box = np.asarray(box, dtype=np.float32).reshape(b, -1)
        if box.shape[1] == 4:  # no face column: no person found by the face
            box = np.concatenate([box, np.full((b, 1), np.nan, np.float32)], axis=1)
        self._subject.append(box[:, :5])
        for score in self._blocks.add(scores, moms, vote):
            self._dp.forward(score)
        self._n += b

    @property
    def wants_subjects(self) -> bool:
        return self.options.subject == "frame"

    @property
    def subject_faces(self) -> str:
        return self.options.faces if self.wants_subjects else "off"

    @property
    def subject_bodies(self) -> str:
        return self.options.bodies if self.wants_subjects else "hog"

    # ------------------------------------------------------------- decisions
    def _block_box(self, b: int, aim: np.ndarray, boxes: np.ndarray) -> np.ndarray | None:
        """The median subject box of block b's frames, if it holds the block's aim (:meth:`_holds`)."""
        got = boxes[b * self.k : (b + 1) * self.k]
        got = got[np.all(np.isfinite(got[:, :4]), axis=1)]
        if not len(got):
            return None
        faced = np.isfinite(got[:, 4])
        got = got[faced] if 2 * faced.sum() > len(got) else got[~faced]  # found by the face, or not: the most
        box = np.median(got, axis=0)
        return box if self._holds(box, aim) else None  # else a box found around another source

    @staticmethod
    def _holds(box: np.ndarray, aim: np.ndarray) -> bool:
        """Whether ``box`` holds the sound's direction ``aim`` (a unit vector), 10° to spare in yaw and
        25° in pitch (the FOA's elevation is that uncertain, see ``pano.localizers.subject``)."""
        y, p = vec_to_yaw_pitch(aim)
        dy = abs((float(y) - box[0] + 180.0) % 360.0 - 180.0) * np.cos(np.radians(float(p)))
        return bool(dy <= box[2] / 2 + 10.0 and abs(float(p) - box[1]) <= box[3] / 2 + 25.0)

    @staticmethod
    def _near_boxes(offset: np.ndarray, j: int, reach: int) -> np.ndarray | None:
        """The boxes (rows of ``offset``) within ± ``reach`` blocks of block j, if most of them have one
        of a size within 25% of block j's; else None."""
        near = offset[max(0, j - reach) : j + reach + 1]
        near = near[np.isfinite(near[:, 0])]
        o = offset[j]
        if len(near) < max(2, reach) or not np.all(np.abs(near[:, 2:4] - o[2:4]) <= 0.25 * o[2:4] + 1.0):
            return None
        return near

    @classmethod
    def _in_place(cls, offset: np.ndarray, j: int, reach: int, tol: float = 6.0) -> bool:
        """Whether block j's box stays in place (its columns 4-5, the box's own yaw and pitch, within
        ``tol`` degrees) over ± ``reach`` blocks: a still subject."""
        near = cls._near_boxes(offset, j, reach)
        o = offset[j]
        return near is not None and bool(np.all(np.abs((near[:, 4] - o[4] + 180.0) % 360.0 - 180.0) <= tol)
                                         and np.all(np.abs(near[:, 5] - o[5]) <= tol))

    @classmethod
    def _steady(cls, offset: np.ndarray, j: int, reach: int, tol: float = 6.0) -> bool:
        """Whether block j's box keeps its place over ± ``reach`` blocks: most of them have a box, of a
        size within 25%, and either offset from the sound within ``tol`` degrees (it moves with the
        sound) or in place within ``tol`` (:meth:`_in_place`: a still subject under a sound that
        wobbles: one frame's FOA elevation is 10–20° off a seated player, and each block's box still
        holds its block's aim)."""
        near = cls._near_boxes(offset, j, reach)
        if near is None:
            return False
        return bool(np.all(np.abs(near[:, :2] - offset[j, :2]) <= tol)) or cls._in_place(offset, j, reach, tol)

    def _compose(self, tgts: list, first: int, framed: dict) -> tuple[list, np.ndarray, np.ndarray, np.ndarray,
                                                                      np.ndarray]:
        """Block aims composed on the subject where pass 1 found one (``pano.planning.composition``);
        with the field of view each block then wants, its box (NaN where none), whether its shot hangs
        from the box's top (``hangs_from_top``) and the (yaw, pitch) of the sound it must keep in view
        (the aim, its pitch pulled onto the box: ``sound_on_box``)."""
        nb = len(tgts)
        heard = np.array([vec_to_yaw_pitch(t) for t in tgts], np.float32).reshape(-1, 2)
        # The boxes are float32 (medians of pass 1's float32 boxes), kept so: exact, half the size.
        want, used = np.full(nb, np.nan), np.full((nb, 4), np.nan, np.float32)
        hangs = np.zeros(nb, bool)
        if not self.wants_subjects or not self._subject:
            return tgts, want, used, hangs, heard
        boxes = np.concatenate(self._subject)
        found = [self._block_box(first + j, t, boxes) if self._blocks.w[first + j] > 0 else None
                 for j, t in enumerate(tgts)]
        offset = np.full((nb, 6), np.nan)  # the box relative to the sound: yaw, pitch offsets, size, place
        for j, box in enumerate(found):
            if box is not None:
                y, p = vec_to_yaw_pitch(tgts[j])
                offset[j] = ((box[0] - float(y) + 180.0) % 360.0 - 180.0, box[1] - float(p), box[2], box[3],
                             box[0], box[1])
        reach = max(1, int(round(1.0 * self.fps / self.k)))  # ± 1 s
        out = list(tgts)
        last, still_last = -reach - 1, False  # the last composed block, and whether its subject is still
        own = np.zeros(nb, bool)  # composed on its own box
        still = np.zeros(nb, bool)  # ... and the subject is still there
        for j, t in enumerate(tgts):
            b = first + j
            if self._blocks.w[b] <= 0:  # silence holds the last composed aim
                out[j] = out[j - 1] if j > 0 else t
                want[j], used[j] = (want[j - 1], used[j - 1]) if j > 0 else (np.nan, used[j])
                hangs[j] = hangs[j - 1] if j > 0 else False
                heard[j] = heard[j - 1] if j > 0 else heard[j]
                continue
            box = found[j]
            y, p = vec_to_yaw_pitch(t)
            if b in framed or box is None or not self._steady(offset, j, reach):
                # A moment without the box of a still subject (the sound on another player for a
                # block, a look that missed) holds the shot up to a second while the sound stays on
                # the last box: the composed view does not bob down to the sound's point and back. A
                # moving subject's shot is not held: its last aim would trail the subject.
                if (b not in framed and j - last <= reach and still_last and self._holds(used[last], t)):
                    out[j], want[j], used[j], hangs[j] = out[last], want[last], used[last], hangs[last]
                    heard[j] = (y, sound_on_box(float(p), used[last]))
                continue
            # Still within 2°: a slow mover (5°/s) stays within the 6° of `_steady` over ± 1 s.
            last, still_last = j, self._in_place(offset, j, reach, tol=2.0)
            own[j], still[j] = True, still_last
            cy, cp, want[j] = compose(float(y), float(p), box, self.hfov, self.vfov, self.zoom)
            out[j] = yaw_pitch_to_vec(cy, cp).reshape(3)
            used[j] = box[:4]
            hangs[j] = hangs_from_top(box, want[j], self.hfov, self.vfov)
            heard[j, 1] = sound_on_box(float(p), box)
        if first == 0:
            self._open_on_subject(tgts, own, still, reach, framed, (out, want, used, hangs, heard))
        return out, want, used, hangs, heard

    def _open_on_subject(self, tgts: list, own: np.ndarray, still: np.ndarray, reach: int, framed: dict,
                         shot: tuple) -> None:
        """The opening shot composed from its first frame (in place on ``shot``: aims, wanted fov, box,
        hangs, heard). The first look that finds a person comes a moment after the sound starts, and the
        box must be steady over ± 1 s, so the video opened on the sound's point and then tilted and widened
        onto the subject (a real close talker, x03 of ``benchmarks/camera_real.py``: his head out of the
        frame for the first second). So where the subject is found within two seconds of the first sound,
        the sounding blocks before the first composed one take its shot while its subject is still and
        holds their sound, and a silent opening takes the first sounding block's aim. A later first
        subject belongs to a later shot, which opens as before."""
        out, want, used, hangs, heard = shot
        lead = next((j for j in range(len(tgts)) if self._blocks.w[j] > 0), None)
        f = int(np.argmax(own)) if own.any() else None
        if f is not None and lead is not None and still[f] and f - lead <= 2 * reach:  # found as it opens
            for j in range(f - 1, lead - 1, -1):
                if self._blocks.w[j] <= 0:
                    continue
                if j in framed or not self._holds(used[f], tgts[j]):
                    break
                y, p = vec_to_yaw_pitch(tgts[j])
                out[j], want[j], used[j], hangs[j] = out[f], want[f], used[f], hangs[f]
                heard[j] = (y, sound_on_box(float(p), used[f]))
        for j in range(lead or 0):
            out[j], want[j], used[j], hangs[j], heard[j] = out[lead], want[lead], used[lead], hangs[lead], heard[lead]

    def _decided_and(self, cands: list[int], first_block: int) -> Mapping[int, int]:
        return BlockPath(self._decided, cands, first_block)

    def _is_cut(self, cands: Mapping[int, int], b: int, framed: dict[int, tuple] | None = None) -> bool:
        return self.cuts and is_cut(self._edit, cands, self._blocks, b, framed)

    def _decide(self) -> None:
        """Decide every block and commit its frames to the output."""
        if self._blocks.open_frames:
            self._dp.forward(self._blocks.close())
        nb = len(self._dp)
        if nb == 0:
            return
        upto = nb
        tentative = self._dp.backtrack(len(self._decided), nb)  # blocks [decided, nb)
        if self.cuts:
            tentative = edit_shots(self._edit, self._decided, tentative, self._blocks)
        n_new = max(0, upto - len(self._decided))
        if n_new == 0:
            return
        first = len(self._decided)
        every = self._decided_and(tentative, first)
        framed = two_shot_blocks(self._aim, self._blocks, every, first, len(tentative))
        tgts, _, _ = block_aims(self._aim, self._blocks, every, tentative, first, self._hold, framed)
        if all(t is None for t in tgts):
            # Nothing heard in the whole window: look ahead (front, horizon) rather than hold output
            # back indefinitely; a streaming viewer cannot wait for the first sound.
            tgts = [self.cand_vec[int(np.argmax(self._prior))]] * len(tgts)
        first_tgt = next(t for t in tgts if t is not None)
        tgts = [first_tgt if t is None else t for t in tgts]
        tgts = level_aims(tgts, first, framed, self.options.horizon)
        tgts, comp_want, comp_box, comp_hangs, sound = self._compose(tgts, first, framed)
        times = np.concatenate(self._times)
        f0 = self._committed
        f1 = self._n
        act = np.concatenate(self._act)
        v, cuts = frame_aims(self._aim, self._blocks, act, tgts, first, f0, self._n,
                             lambda b: self._is_cut(every, b, framed))
        dt = frame_steps(times, self.fps)[f0:]
        onsets = onset_breaks(act, int(np.ceil(3 * self.options.smooth * self.fps)))
        onsets = onsets[onsets >= f0] - f0
        room = None  # inside a two-shot the camera may stray only as far as keeps everyone in view
        blk = np.arange(f0, self._n) // self.k
        if framed:
            room = _with_framed(np.full((len(blk), 2), np.inf), blk, framed, lambda v: v[1:3])
        self._want.append(_with_framed(comp_want[blk[: f1 - f0] - first], blk[: f1 - f0], framed, lambda v: v[3]))
        self._framed_box.append(comp_box[blk[: f1 - f0] - first])
        self._sound.append(sound[blk[: f1 - f0] - first])
        self._hangs.append(comp_hangs[blk[: f1 - f0] - first])
        out = self._calmer.push(v, dt, f1 - f0, cuts, onsets, room=room)
        self._out.append(out)
        self._cut_frames.append(f0 + cuts[cuts < f1 - f0])
        self._committed = f1
        # Commit the decided blocks and the hold state they leave.
        self._decided.extend(tentative[:n_new])
        _, _, self._hold = block_aims(self._aim, self._blocks, self._decided_and(tentative[:n_new], first),
                                      tentative[:n_new], first, self._hold, framed)
        if self._hold is None:  # the committed frames were back-filled with the first aim
            self._hold = first_tgt

    def cut_frames(self) -> np.ndarray:
        """Indices of committed frames that start a new shot (the view jumps there)."""
        return np.concatenate(self._cut_frames).astype(int) if self._cut_frames else np.zeros(0, int)

    # ------------------------------------------------------------------ output
    def _path(self, start: int) -> PlannedPath:
        vec = np.concatenate(self._out)[start:] if self._out else np.zeros((0, 3))
        x, y, z = vec[:, 0], vec[:, 1], vec[:, 2]
        yaw = ((np.degrees(np.arctan2(-y, x)) + 180.0) % 360.0) - 180.0
        pitch = np.degrees(np.arctan2(z, np.hypot(x, y)))
        conf = np.concatenate(self._conf)[start : start + len(vec)] if self._conf else np.zeros(0)
        cut = np.zeros(len(vec), bool)
        frames = self.cut_frames() - start
        cut[frames[(frames >= 0) & (frames < len(vec))]] = True
        hfov = vfov = None
        if self.zoom is not None and len(vec):
            want = np.concatenate(self._want)[start : start + len(vec)]
            hfov = shot_fovs(want, np.nonzero(cut)[0], self.fps, self.hfov, *self.zoom)
            vfov = self.ctx.geometry.vfov_for(hfov)
        box = np.concatenate(self._framed_box)[start : start + len(vec)] if self._framed_box else None
        if box is not None and not np.isfinite(box).any():
            box = None
        if box is not None:  # the zoom's held view may differ from the one the shot was composed for
            h = hfov if hfov is not None else np.full(len(vec), self.hfov)
            v = vfov if vfov is not None else np.full(len(vec), self.vfov)
            if hfov is not None:
                hangs = np.concatenate(self._hangs)[start : start + len(vec)]
                pitch = refit_to_held_view(pitch, hangs, self.ctx.geometry.vfov_for(want), v, cut, self.fps)
            sound = np.concatenate(self._sound)[start : start + len(vec)]
            yaw, pitch = keep_sound_in_view(yaw, pitch, sound, np.isfinite(box[:, 0]), h, v, cut, self.fps)
        return PlannedPath(yaw=yaw, pitch=pitch, confidence=conf.astype(np.float64), hfov=hfov, vfov=vfov, cut=cut,
                           subject=box)

    def plan(self) -> PlannedPath:
        self._decide()
        return self._path(0)

    def release(self) -> None:
        """Drop the per-frame lists (times, confidence, activity, boxes, the committed path and its
        wants): about 100 bytes a frame, 20 MB for two hours, otherwise held through the render. The
        spilled block scores stay for ``yaw_strip``; the cuts stay for ``cut_frames``."""
        for name in ("_times", "_conf", "_act", "_subject", "_out", "_want", "_framed_box", "_sound", "_hangs"):
            getattr(self, name).clear()

    def yaw_strip(self) -> np.ndarray | None:
        """(N, yaw candidates) best captured fraction over pitch per yaw, block-constant, for plots."""
        if not self._blocks.score:
            return None
        n_y = len(np.unique(self.cand_yaw))
        s = np.array([row.reshape(-1, n_y).max(axis=0) for row in self._blocks.score])  # one block at a time
        w = np.array(self._blocks.w)[:, None]
        s = np.divide(s, w, out=np.zeros_like(s), where=w > 0)
        return np.repeat(s, self.k, axis=0)[: self._n]

    def describe(self) -> dict:
        return super().describe() | {"dp_block_frames": self.k}
