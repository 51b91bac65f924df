"""``pano-pan batch``: many videos with ``run``'s options; option parsing and messages only."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.commands import RUN_ONLY, debug_option, run_cmd, run_options
from cli.delivery import group_delivery

ENGINES = ("local", "ray")


def _run_option_params(f):
    """Every option of ``run`` (the same objects, so help, defaults and choices never drift apart)."""
    for param in reversed([p for p in run_cmd.params if p.name not in RUN_ONLY]):
        f.__click_params__ = [*getattr(f, "__click_params__", []), param]
    return f


@click.command("batch")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("-o", "--outdir", type=click.Path(path_type=Path), required=True,
              help="Folder for the outputs (mirroring the input folders), the manifest and the report.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None,
              help="Videos at a time; each gets an equal share of the cores for all its threads [default: 1; "
              "with --engine ray: as many 2-CPU tasks as the cluster holds].")
@click.option("--shard", metavar="I/N", default=None,
              help="Only this share of the videos (0 ≤ I < N), the same split in every task of an array job; "
              "e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: worker processes on this machine; ray: one Ray task per video (pip install "
              "'pano-pan[ray]').")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="Ray cluster to join (ray.init(address=…)), e.g. auto; default: RAY_ADDRESS, else a local "
              "Ray instance.")
@click.option("--fresh", is_flag=True,
              help="Forget OUTDIR's manifest and redo every video (needed to change the options of a batch).")
@click.option("--retry-failed", is_flag=True, help="Try the failed videos again even if their files did not change.")
@_run_option_params
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary and errors.")
@debug_option
@click.pass_context
def batch(ctx: click.Context, inputs: tuple[str, ...], outdir: Path, jobs: int | None, shard: str | None, engine: str,
          ray_address: str | None, fresh: bool, retry_failed: bool, quiet: bool, debug: bool, **params) -> None:
    """Run every video of folders (recursively), glob patterns or text files of paths, with run's options.

    Outputs mirror the input folders under OUTDIR. A rerun skips the complete videos and redoes only
    those in flight when a batch stopped; exits 1 when a video failed (see the report in OUTDIR).
    """
    import os

    from pano.batch.batch import run_batch
    from pano.batch.inputs import expand, parse_shard, videos

    options = run_options(**group_delivery(params))
    split = parse_shard(shard) if shard else None
    items = videos(expand(inputs, outdir))
    if not items:
        raise click.UsageError("the inputs hold no video (looked for .mp4, .mov, .mkv, .webm, …)")
    live = not quiet and sys.stderr.isatty()
    say = (lambda _m: None) if quiet else (lambda m: click.echo(("\r\x1b[K" if live else "") + m, err=True))
    status = (lambda m: click.echo(f"\r{m}\x1b[K", nl=False, err=True)) if live else None
    result = run_batch(items, outdir, options, jobs=jobs, shard=split, engine=engine,
                       ray_address=ray_address or os.environ.get("RAY_ADDRESS"), fresh=fresh,
                       retry_failed=retry_failed, say=say, status=status)
    if live:
        click.echo("", err=True)
    redone = f", {len(result.redone)} redone after an interruption" if result.redone else ""
    earlier = (f", {len(result.failed_before)} failed earlier (not retried: unchanged; --retry-failed)"
               if result.failed_before else "")
    click.echo(f"batch: {len(result.done)} done, {len(result.failed)} failed{earlier}, {len(result.skipped)} "
               f"skipped (complete before){redone}; {result.frames} frames in {result.wall_s:.1f} s", err=True)
    for row in [*result.failed, *result.failed_before]:
        reason = row.reason or "no reason recorded"
        click.echo(f"  failed: {reason if row.key in reason else f'{row.key}: {reason}'}", err=True)
    click.echo(f"report: {result.report} (and {result.html.name})", err=True)
    if not result.ok:
        ctx.exit(1)
