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
  never beyond ``face_max`` degrees (a close talker is a medium close-up, not a 104° wide shot);
* **the sound stays in the shot** — whatever the box asks, the sound's direction stays at least
  ``sound_margin`` degrees inside the view: its yaw as FOA reads it, its pitch pulled onto the box
  (:func:`sound_on_box`: the FOA's elevation is the uncertain part). A pianist's head must not push
  the keys out of the bottom of the frame, and ``pitch_tol`` is wider than half the nominal view.
  Where the head under its headroom and the sound do not both fit, the view widens (within the
  range) until they do, and where even the widest view cannot hold both, the sound wins: capture
  comes before composition.
"""

from __future__ import annotations

import numpy as np

from pano.planning.zoom import shot_spans
from pano.sphere.geometry import wrap_yaw


def _vfov_of(hfov: float, ratio: float) -> float:
    return float(np.degrees(2 * np.arctan(np.tan(np.radians(hfov) / 2) * ratio)))


def _hfov_of(vfov: float, ratio: float) -> float:
    return float(np.degrees(2 * np.arctan(np.tan(np.radians(vfov) / 2) / ratio)))


FACE_MAX = 90.0  # degrees: the widest view a face-found person's head and shoulders ask for
HEADROOM = 0.08  # of the frame's height between a person's top and the frame's top
SOUND_MARGIN = 5.0  # degrees: how far inside the view's edge a composed shot keeps the sound's direction


def sound_on_box(aim_pitch: float, box: np.ndarray, pitch_tol: float = 25.0) -> float:
    """The sound's pitch as far as sound and picture together tell: the FOA's elevation (``aim_pitch``)
    pulled onto the subject's box (its top and bottom edges) when within ``pitch_tol`` of it. FOA
    elevation is uncertain by about that much (a platform's reflection reads 20° below the train), its
    azimuth is not, so the shot must keep the sound's yaw and the nearest pitch the subject allows."""
    bp, bh = float(box[1]), float(box[3])
    lo, hi = bp - bh / 2, bp + bh / 2
    if lo - pitch_tol <= aim_pitch <= hi + pitch_tol:
        return float(np.clip(aim_pitch, lo, hi))
    return float(aim_pitch)


def _fit_sound(top: float, aim_pitch: float, want: float, ratio: float, fov_range: tuple[float, float] | None,
               headroom: float, margin: float) -> float:
    """The horizontal FOV at least ``want`` (and at most the range's widest) whose view holds a box top
    ``top`` under its headroom with the sound (``aim_pitch``) ``margin`` above the bottom edge: the
    vertical view ``v`` must satisfy ``top + headroom·v − (aim_pitch − margin) ≤ v``."""
    if fov_range is None:
        return want
    need_v = (top - aim_pitch + margin) / max(1e-6, 1.0 - headroom)
    if need_v <= _vfov_of(want, ratio):
        return want
    return float(np.clip(_hfov_of(min(need_v, 170.0), ratio), want, max(want, fov_range[1])))


def _top_gap(bh: float, v: float, headroom: float) -> float:
    """Degrees between a tall subject's top (``bh`` tall) and the top of a view ``v`` high: ``headroom``
    of the view, or less for a small subject, which is simply centred; the full headroom where it
    cannot all fit (its top is kept, its feet go)."""
    if bh + headroom * v > v:
        return headroom * v
    return min(headroom * v, max(0.0, (v - bh) / 2))


def _aspect(hfov: float, vfov: float) -> float:
    """tan(vfov/2) / tan(hfov/2): what keeps a view's shape as its field of view changes."""
    return float(np.tan(np.radians(vfov) / 2) / np.tan(np.radians(hfov) / 2))


def _sound_shift(yaw, pitch, aim_yaw, aim_pitch, hfov, vfov, margin: float):
    """(Δyaw, Δpitch), elementwise: the least move of a view centred at (yaw, pitch) that puts the
    sound's direction (aim_yaw, aim_pitch) ``margin`` degrees inside its ``hfov`` × ``vfov`` (yaw
    offsets as view angles, scaled by cos(pitch)); 0 where it is inside already. The one rule for
    :func:`compose`'s shot and :func:`keep_sound_in_view`'s path."""
    room_p = np.maximum(0.0, np.asarray(vfov) / 2 - margin)
    d_pitch = np.clip(pitch, aim_pitch - room_p, aim_pitch + room_p) - pitch
    room_y = np.maximum(0.0, np.asarray(hfov) / 2 - margin) / np.maximum(0.2, np.cos(np.radians(aim_pitch)))
    dy = (np.asarray(yaw) - aim_yaw + 180.0) % 360.0 - 180.0
    return np.clip(dy, -room_y, room_y) - dy, d_pitch


def _keep_sound(yaw: float, pitch: float, aim_yaw: float, aim_pitch: float, hfov: float, vfov: float,
                margin: float) -> tuple[float, float]:
    """(yaw, pitch) moved the least so the sound's direction lies ``margin`` degrees inside the view."""
    d_yaw, d_pitch = _sound_shift(yaw, pitch, aim_yaw, aim_pitch, hfov, vfov, margin)
    return yaw + float(d_yaw), pitch + float(d_pitch)


def compose(
    aim_yaw: float, aim_pitch: float, box: np.ndarray, hfov: float, vfov: float,
    fov_range: tuple[float, float] | None, fill: float = 0.6, headroom: float = HEADROOM, pitch_tol: float = 25.0,
    face_max: float = FACE_MAX, sound_margin: float = SOUND_MARGIN,
) -> tuple[float, float, float]:
    """(yaw, pitch, wanted hfov) for a shot of the subject ``box`` (yaw, pitch, width, height degrees,
    optionally the face's height where a face found the person) whose sound the planner aims at
    (aim_yaw, aim_pitch); the aim and NaN when there is no box. ``fov_range`` None: the view is fixed
    at ``hfov``."""
    if box is None or not np.all(np.isfinite(np.asarray(box, float)[:4])):
        return aim_yaw, aim_pitch, float("nan")
    by, bp, bw, bh = (float(v) for v in np.asarray(box, float)[:4])
    heard = sound_on_box(aim_pitch, box, pitch_tol)  # the pitch the shot must keep in view
    face = float(box[4]) if len(box) > 4 and np.isfinite(box[4]) else None
    ratio = _aspect(hfov, vfov)
    if face is not None:
        return _compose_face(aim_yaw, aim_pitch, heard, by, bp, bw, bh, hfov, ratio, fov_range, headroom,
                             pitch_tol, face_max, sound_margin)
    if fov_range is None:
        want = hfov
    else:
        want = max(bw / fill, _hfov_of(min(bh / fill, 170.0), ratio))
        want = float(np.clip(want, *fov_range))
    if bh > bw:
        want = _fit_sound(bp + bh / 2, heard, want, ratio, fov_range, headroom, sound_margin)
    v = _vfov_of(want, ratio)
    pitch = bp
    if bh > bw:  # a person or a standing figure: headroom, and the top kept when it cannot all fit
        pitch = bp + bh / 2 + _top_gap(bh, v, headroom) - v / 2
    pitch = float(np.clip(pitch, aim_pitch - pitch_tol, aim_pitch + pitch_tol))
    dy = (by - aim_yaw + 180.0) % 360.0 - 180.0
    yaw = aim_yaw + float(np.clip(dy, -(bw / 2 + 5.0), bw / 2 + 5.0))  # the box holds the sound: stay on it
    yaw, pitch = _keep_sound(yaw, pitch, aim_yaw, heard, want, v, sound_margin)
    return float(wrap_yaw(yaw)), pitch, want


def _compose_face(
    aim_yaw: float, aim_pitch: float, heard: float, by: float, bp: float, bw: float, bh: float, hfov: float,
    ratio: float, fov_range: tuple[float, float] | None, headroom: float, pitch_tol: float, face_max: float,
    sound_margin: float,
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
        # Holding the sound as well as the head may take the view past face_max, up to the range's widest.
        want = _fit_sound(bp + bh / 2, heard, want, ratio, fov_range, headroom, sound_margin)
    v = _vfov_of(want, ratio)
    pitch = bp + bh / 2 + headroom * v - v / 2
    pitch = float(np.clip(pitch, aim_pitch - pitch_tol, aim_pitch + pitch_tol))
    dy = (by - aim_yaw + 180.0) % 360.0 - 180.0
    yaw = aim_yaw + float(np.clip(dy, -(bw / 2 + 5.0), bw / 2 + 5.0))
    yaw, pitch = _keep_sound(yaw, pitch, aim_yaw, heard, want, v, sound_margin)
    return float(wrap_yaw(yaw)), pitch, want


def hangs_from_top(box: np.ndarray, want: float, hfov: float, vfov: float, headroom: float = HEADROOM) -> bool:
    """Whether :func:`compose` hangs the shot of ``box`` from the box's top (a face-found person, or a
    tall subject that fills the wanted view), so that its pitch depends on the view's height: lower by
    ``(0.5 - headroom)`` of any growth in it. A subject centred in the view does not move with it."""
    box = np.asarray(box, float)
    if len(box) < 4 or not np.all(np.isfinite(box[:4])):
        return False
    if len(box) > 4 and np.isfinite(box[4]):
        return True
    bw, bh = float(box[2]), float(box[3])
    if bh <= bw:
        return False
    v = _vfov_of(want if np.isfinite(want) else hfov, _aspect(hfov, vfov))
    return _top_gap(bh, v, headroom) == headroom * v


def refit_to_held_view(
    pitch: np.ndarray, hangs: np.ndarray, want_vfov: np.ndarray, vfov: np.ndarray, cut: np.ndarray, fps: float,
    headroom: float = HEADROOM, ease: float = 1.0,
) -> np.ndarray:
    """The planned pitch moved to what the shots hung from their subject's top (``hangs``) ask under the
    view the zoom actually holds (``vfov``) rather than the one they wanted (``want_vfov``): the zoom keeps
    one field of view per shot and changes it only when the want holds steady for a second, so a
    subject found on some blocks only is composed for 104° and shown at 65°, its head out of the top
    (the correction is ``(want - held)·(0.5 - headroom)``, averaged over ``ease`` seconds within each
    shot: the path moves where the shot is held, not frame by frame)."""
    from scipy.ndimage import uniform_filter1d

    pitch = np.asarray(pitch, float).copy()
    n = len(pitch)
    delta = np.where(hangs & np.isfinite(want_vfov), (want_vfov - vfov) * (0.5 - headroom), 0.0)
    if n == 0 or not np.any(delta):
        return pitch
    w = max(1, int(round(ease * fps)))
    for a, b in shot_spans(np.flatnonzero(cut), n):
        pitch[a:b] += uniform_filter1d(delta[a:b], w, mode="nearest")
    return np.clip(pitch, -90.0, 90.0)


def keep_sound_in_view(
    yaw: np.ndarray, pitch: np.ndarray, sound: np.ndarray, composed: np.ndarray, hfov: np.ndarray,
    vfov: np.ndarray, cut: np.ndarray, fps: float, margin: float = SOUND_MARGIN, ease: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The planned path (``yaw``, ``pitch`` per frame) moved, smoothly, so that on every ``composed``
    frame, and on the frames within ``ease`` seconds of one (the smoothing carries a composed aim into
    its neighbours), the sound's direction (``sound`` (N, 2): the aim the shot was composed around)
    lies ``margin`` degrees inside the view that frame actually has (``hfov``/``vfov``).

    :func:`compose` keeps the sound inside the view the subject *wants*; the zoom then holds one field
    of view per shot (``pano.planning.zoom``), which may be narrower, and the smoothing lags: a band's
    player composed 25° above the sound under a wanted 90° view leaves the sound out of a held 65°
    one. The correction per frame is what clipping to the bound would move; its positive and negative
    parts are each spread by a running maximum then a running mean over ``ease`` seconds, within each
    shot (a cut may jump), so the path moves at least as far as the bound needs and without a kink
    in position (a still shot under a constant correction stays still)."""
    yaw, pitch = np.asarray(yaw, float).copy(), np.asarray(pitch, float).copy()
    n = len(yaw)
    if n == 0 or not np.any(composed):
        return yaw, pitch
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    need_y, need_p = _sound_shift(yaw, pitch, sound[:, 0].astype(float), sound[:, 1].astype(float), hfov, vfov,
                                  margin)
    w = max(1, int(round(ease * fps)))
    composed = maximum_filter1d(np.asarray(composed, bool).astype(np.uint8), 2 * w + 1, mode="nearest") > 0
    for need, out in ((need_p, pitch), (need_y, yaw)):
        need = np.where(composed & np.isfinite(need), need, 0.0)
        for a, b in shot_spans(np.flatnonzero(cut), n):
            for sign in (1.0, -1.0):
                part = np.maximum(sign * need[a:b], 0.0)
                if part.any():
                    spread = uniform_filter1d(maximum_filter1d(part, w, mode="nearest"), w, mode="nearest")
                    out[a:b] += sign * spread
    return (yaw + 180.0) % 360.0 - 180.0, np.clip(pitch, -90.0, 90.0)
