"""Two-shots: when the places the camera attends to over a stretch of time all fit in one view, frame them all.

An operator filming two people in dialogue does not pan from one to the other at every turn; if both
fit in the frame they hold a two-shot between them. The AutoCam DP cannot find that shot by itself: its
centre-weighted scores always prefer a view centred on whoever is talking now. So after the DP has said
*what* to look at, block by block, this looks at the attended directions over a window around each block
(``window`` seconds either side, only what the planner has observed) and, where they fit inside the view
shrunk by ``margin`` degrees on every side, aims at the centre of their extent (the middle of the yaw
and pitch range: unlike a mean, it does not drift with who talked longer, so the shot stays locked).

Only *dwells* count: blocks whose direction stays within ``dwell_tol`` degrees of every other active
block within ``dwell`` seconds (a talker in place). A source that moves (an engine circling) is never a
dwell, so a moving source is followed as before and a source that stops is framed where it stops, not
at the middle of the stretch it travelled. A window whose dwells span less than ``min_span`` degrees is
one place, left to the DP's own aim and the motion layer's safe zone.

Places must also sound *separately*: two moments of one moving source are not two places, however slowly
it moves (a tractor at 5°/s dwells by the test above on every block of its path). So the window's places
are linked whenever two lie within ``link`` degrees of each other (single linkage, so a path traced
continuously is one group however long); a group that spans more than ``place_span`` is a source in
motion and frames nothing, and a two-shot needs at least two groups left. The camera then follows the
moving source instead of holding the middle of its path.
"""

from __future__ import annotations

import numpy as np

from pano.sphere.geometry import in_view, vec_to_yaw_pitch, wrap_yaw

#: Degrees a widened two-shot keeps beyond ``margin`` outside each place it frames. The places are the
#: sounds' points (a mouth, an instrument), and the people around them reach 3–4° further at a few metres:
#: with 3° the outer half of a talker's head fell outside the frame on a real meeting (x02 of
#: ``benchmarks/camera_real.py``: head in frame 0.502 with capture 1.000).
PERSON_ROOM = 6.0


def dwell_mask(dirs: np.ndarray, active: np.ndarray, reach: int, tol: float) -> np.ndarray:
    """(B,) whether each active block's direction (B, 3) stays within ``tol`` degrees of the active blocks
    in the ``reach`` blocks before it or in those after it (one side is enough: a talker whose turn
    starts or ends is in place, a source in motion moves on both sides)."""
    b = len(dirs)
    out = np.zeros(b, bool)
    cos_tol = np.cos(np.radians(tol))
    for i in np.nonzero(active)[0]:
        for lo, hi in ((max(0, i - reach), i + 1), (i, min(b, i + reach + 1))):
            near = active[lo:hi]
            if near.sum() > reach // 2 and np.all(dirs[lo:hi][near] @ dirs[i] >= cos_tol):
                out[i] = True
                break
    return out


def place_groups(dirs: np.ndarray, link: float) -> np.ndarray:
    """(n,) group label per direction (n, 3): single-linkage groups, two directions joined when within
    ``link`` degrees, so a continuously traced path is one group and places with a gap are apart."""
    n = len(dirs)
    label = np.arange(n)
    close = dirs @ dirs.T >= np.cos(np.radians(link))
    for i in range(n):  # union-find by relabelling: n is one window's blocks (≤ ~100)
        for j in np.nonzero(close[i, i + 1 :])[0] + i + 1:
            a, b = label[i], label[j]
            if a != b:
                label[label == b] = a
    return label


def drift(dirs: np.ndarray, when: np.ndarray) -> float:
    """Deg/s the directions (n, 3) at times ``when`` (n,) move by a least-squares line through their yaw
    (unwrapped) and pitch; 0 for fewer than two or under a second of them (a talker's wobble is no drift)."""
    if len(dirs) < 2 or np.ptp(when) < 1.0:
        return 0.0
    yaw, pitch = vec_to_yaw_pitch(dirs)
    yaw = np.degrees(np.unwrap(np.radians(np.atleast_1d(yaw))))
    t = when - when.mean()
    vy = float(np.sum(t * (yaw - yaw.mean())) / np.sum(t * t))
    vp = float(np.sum(t * (np.atleast_1d(pitch) - np.mean(pitch))) / np.sum(t * t))
    return float(np.hypot(vy * np.cos(np.radians(np.mean(pitch))), vp))


