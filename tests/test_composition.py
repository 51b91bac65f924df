"""Framing the subject, not the point (issue 21): the sounding subject's box from the picture, composed
with headroom, zoomed to fit, pitched from the picture where the FOA elevation is off.

Scenes (``scenes.py``) draw the subject as a flat-coloured figure on a textured background; pass 1 is
emulated by ``plan_scene`` exactly as the pipeline does it (``pano.localizers.subject``).
"""

from __future__ import annotations

import json

import numpy as np

from cli.main import main
from pano.localizers.subject import subject_box
from scenes import near_subject, plan_scene, reflected_subject, score, tall_subject

HFOV, VFOV = 65.5, 36.8
ZOOM = (46.0, 104.0)


def scored(scene, **options):
    zoom = options.pop("zoom", ZOOM)
    path = plan_scene(scene, HFOV, VFOV, hfov_range=zoom, **options)
    h = path.hfov if path.hfov is not None else HFOV
    v = path.vfov if path.vfov is not None else VFOV
    return score(scene, path.yaw, path.pitch, h, v, path.cut), path


def test_the_subject_box_is_the_region_the_sound_falls_in():
    scene = tall_subject(seconds=1.0)
    frame = scene.picture(0)
    yaw, pitch, w, h = subject_box(frame, 20.0, 0.0)  # the sound at the figure's middle
    assert abs(yaw - 20.0) < 1.5 and abs(pitch) < 1.5 and abs(w - 14.0) < 2.0 and abs(h - 44.0) < 2.0
    assert np.isnan(subject_box(frame, -90.0, 0.0)[0])  # on the background: no subject


def test_a_tall_subject_with_the_sound_at_its_middle_is_framed_whole_with_headroom():
    scene = tall_subject(seconds=10.0)
    point, _ = scored(scene, subject="off", zoom=None)  # the sound's point: the head is cut off
    assert point["whole"] == 0.0 and point["headroom"] < 0
    metrics, path = scored(scene)
    assert metrics["whole"] >= 0.9 and metrics["capture"] == 1.0
    assert 2.0 <= metrics["headroom"] <= 12.0  # room above the head, not a sky shot
    assert path.subject is not None and np.isfinite(path.subject).all(axis=1).mean() > 0.9


def test_a_subject_nearer_than_the_view_can_hold_widens_it():
    metrics, path = scored(near_subject(seconds=10.0))
    assert path.hfov is not None and np.median(path.hfov) > 90.0
    assert metrics["whole"] >= 0.9
    framed = np.arange(len(path.hfov)) / 30.0 > 1.5
    assert np.ptp(path.hfov[framed]) < 1e-6  # one field of view for the still shot


def test_the_picture_decides_the_pitch_where_the_sound_comes_from_a_reflection():
    scene = reflected_subject(seconds=10.0)
    sound_only, _ = scored(scene, subject="off")
    assert sound_only["capture"] < 0.5  # the platform under the vehicle
    metrics, path = scored(scene)
    assert metrics["capture"] >= 0.95 and metrics["whole"] >= 0.9
    assert abs(np.median(path.pitch)) < 5.0


def test_without_a_picture_a_reflection_below_the_source_leaves_the_horizon_level():
    """No subject found (subject off): with the horizon's deadband (horizon=8) the FOA direction 20°
    below the vehicle tilts the camera 12°, not 20°, and the vehicle stays in the frame; without it
    (the default) the camera shows the platform under it."""
    scene = reflected_subject(seconds=10.0)
    level, path = scored(scene, subject="off", horizon=8.0)
    raw, raw_path = scored(scene, subject="off")
    assert raw["capture"] < 0.5 and abs(np.median(raw_path.pitch) + 20.0) < 3.0
    assert level["capture"] >= 0.95
    assert abs(np.median(path.pitch) + 12.0) < 3.0  # still tilted towards the sound, by 8° less


