"""``pano-pan render``: render a given trajectory to an NFOV video, without recomputing saliency.

For paths edited by hand (JSON or CSV) or made by another tool: pass 2 of the pipeline only.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands import debug_option, overwrite_option
from cli.delivery import encoding_options
from cli.progress import make_progress
from common.errors import OptionError
from pano.media.codecs import choose_encoding
from pano.rendering import NFOV_AUDIO
from pano.run.names import OutputNames
from pano.sphere.views import parse_size


@click.command("render")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("traj_path", metavar="TRAJ.json", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Output video [default: INPUT-stem.nfov.mp4 in the current folder].",
)
@click.option(
    "--size",
    "size",
    default=None,
    metavar="WxH|native",
    help="NFOV output size [default: 1280x720, or 1920x1080 when the panorama is sharp enough]; native = the "
    "panorama's own angular resolution at the view centre.",
)
@click.option("--nfov-audio", type=click.Choice(NFOV_AUDIO), default="auto", show_default=True,
              help="auto = stereo turned with the camera for FOA sources, else the source's track; "
              "binaural = for headphones (FOA sources).")
@encoding_options
@overwrite_option
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@debug_option
def render(
    input_path: Path, traj_path: Path, output: Path | None, size: str | None, nfov_audio: str, overwrite: bool,
    quiet: bool, debug: bool, encoding: dict,
) -> None:
    """Render INPUT through the camera path in TRAJ.json (or a .csv export), with its sound.

    Each frame shows the sample nearest its time (t); a path that does not cover the video is refused.
    """
    from pano.rendering.render import render_trajectory, reserve_render

    say = (lambda _m: None) if quiet else (lambda m: click.echo(m, err=True))
    chosen = choose_encoding(encoding["codec"], encoding["encoder"], encoding["crf"], encoding["preset"], say)
    out = output or OutputNames.of(".", input_path.stem).nfov_as(chosen.suffix)
    if chosen.suffix == ".mov" and out.suffix.lower() != ".mov":
        raise OptionError(f"{out}: {chosen.codec} needs a QuickTime file; name the output .mov")
    out_size = parse_size(size) if size else None
    traj, outputs = reserve_render(input_path, traj_path, out, overwrite=overwrite)
    with outputs:
        render_trajectory(input_path, traj, out, size=out_size, progress=make_progress(not quiet),
                          audio_mode=nfov_audio, notify=say, origin=str(traj_path), encoding=chosen)
    if not quiet:
        click.echo(f"wrote {out}", err=True)
