"""People in the panorama: likely sound makers, and the subject a camera operator frames.

Sound from one channel says *when*, not *where*; a person in the picture is the likeliest thing that
sounds (a player, a singer, a talker), and where a sound's direction is known (FOA) the person there is
the subject to frame, head and instrument, not the sound's point. Two detectors whose models ship
inside ``opencv-python-headless`` 4.x (no download at run time; OpenCV 5 dropped both, hence the
``<5`` pin):

- the HOG + linear SVM people detector of Dalal & Triggs (CVPR 2005), ``cv2.HOGDescriptor``'s default
  people model (OpenCV, Apache 2.0): whole standing or seated bodies about 128 px tall and up;
- optionally (``faces=True``; off by default: at 960×480 faces are under the cascade's 20 px and it
  triples the cost) the frontal-face Haar cascade of Viola & Jones as trained by R. Lienhart
  (``haarcascade_frontalface_default.xml`` in ``cv2.data``, the Intel License Agreement For Open Source
  Computer Vision Library): a face stands for the person below it (upper body, an instrument); and
  optionally (``profiles=True``) the profile-face cascade of the same package
  (``haarcascade_profileface.xml``, trained on faces turned left; run on the mirrored view as well for
  faces turned right).

A person is a row (yaw, pitch, width, height, score, face): the box in degrees, the score, and where the
row came from a face the face's own height in degrees (NaN for a body the HOG detector found), so a
caller can frame a face-found person by the face (head and shoulders, :func:`head_and_shoulders`)
rather than by the body box guessed below it.

An equirectangular frame bends bodies away from the horizon and cuts them at the seam, so both run on
six perspective (rectilinear) views of ``VIEW_FOV`` degrees centred on the horizon every 60° of yaw,
which overlap; boxes are mapped back to (yaw, pitch, width, height) in degrees and duplicates from two
views are merged. It costs tens of milliseconds per frame on a laptop core, so callers run it every
couple of seconds of video (:class:`PeopleTrack`), not every frame, and only while sound is present.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from common.errors import InputError
from pano.sphere.geometry import angular_distance, wrap_yaw

VIEW_FOV = 80.0  # degrees, horizontal and vertical, of each perspective view
VIEW_YAWS = (0.0, 60.0, 120.0, 180.0, -120.0, -60.0)
VIEW_PX = 288  # view side in pixels: ~3.6 px/°, so a person 36° tall (a seated player 2 m away) is 128 px
DETAIL_SIZE = (480, 960)  # the (H, W) equirectangular frame the views are cut from (~2.7 px/°)
FACE_BODY = (3.0, 5.0)  # a face stands for a box this many face widths wide, face heights tall (head to lap)
FACE_TOP = 0.3  # face heights from the top of the cascade's face box up to the top of the head
ROW = 6  # columns of a person row: yaw, pitch, width, height, score, face height (NaN: a body)


def _cascade_path(name: str = "haarcascade_frontalface_default.xml") -> Path:
    base = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "")
    return base / name


def as_rows(people) -> np.ndarray:
    """People as (N, ROW) float rows; rows of 5 columns (a caller's or a test's detector: no face
    column) get NaN faces."""
    a = np.asarray(people, np.float64)
    if a.size == 0:
        return np.zeros((0, ROW))
    a = a.reshape(-1, a.shape[-1])
    if a.shape[1] == 5:
        a = np.concatenate([a, np.full((len(a), 1), np.nan)], axis=1)
    return a


@functools.lru_cache(maxsize=1)
def _models() -> tuple[cv2.HOGDescriptor, cv2.CascadeClassifier]:
    """The two OpenCV models, loaded once (they are files inside the cv2 package)."""
    path = _cascade_path()
    if not path.is_file() or not hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"):
        raise InputError(
            f"OpenCV {cv2.__version__} has no HOG people detector or frontal-face cascade ({path} is missing); "
            "the people part needs opencv-python-headless 4.x: pip install 'opencv-python-headless>=4.9,<5' "
            "(or pass --source-option parts=synchrony,motion,stereo)")
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    face = cv2.CascadeClassifier(str(path))
    if face.empty():
        raise InputError(f"{path}: OpenCV could not read the frontal-face cascade; reinstall opencv-python-headless")
    return hog, face


@functools.lru_cache(maxsize=1)
def _profile_model() -> cv2.CascadeClassifier:
    """The profile-face cascade (faces turned left), loaded once."""
    path = _cascade_path("haarcascade_profileface.xml")
    model = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if model is None or model.empty():
        raise InputError(f"{path}: OpenCV has no profile-face cascade; reinstall opencv-python-headless 4.x")
    return model


@functools.lru_cache(maxsize=8)
def _view_maps(h: int, w: int, view_yaw: float, px: int, fov: float) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps from a ``px``-square rectilinear view at (view_yaw, pitch 0) into an (h, w)
    equirectangular frame (the README's pixel-centre convention)."""
    f = (px / 2.0) / np.tan(np.radians(fov / 2.0))
    c = (px - 1) / 2.0
    u, v = np.meshgrid(np.arange(px, dtype=np.float64), np.arange(px, dtype=np.float64))
    x, y = (u - c) / f, (c - v) / f  # right, up on the image plane at distance 1
    yaw = view_yaw + np.degrees(np.arctan2(x, 1.0))
    pitch = np.degrees(np.arctan2(y, np.hypot(x, 1.0)))
    map_x = (((yaw / 360.0 + 0.5) * w - 0.5) % w).astype(np.float32)
    map_y = np.clip((0.5 - pitch / 180.0) * h - 0.5, 0, h - 1).astype(np.float32)
    return map_x, map_y


