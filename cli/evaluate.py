"""``pano-pan evaluate``: score a checkpoint on annotated data (cIoU, AUC, baselines, retrieval)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.commands import debug_option, overwrite_option
from common.atomic import OutputSet
from common.errors import UserError
from common.ownership import written_by_pano_pan


@click.command("evaluate")
@click.argument("data", metavar="DATA")
@click.option("--checkpoint", required=True, metavar="PATH|URL#sha256=HEX",
              help="Trained soundloc checkpoint: a file, or a URL with its SHA-256 (downloaded once, cached).")
@click.option("--protocol", type=click.Choice(["senocak", "lvs"]), default="senocak", show_default=True,
              help="senocak: paper's τ=0.5 on the min-max map at the annotation size; "
              "lvs: median at 224×224.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Write all scores here.")
@click.option("--plot", type=click.Path(path_type=Path), default=None, metavar="OUT.png",
              help="Success rate vs cIoU threshold, model and baselines.")
@click.option("--retrieval", is_flag=True, help="Also report cross-modal top-k retrieval (Table 6).")
@click.option("--no-baselines", is_flag=True, help="Skip the random-pattern and centre-box baselines.")
@click.option("--no-controls", is_flag=True,
              help="Skip the mismatched-audio and silent-audio rows (the sound gain) and the cosine-map rows.")
@click.option("--method", type=click.Choice(["attention", "cosine"]), default="attention", show_default=True,
              help="Which map to score: the softmax attention or the pre-softmax cosine map.")
@click.option("--image-size", type=int, default=None, help="Frame size [default: the checkpoint's].")
@click.option("--audio-seconds", type=float, default=None,
              help="Seconds of sound per sample [default: as trained, else 20 (1 for synthetic)].")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--dataset-type", type=click.Choice(["auto", "flickr", "videos", "synthetic", "foa-videos"]),
              default="auto", show_default=True,
              help="foa-videos: held-out 360° FOA videos; scores the capture of the network on their W channel "
              "against the ambisonic direction, with synchrony and a centre view as baselines.")
@click.option("--foa-min-confidence", type=float, default=0.5, show_default=True,
              help="foa-videos: frames whose ambisonic confidence is lower are not scored.")
@click.option("--source-option", "source_options", multiple=True, metavar="KEY=VALUE",
              help="foa-videos: an option of the network localizer, e.g. inference_height=128; repeatable.")
@click.option("--ids", type=click.Path(path_type=Path), default=None, help="Id-list file (Flickr-SoundNet).")
@overwrite_option
@click.option("-q", "--quiet", is_flag=True, help="Do not print the table.")
@debug_option
def evaluate(data: str, checkpoint: str, protocol: str, json_out: Path | None, plot: Path | None,
             retrieval: bool, no_baselines: bool, no_controls: bool, method: str, image_size: int | None,
             audio_seconds: float | None, batch_size: int, device: str, dataset_type: str, ids: Path | None,
             foa_min_confidence: float, source_options: tuple[str, ...], overwrite: bool, quiet: bool,
             debug: bool) -> None:
    """Evaluate CHECKPOINT's localization on DATA (a folder, or synthetic:N[:seed])."""
    if dataset_type == "foa-videos":
        _evaluate_on_foa(data, checkpoint, json_out, no_baselines, device, foa_min_confidence, source_options,
                         overwrite, quiet)
        return
    from soundloc.checkpoint import load_checkpoint
    from soundloc.data import audio_seconds_for, open_dataset
    from soundloc.device import resolve_device
    from soundloc.download import resolve
    from soundloc.evaluate import evaluate as run_eval
    from soundloc.evaluate import format_report, plot_success_curve, report_curves, write_json

    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be >= 1")
    checkpoint = resolve(checkpoint)  # a URL#sha256 is fetched into the verified cache first
    # The reports may not replace an input (the checkpoint, the id list); both appear together or not at all.
    outputs = OutputSet([checkpoint, ids, data if Path(data).exists() else None], overwrite=overwrite,
                        recognise=written_by_pano_pan, rename_hint="choose another name for --json/--plot")
    if plot is not None and plot.suffix.lower() != ".png":  # before the work, not after it
        raise UserError(f"{plot}: the plot is written as PNG; give a .png file name")
    outputs.reserve(json_out, plot)
    model, meta = load_checkpoint(checkpoint)
    cfg = model.config
    if audio_seconds is None and meta.get("audio_seconds") and data.startswith("synthetic:") == str(
            meta.get("data", "")).startswith("synthetic:"):
        audio_seconds = float(meta["audio_seconds"])
    seconds = audio_seconds_for(data, audio_seconds, cfg.audio_window)
    dataset = open_dataset(data, dataset_type, image_size=image_size or cfg.image_size,
                           sample_rate=cfg.sample_rate, audio_seconds=seconds, ids=ids)
    live = not quiet and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if live:
            click.echo(f"\revaluating {done}/{total}\x1b[K", nl=done >= total, err=True)

    report = run_eval(model, dataset, protocol, batch_size, resolve_device(device),
                      with_baselines=not no_baselines, with_retrieval=retrieval, method=method,
                      progress=progress, with_controls=not no_controls)
    report.info.update({"checkpoint": str(checkpoint), "data": data, "audio_seconds": seconds})
    for warning in report.warnings:
        click.echo(f"pano-pan: warning: {warning}", err=True)
    if not quiet:
        click.echo(format_report(report))
    with outputs:
        if json_out is not None:
            write_json(report, json_out)
        if plot is not None:
            plot_success_curve(report_curves(report), plot)
    _say_written(quiet, json_out, plot)


def _say_written(quiet: bool, *paths: Path | None) -> None:
    for path in paths:
        if path is not None and not quiet:
            click.echo(f"wrote {path}", err=True)


def _evaluate_on_foa(data: str, checkpoint: str, json_out: Path | None, no_baselines: bool, device: str,
                     min_confidence: float, source_options: tuple[str, ...], overwrite: bool, quiet: bool) -> None:
    """``--dataset-type foa-videos``: capture against each video's ambisonic direction (pano.foa.scoring)."""
    import json

    from cli.commands import parse_key_values
    from common.atomic import atomic_path
    from common.ownership import GENERATOR
    from pano.foa.scoring import format_scores, score_foa_folder
    from soundloc.device import resolve_device
    from soundloc.download import resolve

    if not 0 <= min_confidence <= 1:
        raise UserError(f"--foa-min-confidence {min_confidence}: use a value in [0, 1]")
    options = parse_key_values(source_options, "--source-option")
    checkpoint_path = resolve(checkpoint)
    outputs = OutputSet([checkpoint_path], overwrite=overwrite, recognise=written_by_pano_pan,
                        rename_hint="choose another name for --json")
    outputs.reserve(json_out)
    notify = None if quiet else (lambda m: click.echo(m, err=True))
    scores = score_foa_folder(data, checkpoint_path, str(resolve_device(device)), min_confidence,
                              network_options=options, baselines=not no_baselines, notify=notify)
    if not quiet:
        click.echo(format_scores(scores))
    if json_out is not None:
        doc = {"generator": dict(GENERATOR), **scores.as_dict(), "checkpoint": str(checkpoint), "data": data,
               "min_confidence": min_confidence}
        with outputs, atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(doc, indent=2))
        _say_written(quiet, json_out)
