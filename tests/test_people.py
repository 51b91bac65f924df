"""People as likely sound makers (the ``audiovisual`` people part) and as the subject to frame (the
pipeline's subject finder): OpenCV's detector on figures the tests draw, and the combination with a
detector the tests stand in for, on clips the tests make."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cli.main import main
from pano.localizers.base import FrameBatch
from pano.localizers.people import PeopleTrack, PersonDetector, person_at, view_box_to_sphere
from pano.localizers.subject import SubjectFinder
from pano.media.writer import write_video
from pano.sphere.ambisonics import encode_foa
from pano.sphere.geometry import in_view, pitch_to_y, yaw_to_x
from scenes import face_panorama

FPS = 30.0
SR = 48000


def draw_figure(img: np.ndarray, cx: float, top: float, height: float, value: int = 40) -> None:
    """A dark standing stick figure (head, torso, arms, legs) ``height`` pixels tall, in place."""
    s = height / 8.0
    w = img.shape[1]
    for dx in (-w, 0, w):  # drawn three times so a figure on the seam wraps
        c = cx + dx
        cv2.circle(img, (int(c), int(top + s * 0.6)), int(s * 0.55), value, -1)
        cv2.rectangle(img, (int(c - s * 0.9), int(top + s * 1.2)), (int(c + s * 0.9), int(top + s * 4.2)), value, -1)
        for side in (-1, 1):
            cv2.line(img, (int(c + side * s * 0.9), int(top + s * 1.4)), (int(c + side * s * 1.4), int(top + s * 4.0)),
                     value, max(1, int(s * 0.4)))
            cv2.line(img, (int(c + side * s * 0.4), int(top + s * 4.2)), (int(c + side * s * 0.6), int(top + s * 8)),
                     value, max(1, int(s * 0.5)))


def figure_panorama(yaws: tuple[float, ...], size=(480, 960), height_deg: float = 44.0, seed: int = 0) -> np.ndarray:
    """An RGB equirectangular frame, light and noisy, with a figure standing on the horizon at each yaw."""
    h, w = size
    rng = np.random.default_rng(seed)
    grey = np.clip(200 + rng.normal(0, 6, size), 0, 255).astype(np.uint8)
    for yaw in yaws:
        top = float(pitch_to_y(height_deg / 2.0, h))
        draw_figure(grey, float(yaw_to_x(yaw, w)), top, height_deg * h / 180.0)
    return np.repeat(grey[..., None], 3, axis=2)


# -- the detector ----------------------------------------------------------------------------------

@pytest.mark.parametrize("yaw", [40.0, -100.0, 179.0])
def test_a_drawn_figure_is_found_at_its_direction_and_size(yaw):
    boxes = PersonDetector().detect(figure_panorama((yaw,)))
    assert len(boxes) == 1, boxes
    by, bp, bw, bh, _score, face = boxes[0]
    assert np.isnan(face)  # a body, not a face
    assert abs(((by - yaw + 180) % 360) - 180) < 6.0, boxes
    assert abs(bp) < 8.0 and 25.0 < bh < 60.0 and bw < bh, boxes


def test_an_empty_panorama_has_no_people():
    assert len(PersonDetector().detect(figure_panorama(()))) == 0


@pytest.mark.parametrize("yaw", [30.0, 175.0])
def test_a_drawn_face_is_found_and_its_person_is_framed_by_head_and_shoulders(yaw):
    """The face cascade finds the drawn talker (the HOG detector does not: no body); the row carries the
    face's height, and the head-and-shoulders box starts above the hair and is shorter than the body
    box the face stands for."""
    from pano.localizers.people import head_and_shoulders

    assert len(PersonDetector().detect(face_panorama(yaw, 5.0, 9.0))) == 0  # bodies only: nobody
    rows = PersonDetector(faces=True).detect(face_panorama(yaw, 5.0, 9.0))
    assert len(rows) == 1 and rows.shape[1] == 6, rows
    row = rows[0]
    assert abs(((row[0] - yaw + 180) % 360) - 180) < 3.0 and 8.0 < row[5] < 16.0, row
    by, bp, bw, bh = head_and_shoulders(row)
    hair_top = 5.0 + 0.64 * 9.0
    assert hair_top < bp + bh / 2 < hair_top + 6.0, (bp, bh)
    assert bh < row[3] and abs(bh - 3.5 * row[5]) < 1e-6


def test_faces_in_profile_are_looked_for_both_ways_round_without_false_faces():
    """The profile cascade runs on the view and its mirror image: no face on an empty panorama, and the
    frontal face is still found with it."""
    det = PersonDetector(faces=True, profiles=True)
    assert len(det.detect(figure_panorama(()))) == 0
    rows = det.detect(face_panorama(-60.0, 5.0, 9.0))
    assert len(rows) >= 1 and np.all(np.abs(rows[:, 0] + 60.0) < 5.0) and np.isfinite(rows[:, 5]).all(), rows


def test_view_boxes_map_to_the_sphere():
    """A box filling a view is the view's field; one at its centre points where the view does."""
    yaw, pitch, w, h = view_box_to_sphere(60.0, 0, 0, 288, 288, px=288, fov=80.0)
    assert abs(yaw - 60.0) < 0.5 and abs(pitch) < 0.5 and abs(w - 80.0) < 0.5 and abs(h - 80.0) < 1.0