def view_image(frame: np.ndarray, view_yaw: float, px: int, fov: float) -> np.ndarray:
    """The ``px``-square rectilinear view at (view_yaw, pitch 0) of an equirectangular frame (grey or
    colour, as the frame is)."""
    h, w = frame.shape[:2]
    mx, my = _view_maps(h, w, float(view_yaw), px, fov)
    return cv2.remap(np.ascontiguousarray(frame), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def reaches(view_yaw: float, near: float | None, fov: float) -> bool:
    """Whether a view at ``view_yaw`` reaches within 10° of the yaw ``near`` (always, with no ``near``):
    a detector that knows where the sound is looks only in those views."""
    return near is None or abs(((near - view_yaw + 180.0) % 360.0) - 180.0) <= fov / 2.0 + 10.0


def view_box_edges(view_yaw: float, x: float, y: float, bw: float, bh: float, px: int = VIEW_PX,
                   fov: float = VIEW_FOV) -> tuple[float, float, float, float, float]:
    """A box (x, y, w, h pixels) in a view at ``view_yaw`` as (yaw, pitch, width, top, bottom) degrees:
    the centre's direction, the angle between the left and right edge midpoints, and the pitches of the
    top and bottom edge midpoints (in a rectilinear view a tall box's centre pixel points well above
    the middle of its top and bottom)."""
    f = (px / 2.0) / np.tan(np.radians(fov / 2.0))
    c = (px - 1) / 2.0

    def direction(u: float, v: float) -> tuple[float, float]:
        a, b = (u - c) / f, (c - v) / f
        return view_yaw + float(np.degrees(np.arctan2(a, 1.0))), float(np.degrees(np.arctan2(b, np.hypot(a, 1.0))))

    cy, cp = direction(x + bw / 2.0, y + bh / 2.0)
    left, _ = direction(x, y + bh / 2.0)
    right, _ = direction(x + bw, y + bh / 2.0)
    _, top = direction(x + bw / 2.0, y)
    _, bottom = direction(x + bw / 2.0, y + bh)
    return float(wrap_yaw(cy)), cp, right - left, top, bottom


def view_box_to_sphere(view_yaw: float, x: float, y: float, bw: float, bh: float, px: int = VIEW_PX,
                       fov: float = VIEW_FOV) -> tuple[float, float, float, float]:
    """A box (x, y, w, h pixels) in a view at ``view_yaw`` as (yaw, pitch, width, height) degrees:
    the centre's direction, the angle between the left and right edge midpoints, the top and bottom."""
    yaw, pitch, width, top, bottom = view_box_edges(view_yaw, x, y, bw, bh, px, fov)
    return yaw, pitch, width, top - bottom


def merge_boxes(boxes: np.ndarray) -> np.ndarray:
    """Person rows (N, ROW: yaw, pitch, width, height, score, face) with those whose centres lie within
    half the larger box's size of a stronger one dropped (one person seen by two overlapping views, or
    as a face and a body)."""
    boxes = as_rows(boxes)
    if len(boxes) == 0:
        return boxes
    order = np.argsort(-boxes[:, 4])
    kept: list[np.ndarray] = []
    for i in order:
        b = boxes[i]
        if all(angular_distance(b[0], b[1], k[0], k[1]) > 0.5 * max(b[2], b[3], k[2], k[3]) for k in kept):
            kept.append(b)
    return np.stack(kept)


class PersonDetector:
    """People on an RGB equirectangular frame: (N, ROW) rows of yaw, pitch, width, height (degrees),
    score (the HOG SVM margin; a face alone scores ``face_score``), face height (degrees; NaN for a
    body). ``profiles``: faces seen from the side too (the profile cascade, both ways round)."""

    def __init__(self, hog_threshold: float = 0.0, faces: bool | str = False, face_score: float = 1.0,
                 view_px: int = VIEW_PX, views: tuple[float, ...] = VIEW_YAWS, fov: float = VIEW_FOV,
                 scale: float = 1.15, profiles: bool = False, min_face: float = 12.0) -> None:
        self.hog_threshold = float(hog_threshold)
        self.scale = float(scale)  # the detector's image pyramid step: finer finds more, costs more
        # faces: False (none), True or "haar" (the Haar cascade, 20 px and up), "mtcnn" (pano.localizers.faces,
        # NumPy MTCNN on the colour view, ``min_face`` px and up)
        if faces not in (False, True, "haar", "mtcnn"):
            raise ValueError(f"faces must be False, True, 'haar' or 'mtcnn', not {faces!r}")
        self.face_finder = "haar" if faces is True else (faces or None)
        self.faces = self.face_finder is not None
        self.mtcnn = None
        if self.face_finder == "mtcnn":
            from pano.localizers.faces import MTCNN

            self.mtcnn = MTCNN(min_face=min_face)
        self.face_score = float(face_score)
        self.profile = _profile_model() if profiles else None
        self.view_px = int(view_px)
        self.views = tuple(float(v) for v in views)
        self.fov = float(fov)
        self.hog, self.face = _models()

    def view(self, frame: np.ndarray, view_yaw: float) -> np.ndarray:
        """The grey rectilinear view at ``view_yaw`` (uint8, view_px square) of an RGB or grey frame."""
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        return view_image(grey, view_yaw, self.view_px, self.fov)

    def rgb_view(self, frame: np.ndarray, view_yaw: float) -> np.ndarray:
        """The colour rectilinear view at ``view_yaw`` (uint8 RGB, view_px square) of an RGB frame."""
        return view_image(frame, view_yaw, self.view_px, self.fov)

    def _faces(self, grey: np.ndarray, rgb: np.ndarray | None = None) -> np.ndarray:
        """(n, 4) face rectangles (x, y, w, h pixels) in one view by the chosen face finder (MTCNN reads
        ``rgb``, the colour view), and in profile (Haar) when asked."""
        found = []
        if self.face_finder == "mtcnn":
            img = rgb if rgb is not None else np.repeat(grey[..., None], 3, axis=2)
            b = self.mtcnn.detect(img)
            found.append(np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]]).reshape(-1, 4))
        elif self.face_finder == "haar":
            found.append(np.reshape(self.face.detectMultiScale(grey, scaleFactor=1.15, minNeighbors=5,
                                                               minSize=(20, 20)), (-1, 4)).astype(np.float64))
        if self.profile is not None:
            px = grey.shape[1]
            for flip in (False, True):
                img = grey[:, ::-1] if flip else grey
                r = np.reshape(self.profile.detectMultiScale(np.ascontiguousarray(img), scaleFactor=1.15,
                                                             minNeighbors=5, minSize=(20, 20)), (-1, 4))
                r = r.astype(np.float64)
                if flip and len(r):
                    r[:, 0] = px - r[:, 0] - r[:, 2]
                found.append(r)
        return np.concatenate(found) if found else np.zeros((0, 4))

    def detect_view(self, grey: np.ndarray, view_yaw: float, rgb: np.ndarray | None = None) -> list[tuple[float, ...]]:
        """People in one view (``rgb``: its colour version, for MTCNN), as person rows (sphere boxes with
        scores and face heights)."""
        out = []
        rects, weights = self.hog.detectMultiScale(grey, hitThreshold=self.hog_threshold, winStride=(8, 8),
                                                   padding=(8, 8), scale=self.scale)
        for (x, y, bw, bh), s in zip(np.reshape(rects, (-1, 4)), np.reshape(weights, -1), strict=True):
            # The HOG window has a margin around the body (64×128 for a 40×100 figure): trim it.
            x, y, bw, bh = x + 0.15 * bw, y + 0.1 * bh, 0.7 * bw, 0.8 * bh
            out.append((*view_box_to_sphere(view_yaw, x, y, bw, bh, self.view_px, self.fov), float(s), np.nan))
        if self.faces or self.profile is not None:
            for x, y, fw, fh in self._faces(grey, rgb):
                bw, bh = FACE_BODY[0] * fw, FACE_BODY[1] * fh
                by, _bp, bw_deg, bh_deg = view_box_to_sphere(view_yaw, x + fw / 2.0 - bw / 2.0, y - FACE_TOP * fh,
                                                             bw, bh, self.view_px, self.fov)
                fy, fp, _fw, face_h = view_box_to_sphere(view_yaw, x, y, fw, fh, self.view_px, self.fov)
                # The box's pitch: the middle of its top and bottom (a body box five faces tall reaches far
                # down the view, where the centre pixel's direction is well above that middle).
                top = fp + face_h / 2.0 + FACE_TOP * face_h
                out.append((by, top - bh_deg / 2.0, bw_deg, bh_deg, self.face_score, face_h))
        return out

    def detect(self, frame: np.ndarray, near: float | None = None,
               views: tuple[float, ...] | None = None) -> np.ndarray:
        """(N, ROW) people on an RGB (or grey) equirectangular frame, merged across views; with ``near``
        (a yaw) only in the views that reach within 10° of it (the subject finder knows where the
        sound is: two views instead of six); with ``views`` only in those of ``self.views``."""
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        rows: list[tuple[float, ...]] = []
        for vy in self.views if views is None else views:
            if not reaches(vy, near, self.fov):
                continue
            rgb = self.rgb_view(frame, vy) if self.face_finder == "mtcnn" and frame.ndim == 3 else None
            rows += self.detect_view(self.view(grey, vy), vy, rgb)
        return merge_boxes(np.asarray(rows, np.float64).reshape(-1, ROW))


