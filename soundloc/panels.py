"""Where in an ordinary picture does each sound come from: one heat-map panel per sound.

Library side of ``pano-pan localize``: reading the image, running the localizer per sound, drawing the
panels, and writing the picture atomically (a refused format is reported before any work).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.atomic import atomic_path
from common.errors import UserError
from common.files import require_regular_file
from common.ownership import png_with_mark

METHODS = ("attention", "gradient", "guided", "combined")


MAX_PIXELS = 40_000_000  # 8000×5000: the model sees 320×320; the panels are drawn at the image's size


def _read_image(path: Path) -> np.ndarray:
    """The image as BGR, refused in one line before decoding when it is larger than :data:`MAX_PIXELS`
    (a 1 MB PNG can hold 20000×20000 pixels: 1.2 GB decoded, and every panel as large again)."""
    import cv2

    require_regular_file(path, "image")
    width, height = _image_size(path)
    if width * height > MAX_PIXELS:
        size = f"{width}×{height} is {width * height / 1e6:.0f} megapixels" if height > 1 else "it is too large"
        raise UserError(f"{path}: {size}, more than {MAX_PIXELS / 1e6:.0f}; scale it down (the localizer "
                        "looks at 320×320)")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError(f"{path}: not an image OpenCV can read; pass a PNG or JPEG")
    return bgr


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height from the file's header (Pillow reads no pixels for this); (0, 0) if unknown."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError:  # over twice Pillow's own limit: larger than ours too
        return MAX_PIXELS + 1, 1
    except (UnidentifiedImageError, OSError, ValueError):
        return 0, 0


def _overlay(bgr: np.ndarray, heat: np.ndarray, label: str) -> np.ndarray:
    import cv2

    colored = cv2.applyColorMap(np.clip(heat * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    panel = cv2.addWeighted(bgr, 0.5, colored, 0.5, 0.0)
    scale = max(0.4, bgr.shape[0] / 600)
    cv2.putText(panel, label, (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return panel


def image_suffix(path: Path) -> str:
    """The output's extension, refused up front (before any work) when OpenCV cannot write it."""
    import cv2

    suffix = path.suffix or ".png"
    try:
        ok = cv2.imencode(suffix, np.zeros((2, 2, 3), np.uint8))[0]
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"{path}: OpenCV cannot write {suffix!r} images; use a .png output name")
    return suffix


def write_image(path: Path, image: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(image_suffix(path), image)
    if not ok:
        raise UserError(f"{path}: could not encode the image; use a .png output name")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        with atomic_path(path) as tmp:
            data = buf.tobytes()
            tmp.write_bytes(png_with_mark(data) if data.startswith(b"\x89PNG") else data)
    except OSError as exc:
        raise UserError(f"{path}: cannot write in {folder} ({exc.strerror}); choose another output path") from None


def localize_images(
    image_path: Path, audio_paths: list[Path], checkpoint: Path, method: str = "attention", device: str = "cpu"
) -> np.ndarray:
    """The output picture (BGR uint8): the image, then one overlay per sound, side by side."""
    import cv2
    import torch

    from common.audio_io import read_audio_centre
    from soundloc.checkpoint import load_checkpoint
    from soundloc.gradients import localization_map
    from soundloc.model import preprocess_image, scale_waveform

    bgr = _read_image(image_path)
    model, _meta = load_checkpoint(checkpoint, map_location=device)
    cfg = model.config
    x = preprocess_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cfg.image_size).to(device)
    panels = [bgr]
    for audio in audio_paths:
        wave = read_audio_centre(audio, cfg.sample_rate, cfg.audio_window, channels=1)[0]  # as in training
        if wave.size == 0:
            raise UserError(f"{audio}: the audio stream is empty; pass a file with sound")
        with torch.no_grad():
            f_s = model.sound_features(scale_waveform(wave)[None].to(device))
        heat = localization_map(model, x, None, method, f_s=f_s)
        heat = cv2.resize(heat, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_LINEAR)
        panels.append(_overlay(bgr, heat, audio.name))
    return np.concatenate(panels, axis=1)
