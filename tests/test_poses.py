"""BlazePose's person detector (``pano.localizers.poses``) and the subject finder's use of it."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cli.main import main
from pano.localizers.base import FrameBatch
from pano.localizers.poses import PoseDetector, anchors, body_box, decode
from pano.localizers.subject import SubjectFinder
from pano.media.writer import write_video
from pano.sphere.ambisonics import encode_foa
from pano.sphere.geometry import in_view
from scenes import TALKER_TOP, face_panorama

pytest.importorskip("ai_edge_litert", reason="the pose detector needs ai-edge-litert (pip install 'pano-pan[pose]')")

SR, FPS = 16000, 25


def test_anchors_follow_the_models_output_order():
    """2254 anchors: 28×28 cells × 2 (stride 8), 14×14 × 2 (16), 7×7 × 6 (the three stride-32 layers),
    each group row by row from the top left."""
    a = anchors()
    assert a.shape == (2254, 2)
    assert np.allclose(a[0], (0.5 / 28, 0.5 / 28)) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], (1.5 / 28, 0.5 / 28))
    assert np.allclose(a[1568], (0.5 / 14, 0.5 / 14))
    assert np.allclose(a[-1], (6.5 / 7, 6.5 / 7)) and np.allclose(a[-6], a[-1])


def test_decode_places_boxes_at_their_anchor_and_suppresses_duplicates():
    """A confident face box 0.1 × 0.1 around anchor 100 plus its near copy on anchor 101 (the same
    cell): one detection, at the anchor's centre shifted by the regression; a weak one is dropped."""
    raw = np.zeros((2254, 12), np.float32)
    logits = np.full(2254, -10.0, np.float32)
    raw[100, :4] = (2.24, 0.0, 22.4, 22.4)  # 0.01 right of the anchor, 0.1 wide and tall (224-px units)
    raw[101, :4] = (2.0, 0.5, 22.0, 23.0)
    raw[100, 4:6] = (0.0, 44.8)  # the hips 0.2 below the anchor
    logits[100], logits[101], logits[500] = 4.0, 3.0, -1.0
    det = decode(raw, logits)
    assert det.shape == (1, 13)
    ax, ay = anchors()[100]
    assert np.isclose(det[0, 0], 1 / (1 + np.exp(-4.0)))
    assert np.allclose(det[0, 1:5], (ax + 0.01 - 0.05, ay - 0.05, ax + 0.01 + 0.05, ay + 0.05))
    assert np.allclose(det[0, 5:7], (ax, ay + 0.2))


def test_a_body_box_runs_from_the_hair_to_the_feet():
    """Face box 0.1 tall at the top, hips 0.3 below it, the body circle's radius 0.3: the box's top is
    the hair above the face, its bottom the feet (hips + radius), clipped to the view."""
    det = np.zeros(13)
    det[1:5] = (0.45, 0.2, 0.55, 0.3)  # face
    det[5:7] = (0.5, 0.6)  # hips
    det[7:9] = (0.5, 0.9)  # on the body circle: radius 0.3
    det[9:13] = (0.5, 0.35, 0.5, 0.25)  # shoulders; the upper body's circle point, below the hair here
    x, y, w, h = body_box(det)
    assert np.isclose(y, 0.2 - 0.03) and np.isclose(y + h, 0.9)
    assert np.isclose(x + w / 2, 0.5) and np.isclose(w, 0.18)
    det[12] = 0.1  # a face box that sits low (chin to chest): the upper body's point above it is the top
    assert np.isclose(body_box(det)[1], 0.1)
    det[12] = 0.0  # a bent-over player's circle reaches far above him: the top stays a face height over the hair
    assert np.isclose(body_box(det)[1], 0.2 - 0.03 - 0.1)
    det[7:9] = (0.5, 1.2)  # a body that runs off the bottom of the view
    _, y, _, h = body_box(det)
    assert np.isclose(y + h, 1.0)


def test_a_detection_wider_than_a_body_is_not_a_person(monkeypatch):
    """Of two detections in one view, the one whose box is as wide as tall (a body circle too big for
    its head-to-feet line: the detector firing on a ceiling's beams) is dropped; the body is kept."""
    body = np.zeros(13)
    body[1:5] = (0.75, 0.2, 0.85, 0.3)  # on the right of the view
    body[5:7], body[7:9], body[9:13] = (0.8, 0.6), (0.8, 0.9), (0.8, 0.35, 0.8, 0.25)
    beams = np.zeros(13)  # on the left
    beams[1:5] = (0.05, 0.1, 0.45, 0.2)  # a face box 0.4 wide ...
    beams[5:7], beams[7:9], beams[9:13] = (0.25, 0.3), (0.25, 0.45), (0.25, 0.2, 0.25, 0.1)  # ... feet at 0.45
    detector = PoseDetector(views=(0.0,))
    monkeypatch.setattr(detector, "detect_image", lambda rgb: np.stack([body, beams]))
    people = detector.detect(np.full((480, 960, 3), 90, np.uint8))
    assert len(people) == 1 and people[0, 3] > 2 * people[0, 2] and people[0, 0] > 0, people


