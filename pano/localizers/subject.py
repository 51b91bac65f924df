"""The sounding subject's extent in the picture: a box around the sound's direction.

Sound says *where*; the picture says *what*. The camera should frame the player, not the sound hole, so
pass 1 looks at the panorama around each frame's sound direction and finds the region the direction
falls in: a colour segmentation seeded there. The patch ``reach`` degrees either side of the direction
is cut from the equirectangular frame (yaw scaled by cos(pitch), so a box is in view degrees), smoothed,
and flood-filled from the seed with a fixed colour tolerance in Lab; the component that holds the seed is
the subject. It is refused when it is a speck (under ``min_size`` degrees: the seed fell on an edge) or
fills over a third of the patch or reaches its border (the seed fell on the floor, a wall, the sky:
background, not a subject), and the frames where the sound itself is weak are skipped. The planner
then uses a box only where it keeps its place relative to the sound for a while (a region that moves
with the sound), so a still background region under a moving sound is not taken for its subject.

This is a seeded region, not a detector: a subject of one colour against a different background (a
performer in dark clothes on a lit stage, a vehicle, the synthetic scenes of the benchmark) comes out
whole; a many-coloured one (a face above a shirt above jeans) gives the part the sound comes from,
which the planner then frames with headroom. Boxes are (yaw, pitch, width, height) in degrees, NaN
where none was found. Runs on a small frame (the caller's choice, e.g. 512×256) a few times a second.

People come first (:class:`SubjectFinder`): a body the HOG detector finds, or a face (at 960×480 HOG
misses most real people: close talkers, seated players, a band's singer), or a body BlazePose's person
detector finds (``bodies="pose"``, ``pano.localizers.poses``: people seated, bent over an instrument,
in profile), whose person box holds the sound's direction. A face-found person is framed by the face,
not by the body guessed below it: the box is the head and shoulders
(``pano.localizers.people.head_and_shoulders``) and carries the face's height as a fifth column, which
tells the composition to frame it tight under headroom (the body goes on below the frame) instead of
whole with room around it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from common.errors import InputError
from pano.localizers.base import FrameBatch
from pano.localizers.people import (
    PeopleTrack,
    PersonDetector,
    as_rows,
    head_and_shoulders,
    person_at,
)
from pano.localizers.poses import POSE_SCORE, PoseDetector, all_people
from pano.sphere.geometry import angular_distance

NO_BOX = (np.nan, np.nan, np.nan, np.nan)


def _patch(frame: np.ndarray, yaw: float, pitch: float, reach: float) -> tuple[np.ndarray, float]:
    """The region ±``reach`` degrees around (yaw, pitch) as an image in view degrees (rows: pitch down,
    columns: yaw scaled by cos(pitch)), one pixel per ``step`` degrees; and that step."""
    h, w = frame.shape[:2]
    step = 360.0 / w
    n = int(round(2 * reach / step)) + 1
    off = np.linspace(-reach, reach, n)
    cos = max(np.cos(np.radians(pitch)), 0.2)
    pitches = np.clip(pitch - off, -89.9, 89.9)  # rows top → bottom
    yaws = yaw + off / cos
    map_x = ((yaws / 360.0 + 0.5) * w - 0.5) % w
    map_y = (0.5 - pitches / 180.0) * h - 0.5
    mx, my = np.meshgrid(map_x.astype(np.float32), map_y.astype(np.float32))
    return cv2.remap(frame, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP), step


# Where the seed falls on background, seeds this many degrees above (then below) it are tried: FOA
# elevation is uncertain by about 25°, mostly downwards (a floor or platform reflects the sound).
SEED_OFFSETS = (0.0, 8.0, 16.0, 24.0, -8.0)


def subject_box(
    frame: np.ndarray, yaw: float, pitch: float, reach: float = 60.0, tolerance: float = 14.0,
    min_size: float = 3.0,
) -> tuple[float, float, float, float]:
    """(yaw, pitch, width, height) degrees of the region the direction (yaw, pitch) falls in, on an RGB
    equirectangular ``frame`` (or the nearest one up or down within the FOA's uncertainty,
    ``SEED_OFFSETS``); NaN when there is none (see the module docstring)."""
    if not (np.isfinite(yaw) and np.isfinite(pitch)):
        return NO_BOX
    for dp in SEED_OFFSETS:
        box = _seeded_box(frame, yaw, float(np.clip(pitch + dp, -85.0, 85.0)), reach, tolerance, min_size)
        if np.isfinite(box[0]):
            return box
    return NO_BOX


def _seeded_box(
    frame: np.ndarray, yaw: float, pitch: float, reach: float, tolerance: float, min_size: float,
) -> tuple[float, float, float, float]:
    """The region seeded exactly at (yaw, pitch), or NO_BOX."""
    img, step = _patch(frame, yaw, pitch, reach)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    n = lab.shape[0]
    c = n // 2
    mask = np.zeros((n + 2, n + 2), np.uint8)
    tol = (tolerance,) * 3
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
    cv2.floodFill(lab, mask, (c, c), (0, 0, 0), tol, tol, flags)
    region = mask[1:-1, 1:-1] > 0
    if region.sum() < 4:
        return NO_BOX
    rows, cols = np.nonzero(region)
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    if region.mean() > 0.35 or r0 == 0 or c0 == 0 or r1 == n - 1 or c1 == n - 1:
        return NO_BOX  # background: the seed fell on the floor, a wall or the sky (it runs off the patch)
    width, height = (c1 - c0 + 1) * step, (r1 - r0 + 1) * step
    if max(width, height) < min_size:
        return NO_BOX
    cy = (0.5 * (c0 + c1) - c) * step  # view degrees right of the seed
    cp = (c - 0.5 * (r0 + r1)) * step  # up
    box_pitch = pitch + cp
    box_yaw = yaw + cy / max(np.cos(np.radians(pitch)), 0.2)
    return float((box_yaw + 180.0) % 360.0 - 180.0), float(box_pitch), float(width), float(height)


def subject_boxes(
    frames: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, confidence: np.ndarray, min_confidence: float = 0.15,
) -> np.ndarray:
    """(B, 4) boxes for a batch of RGB equirectangular frames and their sound directions; NaN rows for
    frames whose sound is too weak to seed a subject (below ``min_confidence``)."""
    out = np.full((len(frames), 4), np.nan)
    for i in range(len(frames)):
        if confidence[i] >= min_confidence:
            out[i] = subject_box(frames[i], float(yaw[i]), float(pitch[i]))
    return out


# The people detector's SVM margin for a subject, as for the mono people part: at -0.3 (a weaker detection,
# the sound confirming it) a false person on the real calibration clip's label grid took capture 1.00 -> 0.93.
SUBJECT_HOG_THRESHOLD = 0.0
# A face alone scores below any body at that margin: where the HOG detector finds the body too (the two
# boxes merge), the whole body is the subject, as before faces were looked for.
SUBJECT_FACE_SCORE = -1.0
# A person who is the subject stays it while the sound wobbles off their box by up to this many degrees
# (instead of person_at's 10) for STICKY_SECONDS since the last frame the sound fell on them: one
# frame's FOA elevation dips 10-20° below a seated pianist as the keys' sound reflects off the floor,
# and dropping the subject there swings the composed view up and down by half a frame.
STICKY_SLACK = 20.0
STICKY_SECONDS = 2.0


class SubjectFinder:
    """The pipeline's look at the picture: per frame, the box of the subject at the sound's direction.

    A person whose box holds the sound's direction (``pano.localizers.people``) is the subject — the
    whole body, head and instrument, which a colour region on busy real footage seldom gives; with
    ``faces="frontal"`` (the default) a person found by a frontal face (``"profile"``: a face in
    profile as well) too, framed as head and shoulders (the module docstring); with ``bodies="pose"`` (the
    default, as the ``autocam`` planner's ``bodies`` option; ``"hog"``: OpenCV's detectors only) a body
    BlazePose's detector finds where neither did; otherwise the colour region the
    direction falls in (:func:`subject_box`). People come from the localizer when it looked for them
    already (``SaliencyBatch.people``, the ``audiovisual`` people part), else from its own
    :class:`PeopleTrack` on the batches' detail frames while the sound is confident (``people=False``:
    no detectors of its own, for a localizer that finds people itself). Boxes are found
    on every ``every``-th frame (a few times a second is enough to frame); NaN rows elsewhere.
    """

    def __init__(self, every: int = 3, people: bool = True, min_confidence: float = 0.15,
                 notify=None, faces: str | bool = "frontal", bodies: str = "pose") -> None:
        self.every = max(1, int(every))
        self.min_confidence = float(min_confidence)
        faces = {True: "frontal", False: "off"}.get(faces, faces)
        if faces not in ("frontal", "profile", "off"):
            raise ValueError(f"faces={faces!r}: frontal, profile or off")
        self.faces = faces != "off"
        if bodies not in ("pose", "hog"):
            raise ValueError(f"bodies={bodies!r}: pose or hog")
        self.track: PeopleTrack | None = None
        if people:
            try:
                # The sound's direction must fall in the box as well. A finer pyramid (two views, not
                # six, so it costs less than the mono part's look).
                cascade = PersonDetector(hog_threshold=SUBJECT_HOG_THRESHOLD, scale=1.1, faces=self.faces,
                                         profiles=faces == "profile", face_score=SUBJECT_FACE_SCORE).detect
            except InputError as exc:  # OpenCV 5: no detector models; frame colour regions only
                cascade = None
                if notify is not None:
                    notify(f"note: no HOG people or face cascade ({exc})")
            pose = None
            if bodies == "pose":
                try:
                    pose = PoseDetector(score=POSE_SCORE).detect
                except InputError as exc:
                    if notify is not None:
                        notify(f"note: no pose detector ({exc})")
            if cascade is not None or pose is not None:
                self.track = PeopleTrack(functools.partial(all_people, cascade, pose))
            elif notify is not None:
                notify("note: subjects are colour regions only")
        self._last: tuple[float, np.ndarray] | None = None  # (time, row): the person last held the sound
        self.people_boxes = 0  # how many frames' boxes were people (for the run's record)
        self.face_boxes = 0  # of those, how many were people found by the face

    def boxes(self, batch: FrameBatch, people: list[np.ndarray] | None, yaw: np.ndarray, pitch: np.ndarray,
              confidence: np.ndarray) -> np.ndarray:
        """(B, 5) boxes for a batch whose frames (``batch.frames``, else ``batch.looks``) and sound
        directions are given: yaw, pitch, width, height (degrees) and the face's height where the
        subject is a person found by the face (NaN otherwise; see the module docstring); ``people``:
        the localizer's people per frame, or None."""
        b = len(batch.indices)
        out = np.full((b, 5), np.nan)
        best = int(np.argmax(confidence)) if b else 0  # where a look on an unsure frame turns to
        for k in range(b):
            sure = confidence[k] >= self.min_confidence
            if people is None and self.track is not None:
                frame = batch.detail.get(k) if batch.detail else None
                # A look on a frame whose own sound is unsure (the first frame of a clip, a breath) goes
                # towards the batch's surest sound, so people are held from the start of a sound, not
                # one look (2 s) later.
                near = k if sure else best
                if frame is not None and confidence[near] >= self.min_confidence:
                    self.track.add(float(batch.times[k]), frame, near=float(yaw[near]))
            if not sure or batch.indices[k] % self.every:
                continue
            held = people[k] if people is not None else (self.track.at(float(batch.times[k]))
                                                          if self.track is not None else None)
            person = self._person(held, float(batch.times[k]), float(yaw[k]), float(pitch[k]))
            if person is not None:
                face = float(person[5]) if len(person) > 5 else np.nan
                if self.faces and np.isfinite(face):
                    out[k] = (*head_and_shoulders(person), face)
                    self.face_boxes += 1
                else:
                    out[k, :4] = person[:4]
                self.people_boxes += 1
            else:
                frame = batch.frames[k] if batch.frames is not None else (batch.looks or {}).get(k)
                if frame is not None:
                    out[k, :4] = subject_box(frame, float(yaw[k]), float(pitch[k]))
        return out

    def _person(self, held: np.ndarray | None, t: float, yaw: float, pitch: float) -> np.ndarray | None:
        """The person the sound at (yaw, pitch) falls on at time ``t`` among ``held``; or the one it
        fell on last (``STICKY_SLACK``, ``STICKY_SECONDS``: the subject does not flicker with the
        sound's wobble); None when neither."""
        if held is None or not len(held):
            return None
        person = person_at(held, yaw, pitch)
        if person is None and self._last is not None and 0.0 <= t - self._last[0] <= STICKY_SECONDS:
            last = self._last[1]
            same = [r for r in as_rows(held)
                    if angular_distance(r[0], r[1], last[0], last[1]) <= max(5.0, 0.25 * float(last[2]))]
            # Held, not renewed: the sound must come back to the box itself within STICKY_SECONDS.
            return person_at(np.array(same), yaw, pitch, slack=STICKY_SLACK) if same else None
        if person is not None:
            self._last = (t, person)
        return person