class PeopleTrack:
    """Looks for people (the caller decides when: ``FrameBatch.detail`` frames come every couple of
    seconds), each look's people held ``hold`` seconds (a person does not vanish between two looks,
    and a detector misses some): :meth:`add` records a look, :meth:`at` gives the people held at a
    time."""

    def __init__(self, detect, hold: float = 10.0) -> None:
        self.detect = detect  # a callable frame -> (N, ROW) or (N, 5), PersonDetector.detect or a test's
        self.hold = float(hold)
        self._looks: list[tuple[float, np.ndarray]] = []

    def add(self, t: float, frame: np.ndarray, **where) -> None:
        """One look at ``frame`` (``where``: passed to the detector, e.g. ``near=yaw``)."""
        self._looks.append((float(t), as_rows(self.detect(frame, **where))))
        self._looks = [(lt, b) for lt, b in self._looks if t - lt < self.hold]

    def at(self, t: float) -> np.ndarray:
        """(N, ROW) the people seen within ``hold`` seconds before ``t``, duplicates merged (newest kept
        on a tie: the merge keeps the higher score)."""
        held = [b for lt, b in self._looks if 0.0 <= t - lt < self.hold]
        return merge_boxes(np.concatenate(held)) if held else np.zeros((0, ROW))


SOUND_DEPTH = 0.25  # of a person box's height below its top: where a person's sound comes from