def test_the_run_records_the_subject_box_per_sample(tmp_path, capsys):
    scene = tall_subject(seconds=5.0)
    clip = scene.write(tmp_path / "tall.mp4")
    code = main(["run", str(clip), "-o", str(tmp_path / "out"), "--no-saliency-video", "--size", "160x90", "-q"])
    assert code == 0, capsys.readouterr().err
    samples = json.loads((tmp_path / "out" / "tall.trajectory.json").read_text())["samples"]
    boxes = np.array([s["subject"] for s in samples if "subject" in s])
    assert len(boxes) > 0.8 * len(samples)
    assert np.all(np.abs(np.median(boxes, axis=0) - [20.0, 0.0, 14.0, 44.0]) < 2.5)
    assert min(s["hfov"] for s in samples[45:]) > 90.0  # zoomed out to hold the whole figure


def test_a_person_found_by_the_face_is_framed_head_and_shoulders_not_zoomed_to_the_widest_view():
    """A face-found person's box (head and shoulders, the face's height as its fifth value): the top of
    the head sits under headroom, the view is the nominal one or wider only as far as the box needs,
    at most 90° (the whole-body rule would want the widest, 104°); a distant face is not zoomed in on."""
    from pano.planning.composition import compose

    close = np.array([30.0, -12.0, 36.0, 42.0, 12.0])  # a face 12° tall: a talker under a metre away
    yaw, pitch, want = compose(30.0, -15.0, close, HFOV, VFOV, ZOOM)
    whole = compose(30.0, -15.0, close[:4], HFOV, VFOV, ZOOM)[2]
    assert whole == ZOOM[1] and HFOV < want <= 90.0
    ratio = np.tan(np.radians(VFOV) / 2) / np.tan(np.radians(HFOV) / 2)
    v = np.degrees(2 * np.arctan(np.tan(np.radians(want) / 2) * ratio))
    top = close[1] + close[3] / 2
    assert top < pitch + v / 2 <= top + 0.1 * v and abs(yaw - 30.0) < 1e-6  # headroom, not sky
    far = np.array([-50.0, 0.0, 12.0, 14.0, 4.0])  # a face 4° tall
    assert compose(-50.0, -5.0, far, HFOV, VFOV, ZOOM)[2] == HFOV
    assert compose(30.0, -15.0, close, HFOV, VFOV, None)[2] == HFOV  # --fov fixes it


def test_a_seated_player_above_the_sound_is_framed_with_the_sound_kept_in_the_shot():
    """A pianist's head and shoulders (found by the face) stand 30-55° above the keys the sound comes
    from: the shot holds the head under its headroom *and* the keys, widening past the 90° a close talker
    gets as far as the range allows. FOA elevation is the uncertain part: a sound read up to 25° below
    the box is taken to be at its bottom edge (a reflection), which stays in the frame; one read further
    off stays in the frame itself and the head gives way (capture first). A fixed view keeps it too."""
    from pano.planning.composition import SOUND_MARGIN, compose

    ratio = np.tan(np.radians(VFOV) / 2) / np.tan(np.radians(HFOV) / 2)

    def vfov(h):
        return np.degrees(2 * np.arctan(np.tan(np.radians(h) / 2) * ratio))

    pianist = np.array([-157.0, 5.0, 41.0, 55.0, 16.0])  # hair at 32.5°, bottom edge at -22.5°
    top = pianist[1] + pianist[3] / 2
    yaw, pitch, want = compose(-155.0, -22.0, pianist, HFOV, VFOV, ZOOM)
    v = vfov(want)
    assert 90.0 < want <= ZOOM[1]
    assert pitch - v / 2 + SOUND_MARGIN <= -22.0 + 1e-6  # the keys above the bottom edge ...
    assert top < pitch + v / 2  # ... and the hair below the top
    for fov_range in (ZOOM, None):
        yaw, pitch, want = compose(-155.0, -40.0, pianist, HFOV, VFOV, fov_range)  # 17.5° under the box
        assert pitch - vfov(want) / 2 + SOUND_MARGIN <= -22.5 + 1e-6
        yaw, pitch, want = compose(-155.0, -55.0, pianist, HFOV, VFOV, fov_range)  # beyond the FOA's doubt
        assert abs(pitch - -55.0) <= vfov(want) / 2 - SOUND_MARGIN + 1e-6
    standing = np.array([20.0, 10.0, 14.0, 60.0])  # a body box whose headroom would push a low sound out
    yaw, pitch, want = compose(20.0, -19.0, standing, HFOV, VFOV, None)
    assert abs(pitch - -19.0) <= VFOV / 2 - SOUND_MARGIN + 1e-6