def test_the_detector_finds_a_drawn_talker_where_he_is():
    """The drawn head and shoulders at yaw −40 (the face 12° tall): one person, centred on him, the box
    reaching above the hair."""
    pano = face_panorama(-40.0, 3.0, 12.0)
    people = PoseDetector().detect(pano)
    assert len(people) == 1, people
    yaw, pitch, width, height = people[0, :4]
    assert abs(yaw + 40.0) < 5.0 and width < 40.0, people
    assert pitch + height / 2 >= 3.0 + TALKER_TOP * 12.0 - 1.0, people  # the top of the hair is inside
    assert len(PoseDetector().detect(np.full((480, 960, 3), 90, np.uint8))) == 0  # nobody in a grey frame


def test_the_subject_finder_finds_by_pose_whom_hog_misses():
    """A drawn talker at yaw 30, faces off: HOG alone finds no one (he has no legs), the pose detector
    finds him, and his box is the subject at the sound."""
    pano = face_panorama(30.0, 3.0, 9.0)
    small = cv2.resize(pano, (512, 256), interpolation=cv2.INTER_AREA)
    batch = FrameBatch(np.arange(2), np.array([0.0, 0.04]), np.stack([small, small]), None, {0: pano})
    args = (batch, None, np.array([31.0, 31.0]), np.array([-2.0, -2.0]), np.array([0.9, 0.9]))
    hog = SubjectFinder(every=1, faces="off", bodies="hog")
    hog.boxes(*args)
    assert hog.people_boxes == 0
    pose = SubjectFinder(every=1, faces="off", bodies="pose")
    boxes = pose.boxes(*args)
    assert pose.people_boxes == 2 and pose.face_boxes == 0
    assert np.all(np.abs(boxes[:, 0] - 30.0) < 5.0) and np.all(boxes[:, 1] + boxes[:, 3] / 2 > 8.0), boxes


def test_a_foa_run_frames_a_pose_found_talker_with_his_head_in(tmp_path):
    """End to end: a drawn talker at yaw 30 whose voice FOA reads 18° below his face, faces off (so
    only the pose detector can find him): the head is inside every frame once the shot is set, and the
    run records the planner's `bodies` option."""
    seconds, n = 4.0, int(4.0 * FPS)
    rng = np.random.default_rng(3)
    st = np.arange(int(seconds * SR)) / SR
    voice = 0.3 * np.sin(2 * np.pi * 220 * st) * (1 + 0.5 * np.sin(2 * np.pi * 3 * st))
    foa = encode_foa(voice, 30.0, -15.0) + 0.01 * rng.standard_normal((4, len(st)))
    clip = write_video(tmp_path / "talker.mp4", [face_panorama(30.0, 3.0, 9.0)] * n, FPS,
                       audio=(foa.astype(np.float32), SR))
    hair_top = 3.0 + TALKER_TOP * 9.0
    runs = {}
    for bodies in ("hog", "pose"):
        out = tmp_path / bodies
        assert main([str(clip), "-o", str(out), "--no-saliency-video", "--planner-option", "faces=off",
                     "--planner-option", f"bodies={bodies}"]) == 0
        runs[bodies] = json.loads((out / "talker.trajectory.json").read_text())
    late = runs["hog"]["samples"][30:]
    assert np.median([s["pitch"] + s["vfov"] / 2 for s in late]) < hair_top  # HOG alone: the head is cut
    late = runs["pose"]["samples"][30:]
    assert all(s["pitch"] + s["vfov"] / 2 > hair_top for s in late)
    assert all(in_view(30.0, 3.0, s["yaw"], s["pitch"], s["hfov"], s["vfov"]) for s in late)  # the face
    assert runs["pose"]["generator"]["params"]["planner"]["bodies"] == "pose"


def test_in_mono_people_bodies_pose_finds_a_still_talker_whom_hog_misses(tmp_path):
    """A still picture of one drawn talker at yaw 50 (no legs: HOG finds no one) under a mono voice,
    faces off: with ``people_bodies=pose`` the mono people part finds him and the camera turns to
    him; with the default (HOG) it holds at the front, as the prior asks with no evidence."""
    seconds, n = 6.0, int(6.0 * FPS)
    rng = np.random.default_rng(5)
    st = np.arange(int(seconds * SR)) / SR
    voice = 0.3 * np.sin(2 * np.pi * 220 * st) * (1 + 0.5 * np.sin(2 * np.pi * 3 * st))
    mono = (voice + 0.01 * rng.standard_normal(len(st))).astype(np.float32)
    clip = write_video(tmp_path / "still.mp4", [face_panorama(50.0, 3.0, 10.0)] * n, FPS, audio=(mono[None], SR))
    yaws = {}
    for bodies in ("hog", "pose"):
        out = tmp_path / bodies
        assert main([str(clip), "-o", str(out), "--no-saliency-video", "--source-option", "people_faces=false",
                     "--source-option", f"people_bodies={bodies}"]) == 0
        traj = json.loads((out / "still.trajectory.json").read_text())
        assert traj["generator"]["params"]["localizer"]["people_bodies"] == bodies
        yaws[bodies] = np.array([s["yaw"] for s in traj["samples"] if s["t"] >= 3.0])
    assert np.all(np.abs(yaws["hog"]) <= 10.0), yaws["hog"]
    assert np.mean(np.abs(yaws["pose"] - 50.0) < 15.0) >= 0.9, yaws["pose"]