def sound_point(box: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) where a person (a box row: yaw, pitch, width, height, ...) sounds from: a quarter of
    the box down from its top, between the mouth and an instrument held at the chest, not the box's
    centre (a standing body's centre is its hips; a face-derived box reaches the lap)."""
    return float(box[0]), float(box[1] + box[3] * (0.5 - SOUND_DEPTH))


def person_at(people: np.ndarray, yaw: float, pitch: float, slack: float = 10.0) -> np.ndarray | None:
    """The person whose box (widened by ``slack`` degrees) holds the direction (yaw, pitch), nearest
    first; None when none does. The sound's direction on a person makes that person the subject."""
    best, best_d = None, np.inf
    for b in as_rows(people):
        dyaw = abs(((yaw - b[0] + 180.0) % 360.0) - 180.0) * np.cos(np.radians(pitch))
        if dyaw <= b[2] / 2 + slack and abs(pitch - b[1]) <= b[3] / 2 + slack:
            d = float(angular_distance(yaw, pitch, b[0], b[1]))
            if d < best_d:
                best, best_d = b, d
    return best


HEAD_SHOULDERS = (3.0, 3.5)  # a face-found person framed as a box this many face widths wide, face heights tall
HEAD_ABOVE = 0.4  # face heights from the top of the cascade's face box up to the top of the hair


def head_and_shoulders(row: np.ndarray) -> tuple[float, float, float, float]:
    """The (yaw, pitch, width, height) degrees of a face-found person's head and shoulders: from just
    above the head (``HEAD_ABOVE`` face heights above the face box) down ``HEAD_SHOULDERS[1]`` face
    heights in all (to the chest), as wide as the person's box; the row's own box when it came from a
    body (no face). The body box a face stands for (``FACE_BODY``, to the lap) is a guess, and framing
    it whole zooms a close talker out to the widest view; head and shoulders is how an operator frames
    one."""
    r = as_rows(row)[0]
    face = float(r[5])
    if not np.isfinite(face) or face <= 0:
        return float(r[0]), float(r[1]), float(r[2]), float(r[3])
    top = float(r[1] + r[3] / 2.0) + (HEAD_ABOVE - FACE_TOP) * face
    h = HEAD_SHOULDERS[1] * face
    w = HEAD_SHOULDERS[0] / FACE_BODY[0] * float(r[2])
    return float(r[0]), top - h / 2.0, w, h
