"""``pano-pan train``: option parsing and progress display for ``soundloc.train``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.commands import debug_option
from common.errors import UserError

DATA_HELP = "a data folder (Flickr-SoundNet layout or videos) or synthetic:N[:seed]"


def audio_seconds_for(data: str, given: float | None, default: float) -> float:
    """Synthetic scenes are 1 s long unless told otherwise; real data uses the model's window."""
    if given is not None:
        if not given > 0:
            raise UserError(f"--audio-seconds {given}: must be a positive number of seconds")
        return given
    return 1.0 if data.startswith("synthetic:") else default


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
@click.option("--backbone", type=click.Choice(["vgg16", "resnet18", "tiny"]), default="vgg16",
              show_default=True)
@click.option("--pretrained/--no-pretrained", default=False, show_default=True,
              help="Start the backbone from ImageNet weights (downloaded once by torchvision).")
@click.option("--freeze-backbone", is_flag=True, help="Keep the visual backbone's weights fixed.")
@click.option("--attention", type=click.Choice(["cosine", "relu_cosine"]), default="cosine",
              show_default=True)
@click.option("--embed-dim", type=int, default=512, show_default=True)
@click.option("--audio-seconds", type=float, default=None,
              help="Seconds of sound per sample [default: 20, or 1 for synthetic data].")
@click.option("--unsup-weight", type=float, default=1.0, show_default=True, help="Weight of L_U in eq. 7.")
@click.option("--sup-weight", type=float, default=1.0, show_default=True, help="Weight of L_S in eq. 7.")
@click.option("--freeze-sound", is_flag=True,
              help="CPU shortcut: keep SoundNet conv1-8 fixed, cache its features (not the paper's setup).")
@click.option("--resume", type=click.Path(path_type=Path), default=None, metavar="CKPT",
              help="Continue from a checkpoint (its model config wins over the options above).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--deterministic", is_flag=True, help="Use deterministic algorithms only (slower on GPU).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--val", "val", default=None, metavar="DATA", help="Annotated validation data; picks best.pt.")
@click.option("--dataset-type", type=click.Choice(["auto", "flickr", "videos", "synthetic"]),
              default="auto", show_default=True)
@click.option("--ids", type=click.Path(path_type=Path), default=None,
              help="Id-list file restricting a Flickr-SoundNet folder.")
@click.option("--val-ids", type=click.Path(path_type=Path), default=None,
              help="Id-list file restricting the --val Flickr-SoundNet folder.")
@click.option("--frames-per-video", type=int, default=1, show_default=True, help="Samples per video file.")
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--max-steps", type=int, default=None, help="Cap on steps per epoch (quick runs).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and the final result.")
@debug_option
def train(data: str, mode: str, out: Path, epochs: int, batch_size: int, lr: float, image_size: int,
          backbone: str, pretrained: bool, freeze_backbone: bool, attention: str, embed_dim: int,
          audio_seconds: float | None, unsup_weight: float, sup_weight: float, freeze_sound: bool,
          resume: Path | None, seed: int, deterministic: bool, device: str, val: str | None,
          dataset_type: str, ids: Path | None, val_ids: Path | None, frames_per_video: int, workers: int,
          max_steps: int | None, quiet: bool, debug: bool) -> None:
    """Train the sound localizer on DATA (a folder, or synthetic:N[:seed])."""
    from soundloc.data import open_dataset
    from soundloc.model import ModelConfig
    from soundloc.train import TrainConfig, progress_line
    from soundloc.train import train as run_training

    if resume is not None:
        from soundloc.checkpoint import load_checkpoint

        model, meta = load_checkpoint(resume)
        mcfg = model.config
        del model
        if audio_seconds is None and meta.get("audio_seconds"):
            audio_seconds = float(meta["audio_seconds"])
    else:
        try:
            mcfg = ModelConfig(backbone=backbone, pretrained=pretrained, freeze_backbone=freeze_backbone,
                               attention=attention, embed_dim=embed_dim, image_size=image_size)
            mcfg.validate()
        except ValueError as exc:
            raise UserError(f"bad model option: {exc}") from None
    seconds = audio_seconds_for(data, audio_seconds, mcfg.audio_window)
    common = dict(image_size=mcfg.image_size, sample_rate=mcfg.sample_rate, audio_seconds=seconds)
    train_set = open_dataset(data, dataset_type, ids=ids, frames_per_video=frames_per_video, seed=seed,
                             **common)
    val_set = None
    if val is not None:
        val_set = open_dataset(val, "auto" if dataset_type == "videos" else dataset_type, ids=val_ids,
                               **common)
    tcfg = TrainConfig(mode=mode, epochs=epochs, batch_size=batch_size, lr=lr, unsup_weight=unsup_weight,
                       sup_weight=sup_weight, freeze_sound=freeze_sound, seed=seed,
                       deterministic=deterministic, device=device, num_workers=workers,
                       max_steps_per_epoch=max_steps)
    live = not quiet and sys.stderr.isatty()

    def show(p) -> None:
        if quiet:
            return
        if p.kind == "step":
            if live:
                click.echo("\r" + progress_line(p) + "\x1b[K", nl=False, err=True)
        else:
            click.echo(("\r" if live else "") + progress_line(p) + ("\x1b[K" if live else ""), err=True)

    result = run_training(train_set, out, tcfg, mcfg, val_set, resume, show,
                          extra_meta={"data": data, "audio_seconds": seconds})
    click.echo(f"best: {result.best}  last: {result.last}")
