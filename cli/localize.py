"""``pano-pan localize IMAGE AUDIO...``: where in this picture does each sound come from?

Interactive use of a trained localizer on an ordinary image: one heat-map panel per sound, next to
the original, so the same image can be asked about different sounds.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from cli.commands import check_device, debug_option
from common.atomic import OutputSet, atomic_path
from common.errors import UserError

METHODS = ("attention", "gradient", "guided", "combined")


def _read_image(path: Path) -> np.ndarray:
    import cv2

    if not path.is_file():
        raise UserError(f"{path}: no such image; check the path")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError(f"{path}: not an image OpenCV can read; pass a PNG or JPEG")
    return bgr


def _overlay(bgr: np.ndarray, heat: np.ndarray, label: str) -> np.ndarray:
    import cv2

    colored = cv2.applyColorMap(np.clip(heat * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    panel = cv2.addWeighted(bgr, 0.5, colored, 0.5, 0.0)
    scale = max(0.4, bgr.shape[0] / 600)
    cv2.putText(panel, label, (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return panel


def _suffix(path: Path) -> str:
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


def _write_atomic(path: Path, image: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(_suffix(path), image)
    if not ok:
        raise UserError(f"{path}: could not encode the image; use a .png output name")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.tobytes())
    except OSError as exc:
        raise UserError(f"{path}: cannot write in {folder} ({exc.strerror}); choose another output path") from None


def localize_images(
    image_path: Path, audio_paths: list[Path], checkpoint: Path, method: str = "attention", device: str = "cpu"
) -> np.ndarray:
    """The output picture (BGR uint8): the image, then one overlay per sound, side by side."""
    import cv2
    import torch

    from common.audio_io import read_audio
    from soundloc.checkpoint import load_checkpoint
    from soundloc.gradients import localization_map
    from soundloc.model import preprocess_image, scale_waveform

    bgr = _read_image(image_path)
    model, _meta = load_checkpoint(checkpoint, map_location=device)
    cfg = model.config
    x = preprocess_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cfg.image_size).to(device)
    panels = [bgr]
    for audio in audio_paths:
        wave = read_audio(audio, cfg.sample_rate, channels=1)[0]
        if wave.size == 0:
            raise UserError(f"{audio}: the audio stream is empty; pass a file with sound")
        win = int(round(cfg.audio_window * cfg.sample_rate))
        if wave.size > win:  # the centre window, as in training
            start = (wave.size - win) // 2
            wave = wave[start : start + win]
        with torch.no_grad():
            h = model.embed_audio(scale_waveform(wave)[None].to(device))
        heat = localization_map(model, x, None, method, h=h)
        heat = cv2.resize(heat, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_LINEAR)
        panels.append(_overlay(bgr, heat, audio.name))
    return np.concatenate(panels, axis=1)


@click.command("localize")
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("audio", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--checkpoint",
    "-c",
    type=click.Path(path_type=Path),
    required=True,
    help="Trained localizer (a soundloc checkpoint).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Output image (PNG): the image, then one heat map per sound.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="attention",
    show_default=True,
    help="attention map, input gradient, guided backprop, or attention+gradient combined.",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@debug_option
def localize(
    image: Path, audio: tuple[Path, ...], checkpoint: Path, output: Path, method: str, device: str, debug: bool
) -> None:
    """Show where in IMAGE each AUDIO file's sound comes from, as heat maps side by side."""
    device = check_device(device)
    _suffix(output)
    OutputSet([image, checkpoint, *audio], overwrite=True, rename_hint="choose another name with -o").check(output)
    picture = localize_images(image, list(audio), checkpoint, method, device)
    _write_atomic(output, picture)
    click.echo(f"wrote {output} ({len(audio)} sound{'s' if len(audio) != 1 else ''}, method {method})")
