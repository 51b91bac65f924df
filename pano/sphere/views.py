"""The NFOV view's size and field of view: the one rule every entry point (run, render, the viewer,
the ffmpeg export) derives them from.

The default is AutoCam's 65.5° horizontal view at 16:9; a size the user gives fixes the aspect (and so
the vertical field of view, when it is not given too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import OptionError
from pano.sphere.geometry import vertical_fov

DEFAULT_HFOV = 65.5  # AutoCam's horizontal field of view
DEFAULT_ASPECT = (16, 9)
MIN_OUTPUT_HEIGHT = 240
STANDARD_HEIGHTS = (720, 1080)  # short sides editors expect: 1280×720, 1920×1080 (720×1280, 1080×1350, …)
# --aspect presets: landscape, vertical (Shorts, Reels, TikTok), square and 4:5 feed posts
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}


def even(x: float) -> int:
    """The nearest even pixel count, at least 2 (4:2:0 video needs even sizes)."""
    return max(2, int(round(x / 2.0)) * 2)


def native_output_size(pano_width: int, pano_height: int, hfov: float, vfov: float) -> tuple[float, float]:
    """(width, height) at which a view shows the panorama's own angular resolution at its centre.

    Pixels per radian are ``W / 2π`` across and ``H / π`` down; a stretched (non-2:1) panorama is as
    sharp as its coarser direction.
    """
    focal = min(pano_width / (2 * np.pi), pano_height / np.pi)
    return 2 * focal * np.tan(np.radians(hfov) / 2), 2 * focal * np.tan(np.radians(vfov) / 2)


def default_output_size(
    pano_width: int, hfov: float, vfov: float | None = None, pano_height: int | None = None, rule: str = "standard"
) -> tuple[int, int]:
    """Output (width, height) for a view of ``hfov × vfov`` degrees.

    ``standard`` (the default): 1280×720, or 1920×1080 when the panorama's native angular resolution
    reaches 1080 lines; other fields of view keep their aspect at that height. A 240-line video looks
    broken in an editor's timeline, so even small sources get a standard size (rendered bicubic).
    ``native``: the panorama's own angular resolution at the view centre (a 3840×1920 source gives a
    65.5° view 786×442), but never below 240 lines.
    """
    vfov = vfov if vfov is not None else vertical_fov(hfov, *DEFAULT_ASPECT)
    pano_height = pano_height if pano_height is not None else pano_width // 2
    width, height = native_output_size(pano_width, pano_height, hfov, vfov)
    if rule == "native":
        if height < MIN_OUTPUT_HEIGHT:
            width, height = width * MIN_OUTPUT_HEIGHT / height, MIN_OUTPUT_HEIGHT
        return even(width), even(height)
    if rule != "standard":
        raise OptionError(f"output size rule {rule!r}: use standard or native")
    short = min(width, height)
    lines = STANDARD_HEIGHTS[1] if short >= STANDARD_HEIGHTS[1] else STANDARD_HEIGHTS[0]
    aspect = np.tan(np.radians(hfov) / 2) / np.tan(np.radians(vfov) / 2)
    if aspect < 1:  # a portrait view: the standard lines are its width (720×1280, 1080×1350)
        return lines, even(lines / aspect)
    return even(lines * aspect), lines


def aspect_fov(aspect: tuple[int, int], hfov: float = DEFAULT_HFOV) -> tuple[float, float]:
    """(hfov, vfov) of an ``aspect`` view through the same lens as the default 16:9 ``hfov`` view.

    The frame keeps the 16:9 view's diagonal field of view (72.9° for 65.5°), as a camera turned to
    portrait or cropped square does: a 9:16 view is the 16:9 one on its side (39.8° × 65.5°), 1:1 is
    55.1° square, 4:5 is 49.5° × 59.9°. Keeping the horizontal 65.5° instead would make a vertical
    frame 98° tall (a fisheye look), keeping the vertical 38.8° would leave a 22° sliver.
    """
    half = np.tan(np.radians(hfov) / 2)
    diagonal = np.hypot(half, half * DEFAULT_ASPECT[1] / DEFAULT_ASPECT[0])
    w, h = aspect
    scale = diagonal / np.hypot(w, h)
    return float(np.degrees(2 * np.arctan(scale * w))), float(np.degrees(2 * np.arctan(scale * h)))


def parse_aspect(text: str) -> tuple[int, int]:
    """``"9:16"`` → (9, 16); one of :data:`ASPECTS`."""
    key = text.strip().replace("x", ":").replace("/", ":")
    if key not in ASPECTS:
        raise OptionError(f"--aspect {text!r}: choose one of {', '.join(ASPECTS)}")
    return ASPECTS[key]


def parse_size(text: str) -> tuple[int, int] | str:
    """``"WxH"`` → (W, H), even and positive; ``"native"`` → the native-resolution rule."""
    if text.strip().lower() == "native":
        return "native"
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise OptionError(f"--size {text!r}: write it as WIDTHxHEIGHT (e.g. --size 1280x720) or native") from None
    if w < 16 or h < 16 or w > 8192 or h > 8192:
        raise OptionError(f"--size {text!r}: width and height must be between 16 and 8192 pixels")
    if w % 2 or h % 2:
        raise OptionError(f"--size {text!r}: H.264 needs even numbers, e.g. --size {w + w % 2}x{h + h % 2}")
    return w, h


def parse_fov(text: str) -> tuple[float, float | None]:
    """``"H"`` or ``"HxV"`` in degrees; V is derived from the output aspect when omitted."""
    try:
        parts = [float(v) for v in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise OptionError(f"--fov {text!r}: write degrees as H or HxV, e.g. --fov 65.5 or --fov 90x60") from None
    if len(parts) not in (1, 2) or not all(1.0 <= p <= 170.0 for p in parts):
        raise OptionError(f"--fov {text!r}: give one or two angles between 1 and 170 degrees")
    return parts[0], (parts[1] if len(parts) == 2 else None)


@dataclass(frozen=True)
class OutputGeometry:
    """The NFOV view: field of view in degrees and frame size in pixels."""

    hfov: float
    vfov: float
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def output_geometry(src_width: int, hfov: float | None = DEFAULT_HFOV, vfov: float | None = None,
                    size: tuple[int, int] | str | None = None, src_height: int | None = None,
                    aspect: tuple[int, int] | None = None) -> OutputGeometry:
    """The one rule for the view's size and vertical fov: a given size fixes the aspect (and so vfov
    when not given); otherwise a 16:9 view sized by the rule ``size`` names (``standard``, the
    default, or ``native``: see :func:`default_output_size`) from the panorama of one eye,
    ``src_width × src_height`` as stored (2:1 when the height is not given).

    ``aspect`` (an :data:`ASPECTS` preset) replaces 16:9: with ``hfov`` None the view gets the same
    lens's field of view at that aspect (:func:`aspect_fov`), with ``hfov`` given its vfov follows the
    aspect; the size rule then gives e.g. 720×1280 for 9:16. A size of another aspect is refused.
    """
    if aspect is not None:
        if isinstance(size, tuple) and abs(size[0] * aspect[1] - size[1] * aspect[0]) > max(aspect):
            raise OptionError(f"--size {size[0]}x{size[1]} is not {aspect[0]}:{aspect[1]}; give one of --size "
                              "and --aspect, or a size of that aspect")
        if hfov is None:
            hfov, aspect_vfov = aspect_fov(aspect)
            vfov = aspect_vfov if vfov is None else vfov
        elif vfov is None:
            vfov = vertical_fov(hfov, *aspect)
    hfov = DEFAULT_HFOV if hfov is None else hfov
    if isinstance(size, tuple):
        vf = float(vfov) if vfov is not None else vertical_fov(hfov, *size)
        return OutputGeometry(float(hfov), vf, int(size[0]), int(size[1]))
    vf = float(vfov) if vfov is not None else vertical_fov(hfov, *DEFAULT_ASPECT)
    w, h = default_output_size(src_width, hfov, vf, pano_height=src_height, rule=size or "standard")
    return OutputGeometry(float(hfov), vf, w, h)
