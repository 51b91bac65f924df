"""Planners on synthetic saliency: von Mises–Fisher blobs on a 32×64 sphere grid with known paths.

Each scenario is a list of (times, sources) where a source is (yaw, pitch, amplitude); maps and the
per-frame centroid/confidence are made exactly as pass 1 would (spherical mean, resultant length).
"""

from __future__ import annotations

import numpy as np
import pytest

from pano.planning import create_planner
from pano.planning.base import Observation
from pano.planning.smoothing import calm_path, hold_direction, limit_speed_vectors, path_speed
from pano.run.context import RunContext
from pano.sphere.geometry import (
    angular_distance,
    grid_vectors,
    in_view,
    spherical_mean,
    unwrap_yaw,
    yaw_pitch_to_vec,
)
from pano.sphere.views import OutputGeometry

FPS = 30.0
HFOV, VFOV = 65.5, 39.8
CTX = RunContext(fps=FPS, geometry=OutputGeometry(HFOV, VFOV, 1280, 720))
H, W = 32, 64
GRID = grid_vectors(H, W)
KAPPA = 40.0  # ~9° blob


def vmf_map(sources: list[tuple[float, float, float]]) -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    for yaw, pitch, amp in sources:
        if amp > 0:
            mu = yaw_pitch_to_vec(yaw, pitch)
            m += amp * np.exp(KAPPA * (GRID @ mu - 1.0)).astype(np.float32)
    return m


def feed(planner, source_fn, n: int, batch: int = 37) -> np.ndarray:
    """Feed ``n`` frames; ``source_fn(t)`` gives the frame's sources. Returns times."""
    times = np.arange(n) / FPS
    for a in range(0, n, batch):
        t = times[a : a + batch]
        maps = np.stack([vmf_map(source_fn(x)) for x in t])
        cen = [spherical_mean(m) for m in maps]
        yaw = np.array([c[0] for c in cen])
        pitch = np.array([c[1] for c in cen])
        conf = np.array([c[2] if m.max() > 0 else 0.0 for c, m in zip(cen, maps, strict=True)])
        planner.observe(Observation(times=t, maps=maps, yaw=yaw, pitch=pitch, confidence=conf))
    return times


def run(name: str, source_fn, seconds: float, **opts):
    planner = create_planner(name, CTX, opts)
    times = feed(planner, source_fn, int(round(seconds * FPS)))
    path = planner.plan()
    assert len(path.yaw) == len(times)
    assert np.all((path.yaw >= -180) & (path.yaw < 180))
    return times, path, planner


