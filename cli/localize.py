"""``pano-pan localize IMAGE AUDIO...``: where in this picture does each sound come from?

Interactive use of a trained localizer on an ordinary image: one heat-map panel per sound, next to
the original, so the same image can be asked about different sounds.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands import debug_option, overwrite_option
from common.atomic import OutputSet
from common.ownership import written_by_pano_pan
from soundloc.panels import METHODS, image_suffix, localize_images, write_image


@click.command("localize")
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("audio", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--checkpoint",
    "-c",
    required=True,
    metavar="PATH|URL#sha256=HEX",
    help="Trained localizer: a soundloc checkpoint file, or a URL with its SHA-256 (downloaded once, cached).",
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
@overwrite_option
@debug_option
def localize(
    image: Path, audio: tuple[Path, ...], checkpoint: str, output: Path, method: str, device: str, overwrite: bool,
    debug: bool,
) -> None:
    """Show where in IMAGE each AUDIO file's sound comes from, as heat maps side by side."""
    from soundloc.device import resolve_device
    from soundloc.download import resolve

    device = str(resolve_device(device))
    image_suffix(output)
    checkpoint = resolve(checkpoint)
    OutputSet([image, checkpoint, *audio], overwrite=overwrite, recognise=written_by_pano_pan,
              rename_hint="choose another name with -o").check(output)
    picture = localize_images(image, list(audio), checkpoint, method, device)
    write_image(output, picture)
    click.echo(f"wrote {output} ({len(audio)} sound{'s' if len(audio) != 1 else ''}, method {method})")
