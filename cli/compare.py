"""``pano-pan compare``: score a camera path against reference paths (human edits)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.commands import debug_option
from pano.paths.compare import compare as compare_paths
from pano.paths.compare import format_table
from pano.paths.trajectory import Trajectory


@click.command("compare")
@click.argument("traj_path", metavar="TRAJ.json", type=click.Path(path_type=Path))
@click.argument("ref_paths", metavar="REF.json...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON instead of a table.")
@click.option("--force", is_flag=True, help="Compare paths made for different videos (fps or duration differ) "
              "on the times they share.")
@debug_option
def compare(traj_path: Path, ref_paths: tuple[Path, ...], as_json: bool, force: bool, debug: bool) -> None:
    """Compare TRAJ.json with one or more reference trajectories (JSON or CSV).

    Scores per reference: mean cosine similarity of the view directions and mean view overlap (IoU on
    the sphere) as in Pano2Vid; mean velocity difference (deg/s) as in Deep 360 Pilot; and the fraction
    of frames whose reference direction is inside TRAJ's view. With several references it also prints
    their mean and the frame-wise best reference. Samples are matched by time; paths made for
    different videos are refused unless --force.
    """
    traj = Trajectory.load(traj_path)
    refs = [Trajectory.load(p) for p in ref_paths]
    result = compare_paths(traj, refs, names=[str(p) for p in ref_paths], force=force)
    if as_json:
        click.echo(json.dumps({"trajectory": str(traj_path), **result}, indent=2))
    else:
        click.echo(format_table(result))