def extent_centre(dirs: np.ndarray) -> tuple[float, float, float]:
    """Centre (yaw, pitch) of the yaw and pitch range of directions (n, 3), yaw unwrapped around the
    first one so the ±180° seam is not special; and the larger of the two spans (degrees)."""
    yaw, pitch = vec_to_yaw_pitch(dirs)
    yaw, pitch = np.atleast_1d(yaw), np.atleast_1d(pitch)
    yaw = yaw[0] + (yaw - yaw[0] + 180.0) % 360.0 - 180.0
    cy = 0.5 * (yaw.min() + yaw.max())
    cp = 0.5 * (pitch.min() + pitch.max())
    return float(wrap_yaw(cy)), float(cp), float(max(np.ptp(yaw), np.ptp(pitch)))


def _carry_shots(out: dict, dirs: np.ndarray, active: np.ndarray, wanted: range, reach: int, margin: float,
                 ratio: float) -> None:
    """Let a two-shot run on (in place, in time order) for up to ``reach`` blocks past the last block that
    earned it, over the active blocks whose direction is still inside it.

    The window that earns a two-shot must hold both places; near the end of a dialogue it may not: the
    other talker's last turn is too brief to count as a place, or one turn outlasts the window. Then the
    camera, which framed both people for minutes, would pan to a single of the one still talking a few
    seconds before the other answers (a real interview, ``benchmarks/camera_real.py`` x02: capture
    0.894). An operator holds the two-shot until the dialogue is plainly over."""
    last, since = None, 0
    for i in wanted:
        if i in out:
            last, since = out[i], 0
            continue
        if last is None or not active[i]:
            continue
        since += 1
        if since > reach:
            last = None
            continue
        fov = last[3]
        fov_v = float(np.degrees(2 * np.arctan(np.tan(np.radians(fov) / 2) * ratio)))
        cy, cp = vec_to_yaw_pitch(last[0])
        y, p = vec_to_yaw_pitch(dirs[i])
        if in_view(y, p, cy, cp, max(1.0, fov - 2 * margin), max(1.0, fov_v - 2 * margin)):
            out[i] = last
        else:
            last = None  # the sound left the shot: the dialogue is over


