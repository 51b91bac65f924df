import numpy as np
import pytest

from common.errors import OptionError
from pano.rendering.nfov import NFOVRenderer
from pano.sphere.geometry import grid_vectors
from pano.sphere.views import default_output_size, parse_fov, parse_size


@pytest.fixture(scope="module")
def direction_image():
    """Equirect image whose colour encodes direction: R = forward (x), G = left (y), B = up (z)."""
    v = grid_vectors(240, 480)
    return np.clip((v + 1) * 127.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "yaw,pitch,expected",
    [(0, 0, (1, 0, 0)), (90, 0, (0, -1, 0)), (180, 0, (-1, 0, 0)), (-90, 0, (0, 1, 0)),
     (-180, 0, (-1, 0, 0)), (0, 60, (0.5, 0, 0.866)), (0, -60, (0.5, 0, -0.866)), (45, 30, None)],
)
def test_view_centre_shows_the_direction_looked_at(direction_image, yaw, pitch, expected):
    r = NFOVRenderer(480, 240, 64, 36, 65.5, 39.8)
    view = r.render(direction_image, yaw, pitch)
    centre = view[16:20, 30:34].reshape(-1, 3).mean(axis=0) / 127.5 - 1
    if expected is None:
        y, p = np.radians(yaw), np.radians(pitch)
        expected = (np.cos(p) * np.cos(y), -np.cos(p) * np.sin(y), np.sin(p))
    assert np.allclose(centre, expected, atol=0.04)


def test_view_is_not_mirrored(direction_image):
    """Looking forward, the right edge of the view shows what is to the right (negative y = less green)."""
    view = NFOVRenderer(480, 240, 64, 36, 65.5, 39.8).render(direction_image, 0, 0)
    left_green, right_green = view[:, :4, 1].mean(), view[:, -4:, 1].mean()
    top_blue, bottom_blue = view[:2, :, 2].mean(), view[-2:, :, 2].mean()
    assert left_green > right_green + 40 and top_blue > bottom_blue + 40


def test_seam_view_has_no_join():
    """A smooth panorama stays smooth in a view centred on the seam (no row of wrong pixels)."""
    v = grid_vectors(240, 480)
    img = np.clip((v[..., :1] * 0 + (v[..., 1:2] + 1) * 127.5), 0, 255).astype(np.uint8).repeat(3, axis=2)
    view = NFOVRenderer(480, 240, 128, 72, 65.5, 39.8).render(img, 180, 0).astype(int)
    assert np.abs(np.diff(view[36, :, 0])).max() <= 6


@pytest.mark.parametrize("yaw", [-179.0, -150.0, 0.0, 150.0, 179.0])
def test_lookups_stay_inside_the_panorama_and_read_the_same_pixels(yaw):
    """A view across the seam looks up x inside [0, W) (remap's cheap inner path, not its per-pixel
    wrap), and shows the same picture as the unwrapped lookup."""
    import cv2

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (240, 480), dtype=np.uint8)
    r = NFOVRenderer(480, 240, 128, 72, 65.5, 39.8)
    mx, my = r.maps(yaw, 10.0)
    cx, _ = r.chroma_maps(yaw, 10.0)
    assert mx.min() >= 0 and mx.max() < 480 and cx.min() >= 0 and cx.max() < 240
    unwrapped = cv2.add(r._base(10.0, 0.0)[0], yaw / 360 * 480)
    seen = cv2.remap(img, mx, my, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_WRAP).astype(int)
    before = cv2.remap(img, unwrapped, my, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_WRAP)
    assert np.abs(seen - before).max() <= 3 and np.mean(seen != before) < 0.01


def test_default_size_is_a_standard_size_and_native_keeps_the_old_rule():
    # Default: an editor-friendly 16:9 size, 1080p only once the panorama is sharp enough for it.
    assert default_output_size(960, 65.5) == (1280, 720)
    assert default_output_size(5760, 65.5) == (1280, 720)  # 5.7K at 65.5° is about 664 native lines
    assert default_output_size(5760, 120.0) == (1920, 1080)  # a wide view of it reaches 1080
    assert default_output_size(1920, 65.5, pano_height=1080) == (1280, 720)  # stretched 16:9 equirect
    # native: the panorama's own angular resolution, never below 240 lines.
    assert default_output_size(3840, 65.5, rule="native") == (786, 442)
    w, h = default_output_size(960, 65.5, rule="native")
    assert h == 240 and w % 2 == 0 and abs(w / h - 16 / 9) < 0.02
    assert parse_size("native") == "native"


def test_parsers():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_fov("90x60") == (90.0, 60.0) and parse_fov("65.5") == (65.5, None)
    with pytest.raises(OptionError, match="even"):
        parse_size("641x360")
    with pytest.raises(OptionError, match="WIDTHxHEIGHT"):
        parse_size("big")
    with pytest.raises(OptionError):
        parse_fov("200")


@pytest.mark.parametrize("fps,rate", [(30, 15), (60, 15), (25, 12.5), (24, 12), (29.97, 14.985), (15, 15), (12, 12)])
def test_saliency_video_is_at_most_15_fps_a_whole_fraction_of_the_source(fps, rate):
    from pano.rendering.render import saliency_video_rate

    assert saliency_video_rate(fps) == pytest.approx(rate)