def test_people_are_held_between_looks_and_the_one_at_the_sound_is_picked():
    track = PeopleTrack(lambda _f, **_where: np.array([[30.0, 0.0, 15.0, 40.0, 1.0], [-90.0, 0.0, 15.0, 40.0, 1.0]]),
                        hold=10.0)
    track.add(1.0, np.zeros((4, 8, 3), np.uint8))
    assert len(track.at(0.5)) == 0 and len(track.at(9.0)) == 2 and len(track.at(11.5)) == 0
    assert person_at(track.at(5.0), 33.0, 12.0)[0] == 30.0  # inside the box: the player, not the point
    assert person_at(track.at(5.0), 150.0, 0.0) is None


# -- the people part of the mono default -----------------------------------------------------------

def _background(size=(120, 240), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.uniform(60, 160, (size[0] // 8, size[1] // 8, 1))
    return np.repeat(np.kron(small, np.ones((8, 8, 1))), 3, axis=2).astype(np.uint8)


def _players_clip(tmp_path, seconds: float, moving: dict[float, bool], name: str = "players.mp4",
                  sound_yaw: float | None = None):
    """A mono clip over a still panorama: a small patch at each yaw in ``moving`` that flickers (a
    player playing: the picture changes there) or stays still, and a steady tone; with ``sound_yaw``
    a stereo track instead, the tone from there as two ±90° cardioids hear it."""
    size = (120, 240)
    n = int(seconds * FPS)
    rng = np.random.default_rng(7)
    bg = _background(size)
    frames = []
    for _ in range(n):
        f = bg.copy()
        for yaw, moves in moving.items():
            x = int(yaw_to_x(yaw, size[1]))
            y = int(pitch_to_y(0.0, size[0]))
            f[y - 6:y + 6, x - 3:x + 3] = int(rng.uniform(20, 230)) if moves else 120
        frames.append(f)
    st = np.arange(int(seconds * SR)) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * st) + 0.05 * rng.standard_normal(len(st))).astype(np.float32)
    if sound_yaw is None:
        return write_video(tmp_path / name, frames, FPS, audio=(tone[None], SR))
    left = -np.sin(np.radians(sound_yaw))  # yaw −90 is left
    pair = np.stack([0.5 * (1 + left) * tone, 0.5 * (1 - left) * tone]).astype(np.float32)
    return write_video(tmp_path / name, frames, FPS, audio=(pair, SR))


def _run(tmp_path, clip, *extra) -> dict:
    out = tmp_path / "out"
    assert main([str(clip), "-o", str(out), "--no-saliency-video", "--overwrite", *extra]) == 0
    return json.loads((out / (clip.stem + ".trajectory.json")).read_text())


def _yaws(traj: dict, after: float) -> np.ndarray:
    return np.array([s["yaw"] for s in traj["samples"] if s["t"] >= after])


@pytest.fixture
def two_people(monkeypatch):
    """A stand-in detector that sees a person at yaw 45 and one at yaw −130 on every look."""
    seen = np.array([[45.0, 0.0, 12.0, 30.0, 1.0], [-130.0, 0.0, 12.0, 30.0, 1.0]])
    looks = []

    def detect(self, frame, near=None, views=None):
        looks.append(frame.shape)
        return seen

    monkeypatch.setattr(PersonDetector, "detect", detect)
    return looks


def test_the_playing_person_nearest_the_front_is_followed_in_mono(tmp_path, two_people):
    """Both people play all along (their picture keeps changing): the camera turns to the one nearer
    the front and stays; without the people part, motion alone first takes the one behind. The
    detector looked at large frames, every 2 s."""
    clip = _players_clip(tmp_path, 8.0, {45.0: True, -130.0: True})
    traj = _run(tmp_path, clip)
    assert np.mean(np.abs(_yaws(traj, 3.0) - 45.0) < 15.0) >= 0.9
    assert traj["generator"]["params"]["localizer"]["parts"] == ["synchrony", "motion", "people", "stereo"]
    assert two_people and two_people[0][:2] == (480, 960) and len(two_people) <= 5
    off = _run(tmp_path, clip, "--source-option", 'parts=["synchrony","motion","stereo"]')
    assert np.mean(np.abs(_yaws(off, 3.0) - 45.0) < 15.0) <= 0.6


def test_in_a_picture_that_changes_nowhere_the_person_nearest_the_front_is_followed(tmp_path, two_people):
    """A locked-off camera on still talkers (or a still image under a voice): the picture cannot say who
    sounds, and a person is the likeliest sound maker, so the camera turns to the one nearer the front;
    with ``people_still=0`` (only people whose picture changes count) it holds at the front."""
    clip = _players_clip(tmp_path, 6.0, {45.0: False, -130.0: False}, "still.mp4")
    traj = _run(tmp_path, clip)
    assert np.mean(np.abs(_yaws(traj, 2.0) - 45.0) < 15.0) >= 0.9
    assert traj["generator"]["params"]["localizer"]["people_still"] == 4.0
    held = _run(tmp_path, clip, "--source-option", "people_still=0")
    assert np.all(np.abs(_yaws(held, 0.0)) <= 15.0)


def test_in_a_still_picture_a_stereo_side_chooses_the_person_on_it(tmp_path, monkeypatch):
    """Still people at yaw 45 and −100 and a talker's voice from −100 in a stereo track: the pair says
    left, so the camera turns to the person on that side, where mono (the stereo part off) takes the one
    nearer the front, at 45; so did stereo while the people part chose by the front alone."""
    seen = np.array([[45.0, 0.0, 12.0, 30.0, 1.0], [-100.0, 0.0, 12.0, 30.0, 1.0]])
    monkeypatch.setattr(PersonDetector, "detect", lambda self, frame, near=None, views=None: seen)
    clip = _players_clip(tmp_path, 6.0, {45.0: False, -100.0: False}, "side.mp4", sound_yaw=-100.0)
    traj = _run(tmp_path, clip)
    assert traj["generator"]["params"]["localizer"]["stereo_used"] is True
    yaws = _yaws(traj, 3.0)
    assert np.mean(np.abs(yaws + 100.0) < 15.0) >= 0.9, yaws
    mono = _yaws(_run(tmp_path, clip, "--source-option", 'parts=["synchrony","motion","people"]'), 3.0)
    assert np.mean(np.abs(mono - 45.0) < 15.0) >= 0.9, mono


def test_where_the_picture_changes_elsewhere_a_still_person_is_not_followed(tmp_path, two_people):
    """Someone plays at yaw −130 (their picture changes) while the person at yaw 45 stands still: the
    still one is not the sound maker, and the camera never settles on them."""
    clip = _players_clip(tmp_path, 8.0, {45.0: False, -130.0: True}, "one_plays.mp4")
    yaws = _yaws(_run(tmp_path, clip), 2.0)
    assert np.mean(np.abs(yaws - 45.0) < 15.0) <= 0.1, yaws


# -- the subject finder ----------------------------------------------------------------------------

def test_a_person_at_the_sound_is_the_subject_not_the_colour_patch():
    """The sound comes from the figure's chest: the subject box is the whole figure (head included),
    where the colour region would be the dark patch the direction falls in."""
    finder = SubjectFinder(every=1)
    pano = figure_panorama((40.0,))
    small = cv2.resize(pano, (512, 256), interpolation=cv2.INTER_AREA)
    batch = FrameBatch(np.arange(2), np.array([0.0, 0.04]), np.stack([small, small]), None, {0: pano})
    boxes = finder.boxes(batch, None, np.array([40.0, 40.0]), np.array([5.0, 5.0]), np.array([0.9, 0.9]))
    assert finder.people_boxes == 2
    assert finder.face_boxes == 0  # a body: framed whole, as before faces
    for yaw, pitch, _w, h, _face in boxes:
        assert abs(yaw - 40.0) < 6.0 and h > 30.0 and pitch + h / 2 > 18.0, boxes  # the head is in the box


def _talker_clip(tmp_path, face_yaw: float, sound: tuple[float, float], seconds: float = 4.0):
    """A FOA clip of a drawn close talker (face 9° tall at ``face_yaw``, pitch 3°) and a voice from
    ``sound`` (yaw, pitch): FOA reads a talker's voice at the mouth or lower (floor reflections)."""
    n = int(seconds * FPS)
    rng = np.random.default_rng(3)
    st = np.arange(int(seconds * SR)) / SR
    voice = 0.3 * np.sin(2 * np.pi * 220 * st) * (1 + 0.5 * np.sin(2 * np.pi * 3 * st))
    foa = encode_foa(voice, *sound) + 0.01 * rng.standard_normal((4, len(st)))
    return write_video(tmp_path / "talker.mp4", [face_panorama(face_yaw, 3.0, 9.0)] * n, FPS,
                       audio=(foa.astype(np.float32), SR))


def test_a_close_talker_found_by_the_face_is_framed_with_the_head_inside(tmp_path):
    """A talker close to the lens, whose voice FOA reads 18° below the face (no body the HOG detector
    finds): centring the sound cuts the top of the head off; with the face found (the default) the
    shot is composed on the head and shoulders, the top of the hair below the frame's top edge, and the
    view is widened within --fov-range and no further than 90° (not the 104° of the whole body the
    face stands for)."""
    clip = _talker_clip(tmp_path, 30.0, (30.0, -15.0))
    hair_top = 3.0 + 0.64 * 9.0
    off = _run(tmp_path, clip, "--planner-option", "faces=off", "--planner-option", "bodies=hog")["samples"]
    assert np.median([s["pitch"] + s["vfov"] / 2 for s in off[30:]]) < hair_top  # the head is cut
    # The face's path on its own (the pose detector, which finds this drawn talker too, frames him as the
    # body it guesses below the shoulders: tests/test_poses.py).
    samples = _run(tmp_path, clip, "--planner-option", "bodies=hog")["samples"]
    late = samples[30:]
    tops = np.array([s["pitch"] + s["vfov"] / 2 for s in late])
    assert np.all(tops > hair_top + 1.0), tops  # headroom above the hair
    hfov = np.array([s["hfov"] for s in late])
    assert np.all((hfov >= 46.0) & (hfov <= 90.0)), hfov
    assert all(in_view(30.0, 3.0, s["yaw"], s["pitch"], s["hfov"], s["vfov"]) for s in late)  # the face
    boxes = np.array([s["subject"] for s in samples if "subject" in s])
    assert len(boxes) > 0.5 * len(samples) and np.median(boxes[:, 3]) < 50.0, boxes[:3]


def test_a_face_far_from_the_sound_is_not_the_subject():
    """A face at yaw 30 and the sound at yaw −40: the face's person box does not hold the sound, so the
    subject is not that person (no face box), whatever the colour region gives."""
    finder = SubjectFinder(every=1)
    pano = face_panorama(30.0, 3.0, 9.0)
    small = cv2.resize(pano, (512, 256), interpolation=cv2.INTER_AREA)
    batch = FrameBatch(np.arange(2), np.array([0.0, 0.04]), np.stack([small, small]), None, {0: pano})
    far = finder.boxes(batch, None, np.array([-40.0, -40.0]), np.array([-10.0, -10.0]), np.array([0.9, 0.9]))
    assert finder.face_boxes == 0 and not np.isfinite(far[:, 4]).any()
    near = SubjectFinder(every=1)
    boxes = near.boxes(batch, None, np.array([32.0, 32.0]), np.array([-10.0, -10.0]), np.array([0.9, 0.9]))
    assert near.face_boxes == 2 and np.all(np.abs(boxes[:, 0] - 30.0) < 3.0), boxes
    bodies_only = SubjectFinder(every=1, faces="off", bodies="hog")
    bodies_only.boxes(batch, None, np.array([32.0, 32.0]), np.array([-10.0, -10.0]), np.array([0.9, 0.9]))
    assert bodies_only.face_boxes == 0 and bodies_only.people_boxes == 0


def test_a_foa_run_records_the_person_at_the_sound_as_its_subject(tmp_path):
    """End to end with FOA: a figure stands at yaw 30 and the sound comes from it; the trajectory's
    subject boxes are the figure's (≥ 30° tall, centred on it), and the camera frames it."""
    seconds, n = 3.0, int(3.0 * FPS)
    rng = np.random.default_rng(3)
    st = np.arange(int(seconds * SR)) / SR
    voice = 0.3 * np.sin(2 * np.pi * 220 * st) * (1 + 0.5 * np.sin(2 * np.pi * 3 * st))
    foa = encode_foa(voice, 30.0, 0.0) + 0.01 * rng.standard_normal((4, len(st)))
    clip = write_video(tmp_path / "figure.mp4", [figure_panorama((30.0,))] * n, FPS,
                       audio=(foa.astype(np.float32), SR))
    out = tmp_path / "out"
    assert main([str(clip), "-o", str(out), "--no-saliency-video"]) == 0
    traj = json.loads((out / "figure.trajectory.json").read_text())
    boxes = np.array([s["subject"] for s in traj["samples"] if "subject" in s])
    assert len(boxes) > 0.5 * len(traj["samples"])
    assert np.all(np.abs(boxes[:, 0] - 30.0) < 8.0) and np.median(boxes[:, 3]) > 30.0, boxes[:5]
    last = traj["samples"][-1]
    assert in_view(30.0, 0.0, last["yaw"], last["pitch"], last["hfov"], last["vfov"])


def test_without_the_detector_models_the_mono_default_runs_without_its_people_part(monkeypatch):
    """OpenCV 5 (no HOG people model, no cascades): one note, and the other parts still run."""
    import pano.localizers.audiovisual as av
    from common.errors import InputError
    from pano.localizers.base import create_localizer
    from pano.run.context import RunContext

    def missing(*_a, **_k):
        raise InputError("OpenCV 5.0 has no HOG people detector")

    monkeypatch.setattr(av, "PersonDetector", missing)
    notes = []
    loc = create_localizer("audiovisual", RunContext(fps=30.0, notify=notes.append))
    assert "people" not in loc.parts and loc.detail_size is None and not loc.describe()["people_used"]
    assert len(notes) == 1 and "people part" in notes[0]


def test_without_the_pose_runtime_a_default_run_says_so_once_and_frames_by_hog_and_faces(tmp_path, capsys,
                                                                                        monkeypatch):
    """bodies=pose is the default; where the LiteRT runtime is not installed (a platform without its
    wheel) the run prints one note naming the fix and carries on with HOG and faces: the close
    talker is still framed by the face, head inside."""
    import sys

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # `import ai_edge_litert...` raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    clip = _talker_clip(tmp_path, 30.0, (30.0, -15.0))
    out = tmp_path / "out"
    assert main([str(clip), "-o", str(out), "--no-saliency-video"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "LiteRT" in line]
    assert len(notes) == 1 and "bodies=hog" in notes[0] and "pano-pan[pose]" in notes[0], err
    samples = json.loads((out / "talker.trajectory.json").read_text())["samples"]
    assert all(s["pitch"] + s["vfov"] / 2 > 3.0 + 0.64 * 9.0 for s in samples[30:])  # the face found it


def test_without_the_pose_runtime_a_mono_run_asking_for_pose_bodies_says_so_once(tmp_path, capsys, monkeypatch):
    """The mono people part (``people_bodies=pose``) misses the LiteRT runtime and says so in one line;
    the subject finder, framing the people the localizer found, builds no detectors of its own and
    does not say it again. The run finishes on HOG and faces."""
    import sys

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    clip = _players_clip(tmp_path, 3.0, {45.0: True})
    traj = _run(tmp_path, clip, "--source-option", "people_bodies=pose")
    notes = [line for line in capsys.readouterr().err.splitlines() if "LiteRT" in line]
    assert len(notes) == 1 and "bodies=hog" in notes[0], notes
    assert traj["generator"]["params"]["localizer"]["people_used"]