def two_shot_aims(
    dirs: np.ndarray,
    active: np.ndarray,
    wanted: range,
    block_seconds: float,
    hfov: float,
    vfov: float,
    window: float = 8.0,
    margin: float = 2.0,
    min_span: float = 20.0,
    dwell: float = 0.5,
    dwell_tol: float = 5.0,
    support: float = 1.0,
    link: float = 10.0,
    place_span: float = 15.0,
    move_speed: float = 2.0,
    max_hfov: float | None = None,
) -> dict[int, tuple[np.ndarray, float, float, float]]:
    """Two-shot aims for the blocks in ``wanted`` that get one: block → (unit vector, yaw room, pitch
    room, field of view), the rooms being how far (degrees) the camera may stray from the aim with every
    framed direction still in view (the motion layer's safe zone must not be wider) at that horizontal
    field of view: ``hfov``, or wider up to ``max_hfov`` (the zoom's limit) where the places need it.

    ``dirs`` (B, 3) are the attended directions of blocks [0, B) (rows of inactive blocks are
    ignored); ``wanted`` must lie inside [0, B). A dwell block gets a two-shot when the dwells within
    ``window`` seconds of it span at least ``min_span`` degrees and all fit inside the view shrunk by
    ``margin`` on every side, centred on their extent. An active block that is not a dwell (the moment
    a turn changes) keeps the two-shot of the nearest block that has one if its direction fits there.
    A place counts only if the window dwells there (within ``dwell_tol``) for ``support`` seconds in
    all: a direction held for a moment (a localizer still settling, a brief sound) makes no two-shot;
    and only if it is apart from the others (``place_groups``: a group linked within ``link`` degrees
    spanning more than ``place_span``, or drifting faster than ``move_speed`` deg/s, is a moving source,
    never a two-shot's place: the window may hold only the first seconds of a slow mover's path).
    """
    from pano.sphere.geometry import yaw_pitch_to_vec

    reach = max(1, int(round(window / block_seconds)))
    still = dwell_mask(dirs, active, max(1, int(round(dwell / block_seconds))), dwell_tol)
    cos_tol, need = np.cos(np.radians(dwell_tol)), support / block_seconds
    ratio = np.tan(np.radians(vfov) / 2) / np.tan(np.radians(hfov) / 2)
    wide = max(hfov, max_hfov or hfov)
    wide_v = float(np.degrees(2 * np.arctan(np.tan(np.radians(wide) / 2) * ratio)))
    h, v = max(1.0, wide - 2 * margin), max(1.0, wide_v - 2 * margin)
    out: dict[int, tuple[np.ndarray, float, float, float]] = {}
    for i in wanted:
        if not still[i]:
            continue
        lo, hi = max(0, i - reach), min(len(dirs), i + reach + 1)
        near = dirs[lo:hi][still[lo:hi]]
        when = (np.arange(lo, hi)[still[lo:hi]]) * block_seconds
        held = (near @ near.T >= cos_tol).sum(axis=1) >= need  # places held long enough
        if not np.any(near[held] @ dirs[i] >= cos_tol):
            continue  # this block is at none of them
        near, when = near[held], when[held]
        group = place_groups(near, link)
        places = [g for g in np.unique(group) if extent_centre(near[group == g])[2] <= place_span
                  and drift(near[group == g], when[group == g]) <= move_speed]
        if len(places) < 2:
            continue  # one place, or one source in motion: nothing to frame together
        near = near[np.isin(group, places)]
        if not np.any(near @ dirs[i] >= cos_tol):
            continue  # this block is on the moving source's path, not at a place
        cy, cp, span = extent_centre(near)
        if span < min_span:
            continue
        yaw, pitch = vec_to_yaw_pitch(near)
        if np.all(in_view(yaw, pitch, cy, cp, h, v)):
            dy = np.abs((np.atleast_1d(yaw) - cy + 180.0) % 360.0 - 180.0).max()
            dp = np.abs(np.atleast_1d(pitch) - cp).max()
            # The nominal view where they fit in it with room for the people at its edges (where the
            # zoom can widen), else as wide as they need with that room.
            half = dy * np.cos(np.radians(cp)) + margin
            room = PERSON_ROOM if wide > hfov else 0.0
            from_v = np.degrees(2 * np.arctan(np.tan(np.radians(dp + margin + 3.0)) / ratio))
            fov = hfov if half + room <= hfov / 2 and dp + margin <= vfov / 2 else float(
                np.clip(max(2 * (half + PERSON_ROOM), from_v), hfov, wide))
            fov_v = float(np.degrees(2 * np.arctan(np.tan(np.radians(fov) / 2) * ratio)))
            room_y = max(0.0, fov / 2 - margin - dy * np.cos(np.radians(cp)))  # as a view angle
            out[i] = (yaw_pitch_to_vec(cy, cp).reshape(3), room_y, max(0.0, fov_v / 2 - margin - dp), fov)
    _carry_shots(out, dirs, active, wanted, reach, margin, ratio)
    shots = np.array(sorted(out))
    for i in wanted:
        if i in out or not active[i] or len(shots) == 0:
            continue
        j = int(shots[np.argmin(np.abs(shots - i))])
        if abs(j - i) <= reach:
            cy, cp = vec_to_yaw_pitch(out[j][0])
            y, p = vec_to_yaw_pitch(dirs[i])
            if in_view(y, p, cy, cp, h, v):
                out[i] = out[j]
    return out
