"""``pano-pan view``: the browser viewer and path editor (wiring only; the app is ``pano.view``)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from cli.commands import debug_option


@click.command("view")
@click.argument("target", metavar="INPUT_OR_OUTDIR", type=click.Path(path_type=Path))
@click.option("--trajectory", "trajectory", type=click.Path(path_type=Path), default=None,
              help="Trajectory JSON to show [default: INPUT-stem.trajectory.json, or the one in OUTDIR].")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0 = a free one).")
@click.option("--no-browser", is_flag=True, help="Print the URL but do not open a browser.")
@debug_option
def view(target: Path, trajectory: Path | None, port: int, no_browser: bool, debug: bool) -> None:
    """Play INPUT in the browser through its camera path; edit the path with keyframes, save and render.

    INPUT_OR_OUTDIR is the 360° video, the folder 'pano-pan run' wrote, or a trajectory JSON. The server
    listens on 127.0.0.1 only; stop it with Ctrl-C.
    """
    from pano.view.job import open_job
    from pano.view.server import serve

    job = open_job(target, trajectory)

    def ready(url: str) -> None:
        click.echo(f"pano-pan view: {job.video.name} through {job.trajectory_path.name}", err=True)
        click.echo(f"open {url}  (Ctrl-C stops)", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the server is meant to stop
        serve(job, port=port, open_browser=not no_browser, on_ready=ready)
    click.echo("pano-pan view: stopped", err=True)