def dominant(source_fn, times) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch and activity of the loudest source per frame."""
    out = []
    for t in times:
        s = max(source_fn(t), key=lambda x: x[2])
        out.append(s)
    a = np.array(out, dtype=float)
    return a[:, 0], a[:, 1], a[:, 2] > 0


def in_view_fraction(path, source_fn, times, exclude: np.ndarray | None = None) -> float:
    sy, sp, active = dominant(source_fn, times)
    mask = active if exclude is None else active & ~exclude
    inside = in_view(sy, sp, path.yaw, path.pitch, HFOV, VFOV)
    return float(inside[mask].mean())


def assert_speed(path, times, limit=60.0, skip: np.ndarray | None = None):
    """The speed limit holds everywhere but at cuts (the planner's own flags, plus ``skip``)."""
    sp = path_speed(path.yaw, path.pitch, times)
    if path.cut is not None:
        sp = np.where(path.cut, 0.0, sp)
    if skip is not None:
        sp = np.where(skip, 0.0, sp)
    assert sp.max() <= limit * (1 + 1e-6) + 1e-6, sp.max()
    return sp.max()


# ---------------------------------------------------------------- scenarios
def static(t):
    return [(30.0, -10.0, 1.0)]


def seam(t):  # 150° → 350° (= −10°) at 20°/s: crosses +180 going right
    return [(float((150 + 20 * t + 180) % 360 - 180), 0.0, 1.0)]


def elevated(t):
    return [(60.0 + 5 * t, 40.0, 1.0)]


def switching(t):  # two sources 150° apart, the loud one swaps every 6 s
    a_loud = int(t // 6) % 2 == 0
    return [(-75.0, 0.0, 1.0 if a_loud else 0.15), (75.0, 0.0, 0.15 if a_loud else 1.0)]


def gap(t):  # source at 0°, silence 4–9 s, then a source at 90°
    if t < 4:
        return [(0.0, 0.0, 1.0)]
    if t < 9:
        return [(0.0, 0.0, 0.0)]
    return [(90.0, 0.0, 1.0)]


def seam_jump(t):  # 170° then −170°: the short way is 20° through the seam, not 340°
    return [(170.0 if t < 3 else -170.0, 0.0, 1.0)]


PLANNERS = ["centroid", "autocam"]


@pytest.mark.parametrize("name", PLANNERS)
def test_static_source(name):
    times, path, _ = run(name, static, 6)
    assert in_view_fraction(path, static, times) >= 0.95
    assert np.max(angular_distance(path.yaw, path.pitch, 30.0, -10.0)) < 12
    assert_speed(path, times)


@pytest.mark.parametrize("name", PLANNERS)
def test_moving_across_seam(name):
    times, path, _ = run(name, seam, 10)
    assert in_view_fraction(path, seam, times) >= 0.95
    assert_speed(path, times)
    total = unwrap_yaw(path.yaw)[-1] - unwrap_yaw(path.yaw)[0]
    assert 150 < total < 250  # went right through +180, not 160° back through 0


@pytest.mark.parametrize("name", PLANNERS)
def test_seam_jump_short_way(name):
    times, path, _ = run(name, seam_jump, 6)
    assert np.all(np.abs(path.yaw) >= 140)  # never swung through the front
    assert in_view_fraction(path, seam_jump, times) >= 0.95
    assert_speed(path, times)


def slightly_high(t):
    return [(-40.0, 6.0, 1.0)]


def test_small_elevations_are_the_horizon_large_ones_still_tilt():
    """autocam's horizon deadband (horizon=8): a talker 6° up is shot with the horizon level (pitch 0,
    the elevation a reflection could give), a source 40° up still tilts the camera, by 8° less; by
    default (off) the camera takes the sound's own elevation."""
    _, low, _ = run("autocam", slightly_high, 6, horizon=8.0)
    assert np.allclose(low.pitch[30:], 0.0, atol=0.5)
    _, high, _ = run("autocam", elevated, 6, horizon=8.0)
    assert 27.0 < np.median(high.pitch) < 36.0
    times, raw, _ = run("autocam", slightly_high, 6)
    assert abs(np.median(raw.pitch) - 6.0) < 2.0


@pytest.mark.parametrize("name", PLANNERS)
def test_elevated_source(name):
    times, path, _ = run(name, elevated, 6)
    assert in_view_fraction(path, elevated, times) >= 0.95
    assert np.all(path.pitch > 15)
    assert_speed(path, times)


@pytest.mark.parametrize("name", PLANNERS)
def test_switching_sources(name):
    times, path, _ = run(name, switching, 24)
    assert in_view_fraction(path, switching, times, exclude=pan_window(times)) >= 0.95
    assert_speed(path, times)


def pan_window(times, period=6.0, pan=150 / 60):
    """Frames around each switch: offline DP centres the pan on the switch (capture-optimal), so it
    may leave up to half a pan early; one extra second after it lets the smoothing settle."""
    phase = (times + pan / 2) % period
    return (phase < pan * 1.5 + 1.0) & (times > period / 2)


@pytest.mark.parametrize("name", PLANNERS)
def test_silent_gap_holds(name):
    times, path, _ = run(name, gap, 13)
    sp = path_speed(path.yaw, path.pitch, times)
    settled = (times >= 5.5) & (times < 9)
    assert sp[settled].max() < 1.0
    after = (times >= 9 + 90 / 60 + 1.0) | (times < 4)
    assert in_view_fraction(path, gap, times, exclude=~after) >= 0.95
    assert_speed(path, times)


def test_autocam_cuts_when_pan_too_long():
    times, path, _ = run("autocam", switching, 24, cuts="auto", max_pan_time=1.0)
    sp = path_speed(path.yaw, path.pitch, times)
    jumps = np.nonzero(sp > 60 * (1 + 1e-6))[0]
    assert 1 <= len(jumps) <= 6  # one cut per switch, no panning at all in between
    assert np.array_equal(jumps, np.nonzero(path.cut)[0])  # every jump is flagged as a cut
    assert np.all(sp[jumps] / FPS > 100)  # a real cut, not a fast pan
    since_switch = times % 6
    assert in_view_fraction(path, switching, times, exclude=(since_switch < 1.0) & (times > 1)) >= 0.95


def test_autocam_all_silent_looks_forward():
    times, path, _ = run("autocam", lambda t: [(0.0, 0.0, 0.0)], 3)
    assert np.allclose(path.yaw, 0, atol=1e-6) and np.allclose(path.pitch, 0, atol=1e-6)


@pytest.mark.parametrize("name", PLANNERS)
def test_strip_shape(name):
    times, path, planner = run(name, static, 2)
    strip = planner.yaw_strip()
    assert strip.shape[0] == len(times) and strip.shape[1] >= 36
    # the strip peaks at the source's yaw
    col = np.argmax(strip.mean(axis=0))
    assert abs(-180 + (col + 0.5) * 360 / strip.shape[1] - 30) <= 10


def test_unknown_option_refused():
    from common.errors import OptionError

    with pytest.raises(OptionError, match="max_sped"):
        create_planner("autocam", CTX, {"max_sped": 3})
    with pytest.raises(OptionError, match="max_speed"):
        create_planner("centroid", CTX, {"max_speed": -1})


def test_hold_and_limit_helpers():
    y, p, ok = hold_direction(np.array([5.0, 10, 20, 30]), np.zeros(4), np.array([0.0, 1, 0.1, 1]), 0.15)
    assert y.tolist() == [10, 10, 10, 30] and ok.tolist() == [False, True, False, True]
    # a 180° reversal steps by exactly the limit each frame
    v = yaw_pitch_to_vec(np.array([0.0, 179.0, 179.0]), np.zeros(3))
    out = limit_speed_vectors(v, 2.0)
    assert np.isclose(angular_distance(0.0, 0.0, *_yp(out[1])), 2.0)
    yaw, pitch = calm_path(
        np.array([170.0] * 30 + [-170.0] * 60), np.zeros(90), np.arange(90) / FPS, FPS, 60, 0.2
    )
    assert np.all(np.abs(yaw) >= 169)


def _yp(v):
    from pano.sphere.geometry import vec_to_yaw_pitch

    return vec_to_yaw_pitch(v)


def test_autocam_pools_large_maps():
    """Maps bigger than score_grid are area-pooled; the aim matches the small-map result."""
    from pano.sphere.geometry import grid_vectors as gv

    def blob(h, w):
        g = gv(h, w)
        return np.exp(KAPPA * (g @ yaw_pitch_to_vec(-120.0, 25.0) - 1.0)).astype(np.float32)

    aims = []
    for h, w in [(32, 64), (96, 192), (90, 180)]:
        p = create_planner("autocam", CTX)
        n = 20
        maps = np.repeat(blob(h, w)[None], n, axis=0)
        p.observe(Observation(np.arange(n) / FPS, maps, np.full(n, -120.0), np.full(n, 25.0), np.ones(n)))
        path = p.plan()
        aims.append((path.yaw[-1], path.pitch[-1]))
    for y, pt in aims:
        assert angular_distance(y, pt, -120.0, 25.0) < 2.0


def test_spilled_rows_read_back_what_was_appended_in_any_order():
    from pano.planning.dp import SpilledRows

    rng = np.random.default_rng(1)
    rows = rng.standard_normal((53, 7, 3)).astype(np.float32)
    store = SpilledRows((7, 3), np.float32, chunk=5)
    for r in rows:
        store.append(r)
    assert len(store) == 53
    for i in rng.permutation(53):  # across chunks on disk, the cache and the unflushed tail
        assert np.array_equal(store[i], rows[i])
    assert np.array_equal(store[-1], rows[-1]) and np.array_equal(np.stack(list(store)), rows)
    store.close()


def test_autocam_path_is_the_same_whether_its_block_scores_are_spilled_or_not(monkeypatch):
    """The DP's per-block scores and back-pointers go to a temporary file a chunk at a time (memory
    flat in duration); with chunks of 3 blocks (every read from disk) the path, cuts and strip are the
    ones of chunks larger than the video (all in memory)."""
    import pano.planning.dp as dp

    def plan(chunk: int):
        monkeypatch.setattr(dp, "SPILL_ROWS", chunk)
        _, path, planner = run("autocam", switching, 24, cuts="auto", max_pan_time=1.0)
        return path, planner.yaw_strip()

    (a, strip_a), (b, strip_b) = plan(10**6), plan(3)
    assert a.cut.any()  # the scene has cuts, so the editor's rules read scores across blocks
    for key in ("yaw", "pitch", "confidence", "cut", "hfov", "vfov"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    assert np.array_equal(strip_a, strip_b)


def test_speed_limit_is_the_same_whatever_its_chunk(monkeypatch):
    """The camera's speed limit walks the path a few thousand rows at a time (memory: a two-hour path as
    Python floats would hold ~60 MB); where the chunks end changes nothing, bit for bit."""
    import pano.planning.smoothing as smoothing

    rng = np.random.default_rng(3)
    vec = rng.normal(size=(1000, 3))
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    step = rng.uniform(0.5, 4.0, 1000)
    args = dict(start=np.array([1.0, 0.0, 0.0]), breaks=np.array([5, 333, 334, 999]))
    whole = limit_speed_vectors(vec, step, **args)
    monkeypatch.setattr(smoothing, "_FLOAT_ROWS", 7)
    assert np.array_equal(limit_speed_vectors(vec, step, **args), whole)
    assert limit_speed_vectors(vec[:0], step[:0]).shape == (0, 3)


def test_long_tracks_are_unwrapped_and_matched_a_chunk_at_a_time(monkeypatch):
    """unwrap_yaw and nearest_samples work through a long path in chunks (the whole video's temporaries
    at the start of the render stayed in the heap); the results are np.unwrap's and the whole-array
    search's, bit for bit, wherever the chunks end, seam crossings at exactly ±180° included."""
    import pano.paths.trajectory as trajectory
    import pano.sphere.geometry as geometry

    rng = np.random.default_rng(0)
    yaw = ((np.cumsum(rng.normal(0, 40, 5000)) + 180) % 360) - 180
    yaw[::97], yaw[1::97] = 180.0, -180.0
    whole = np.degrees(np.unwrap(np.radians(yaw)))
    st, t = np.sort(rng.uniform(0, 100, 5000)), rng.uniform(-1, 101, 5007)
    ref = trajectory.nearest_samples(st, t)
    for chunk in (3, 1000):
        monkeypatch.setattr(geometry, "_UNWRAP_CHUNK", chunk)
        monkeypatch.setattr(trajectory, "_NEAREST_CHUNK", chunk)
        assert geometry.unwrap_yaw(yaw).tobytes() == whole.tobytes()
        got = trajectory.nearest_samples(st, t)
        assert got[0].tobytes() == ref[0].tobytes() and got[1].tobytes() == ref[1].tobytes()
