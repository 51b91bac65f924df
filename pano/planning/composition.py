"""Composition: frame the sounding subject, not the point the sound comes from.

An operator framing a guitarist does not centre the sound hole: the whole player is in the shot when
they fit, with a little headroom above a person, and the view is wide enough for someone close to the
lens and tighter on someone far away. Given the subject's box in the picture (``Observation.subject``,
found around the sound's direction in pass 1), this says where to aim and how wide the shot wants to be:

* **zoom** — the subject should fill about ``fill`` of the frame's height (or width, whichever binds),
  so the wanted field of view grows with a near subject and shrinks with a far one (the zoom module
  keeps it within the run's range and one value per shot);
* **tall subjects** (taller than wide: people, standing figures) — the box's top sits ``headroom`` of
  the frame's height below the frame's top, so heads are never cut; a subject too tall even for the
  widest view keeps its top (the face) and loses its feet;
* **pitch from the picture** — the subject decides the pitch, but never more than ``pitch_tol`` degrees
  from the sound's (FOA elevation is uncertain by about that much: reflections off a floor pull it
  down), so a box found on the wrong thing cannot point the camera at the sky;
* **a person found by the face** (the box's fifth value: the face's height) — the box is the head and
  shoulders, not the whole person (``pano.localizers.people.head_and_shoulders``): the top of the head
  sits ``headroom`` below the frame's top and the frame runs down from there (the body goes on below
  it), the view at least the nominal one and widened only as far as the head and shoulders need,
  never beyond ``face_max`` degrees (a close talker is a medium close-up, not a 104° wide shot).
"""

from __future__ import annotations

import numpy as np


def _vfov_of(hfov: float, ratio: float) -> float:
    return float(np.degrees(2 * np.arctan(np.tan(np.radians(hfov) / 2) * ratio)))


def _hfov_of(vfov: float, ratio: float) -> float:
    return float(np.degrees(2 * np.arctan(np.tan(np.radians(vfov) / 2) / ratio)))


FACE_MAX = 90.0  # degrees: the widest view a face-found person's head and shoulders ask for


def compose(
    aim_yaw: float, aim_pitch: float, box: np.ndarray, hfov: float, vfov: float,
    fov_range: tuple[float, float] | None, fill: float = 0.6, headroom: float = 0.08, pitch_tol: float = 25.0,
    face_max: float = FACE_MAX,
) -> tuple[float, float, float]:
    """(yaw, pitch, wanted hfov) for a shot of the subject ``box`` (yaw, pitch, width, height degrees,
    optionally the face's height where a face found the person) whose sound the planner aims at
    (aim_yaw, aim_pitch); the aim and NaN when there is no box. ``fov_range`` None: the view is fixed
    at ``hfov``."""
    if box is None or not np.all(np.isfinite(np.asarray(box, float)[:4])):
        return aim_yaw, aim_pitch, float("nan")
    by, bp, bw, bh = (float(v) for v in np.asarray(box, float)[:4])
    face = float(box[4]) if len(box) > 4 and np.isfinite(box[4]) else None
    ratio = np.tan(np.radians(vfov) / 2) / np.tan(np.radians(hfov) / 2)
    if face is not None:
        return _compose_face(aim_yaw, aim_pitch, by, bp, bw, bh, hfov, ratio, fov_range, headroom, pitch_tol,
                             face_max)
    if fov_range is None:
        want = hfov
    else:
        want = max(bw / fill, _hfov_of(min(bh / fill, 170.0), ratio))
        want = float(np.clip(want, *fov_range))
    v = _vfov_of(want, ratio)
    pitch = bp
    if bh > bw:  # a person or a standing figure: headroom, and the top kept when it cannot all fit
        gap = min(headroom * v, max(0.0, (v - bh) / 2))  # a small one is simply centred
        if bh + headroom * v > v:
            gap = headroom * v
        pitch = bp + bh / 2 + gap - v / 2
    pitch = float(np.clip(pitch, aim_pitch - pitch_tol, aim_pitch + pitch_tol))
    dy = (by - aim_yaw + 180.0) % 360.0 - 180.0
    yaw = aim_yaw + float(np.clip(dy, -(bw / 2 + 5.0), bw / 2 + 5.0))  # the box holds the sound: stay on it
    return float((yaw + 180.0) % 360.0 - 180.0), pitch, want


def _compose_face(
    aim_yaw: float, aim_pitch: float, by: float, bp: float, bw: float, bh: float, hfov: float, ratio: float,
    fov_range: tuple[float, float] | None, headroom: float, pitch_tol: float, face_max: float,
) -> tuple[float, float, float]:
    """A face-found person's head-and-shoulders box (see :func:`compose`): the top of the head
    ``headroom`` below the frame's top, the view the nominal ``hfov`` or as much wider (within the
    range and ``face_max``) as the box needs below that headroom."""
    if fov_range is None:
        want = hfov
    else:
        need = max(bw / 0.9, _hfov_of(min(bh / (1.0 - headroom), 170.0), ratio))
        hi = min(fov_range[1], max(face_max, fov_range[0]))
        want = float(np.clip(max(hfov, need), fov_range[0], hi))
    v = _vfov_of(want, ratio)
    pitch = bp + bh / 2 + headroom * v - v / 2
    pitch = float(np.clip(pitch, aim_pitch - pitch_tol, aim_pitch + pitch_tol))
    dy = (by - aim_yaw + 180.0) % 360.0 - 180.0
    yaw = aim_yaw + float(np.clip(dy, -(bw / 2 + 5.0), bw / 2 + 5.0))
    return float((yaw + 180.0) % 360.0 - 180.0), pitch, want