def test_the_subject_holds_while_the_sound_wobbles_off_it_for_a_moment():
    """A seated player's FOA direction dips 10-20° below their box on some frames (the floor's
    reflection): the player stays the subject on those frames, for up to two seconds after the sound
    was last on the box, and never for a sound far off it."""
    from pano.localizers.base import FrameBatch
    from pano.localizers.subject import STICKY_SECONDS, SubjectFinder

    player = np.array([[-157.0, 5.0, 41.0, 55.0, 1.0, np.nan]])  # bottom edge at -22.5°
    finder = SubjectFinder(every=1, people=False)
    times = np.array([0.0, 0.5, 1.0, 1.0 + STICKY_SECONDS + 0.5, 4.0])
    pitch = np.array([-25.0, -40.0, -52.0, -40.0, -25.0])  # on it, 17.5° under it, 29.5° under, late, on
    batch = FrameBatch(np.arange(len(times)), times)
    got = finder.boxes(batch, [player] * len(times), np.full(len(times), -155.0), pitch, np.ones(len(times)))
    assert np.allclose(got[0, :4], player[0, :4]) and np.allclose(got[1, :4], player[0, :4])
    assert np.isnan(got[2, 0]) and np.isnan(got[3, 0])  # too far; and too long since it was on the box
    assert np.allclose(got[4, :4], player[0, :4])


def test_a_moment_without_the_subject_box_holds_the_shot(monkeypatch):
    """Pass 1 misses the subject for a second in every three (the sound on another player for a
    block, a look that found nothing): the composed shot holds through each gap, its view and its
    field of view, instead of falling back to the sound's point and zooming in and out."""
    import pano.localizers.subject as subject

    found = subject.subject_boxes
    frame_of = iter(range(10**6))

    def with_gaps(frames, yaw, pitch, conf):
        i = next(frame_of) * 3  # plan_scene looks at every third frame, in order
        out = found(frames, yaw, pitch, conf)
        if (i % 90) >= 60:  # the last second of every three
            out[:] = np.nan
        return out

    monkeypatch.setattr(subject, "subject_boxes", with_gaps)
    scene = tall_subject(seconds=12.0)
    metrics, path = scored(scene)
    framed = np.arange(len(path.pitch)) / scene.fps > 3.0
    assert metrics["whole"] >= 0.9 and metrics["capture"] == 1.0
    assert np.ptp(path.pitch[framed]) < 1.0 and np.ptp(path.hfov[framed]) < 1e-6


def test_the_opening_shot_is_composed_from_the_first_frame(monkeypatch):
    """The first look that finds the subject comes a moment after the sound starts (people are looked
    for every 2 s, and the box must hold over ± 1 s): the video used to open on the sound's point, the
    tall subject's head out of the frame, and tilt and widen onto the subject a second later. The
    planner sees the whole video, so the opening shot is composed from its first frame."""
    import pano.localizers.subject as subject

    found = subject.subject_boxes
    frame_of = iter(range(10**6))

    def found_late(frames, yaw, pitch, conf):
        out = found(frames, yaw, pitch, conf)
        if next(frame_of) * 3 < 30:  # plan_scene looks at every third frame: nothing in the first second
            out[:] = np.nan
        return out

    monkeypatch.setattr(subject, "subject_boxes", found_late)
    scene = tall_subject(seconds=8.0)
    path = plan_scene(scene, HFOV, VFOV, hfov_range=ZOOM)
    from pano.sphere.geometry import in_view

    f = scene.figure
    whole = np.ones(len(path.yaw), bool)
    for dy in (-0.5, 0.0, 0.5):
        for dp in (-0.5, 0.0, 0.5):
            whole &= np.asarray(in_view(f[:, 0] + dy * f[:, 2], f[:, 1] + dp * f[:, 3], path.yaw, path.pitch,
                                        path.hfov, path.vfov), bool)
    assert whole.all()  # from the first frame, not from the first look that found it
    assert np.ptp(path.pitch) < 1.0 and np.ptp(path.hfov) < 1e-6  # one still shot, no tilt at the start
