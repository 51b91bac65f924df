import numpy as np
import pytest

from pano.localizers.importance import batch_centroids
from pano.sphere.geometry import (
    angular_distance,
    camera_rotation,
    grid_angles,
    in_view,
    pitch_to_y,
    spherical_mean,
    vec_to_yaw_pitch,
    wrap_yaw,
    x_to_yaw,
    y_to_pitch,
    yaw_pitch_to_vec,
    yaw_to_x,
)


def blob(height, width, yaw, pitch, radius=4.0):
    yaws, pitches = grid_angles(height, width)
    return (angular_distance(yaws[None, :], pitches[:, None], yaw, pitch) <= radius).astype(float)


def test_blob_near_seam_averages_to_its_yaw():
    yaw, pitch, r = spherical_mean(blob(90, 180, 179.0, 0.0))
    assert abs(wrap_yaw(yaw - 179.0)) < 1.0 and abs(pitch) < 1.0 and r > 0.95


def test_blobs_either_side_of_seam_average_to_180_not_0():
    m = blob(90, 180, 170.0, 0.0) + blob(90, 180, -170.0, 0.0)
    yaw, pitch, _ = spherical_mean(m)
    assert abs(wrap_yaw(yaw - 180.0)) < 1.0
    assert abs(pitch) < 1.0


def test_pole_and_cos_latitude_weighting():
    yaw, pitch, r = spherical_mean(blob(90, 180, 40.0, 85.0, radius=3))
    assert pitch > 80 and r > 0.9
    # A uniform map has no direction: its resultant is ~0 only with cos-latitude weighting.
    _, _, r_uniform = spherical_mean(np.ones((90, 180)))
    assert r_uniform < 1e-6


def test_round_trips():
    rng = np.random.default_rng(0)
    yaws = rng.uniform(-180, 180, 200)
    pitches = rng.uniform(-89, 89, 200)
    y2, p2 = vec_to_yaw_pitch(yaw_pitch_to_vec(yaws, pitches))
    assert np.allclose(wrap_yaw(y2 - yaws), 0, atol=1e-9) and np.allclose(p2, pitches, atol=1e-9)
    assert np.allclose(wrap_yaw(x_to_yaw(yaw_to_x(yaws, 960), 960) - yaws), 0, atol=1e-9)
    assert np.allclose(y_to_pitch(pitch_to_y(pitches, 480), 480), pitches, atol=1e-9)
    # Pixel centres of column 0 and the last column sit half a pixel inside ±180°.
    assert x_to_yaw(0, 360) == pytest.approx(-179.5) and x_to_yaw(359, 360) == pytest.approx(179.5)


def test_conventions_right_is_positive_yaw_and_up_is_positive_pitch():
    # Ambisonic frame: x forward, y left, z up -> yaw +90 (right) is -y.
    assert np.allclose(yaw_pitch_to_vec(90, 0), [0, -1, 0], atol=1e-12)
    assert np.allclose(yaw_pitch_to_vec(0, 90), [0, 0, 1], atol=1e-12)
    assert np.allclose(camera_rotation(30, 20)[:, 0], yaw_pitch_to_vec(30, 20))
    assert angular_distance(170, 0, -170, 0) == pytest.approx(20.0)


def test_in_view_footprint():
    assert in_view(30, 0, 0, 0, 65.5, 39.8)
    assert not in_view(35, 0, 0, 0, 65.5, 39.8)
    assert in_view(-175, 5, 175, 0, 65.5, 39.8)  # across the seam
    assert not in_view(0, 0, 180, 0, 65.5, 39.8)


def test_batch_centroids_match_single_map_mean():
    maps = np.stack([blob(32, 64, y, p) for y, p in [(0, 0), (179, 10), (-120, -40)]])
    yaw, pitch, r = batch_centroids(maps)
    for i in range(3):
        y1, p1, r1 = spherical_mean(maps[i])
        assert abs(wrap_yaw(yaw[i] - y1)) < 1e-6 and abs(pitch[i] - p1) < 1e-6 and abs(r[i] - r1) < 1e-9
    y0, _, r0 = batch_centroids(np.zeros((1, 8, 16)))
    assert r0[0] == 0
