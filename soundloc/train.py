"""Training loop for the unified network (Sec. 4): unsupervised, supervised or semi-supervised.

One loop serves all three modes; only the loss (``soundloc.losses.combined_loss``) and the samples
used differ (``sup`` trains on the annotated samples only, ``unsup`` ignores annotations, ``semi``
uses everything with λ = 1 where a sample has ground truth). Paper defaults: Adam, lr 1e-4, batch 30,
320×320 frames.

Outputs in ``out_dir``: ``last.pt`` after every epoch, ``best.pt`` whenever validation improves
(success rate at cIoU 0.5, then AUC; by training loss when there is no annotated validation set), and
``last.state.pt`` with the optimizer state for ``resume``. Checkpoints use ``soundloc.checkpoint``
(atomic writes); the meta dict holds the training config and per-epoch history.

Launched under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the same call trains with
DistributedDataParallel: one process per device, the global batch split between them, rank 0 writes.

``soundnet_weights`` starts SoundNet conv1–8 from the authors' pretrained weights (the paper's setup;
see ``soundloc.soundnet_weights``), otherwise they start random.

``freeze_sound`` is a CPU shortcut, not in the paper: SoundNet conv1–8 stays at its initial weights
(random ones get their BatchNorm statistics recalibrated once on the training audio), its pooled output f_s is computed
once per sample and cached, and only the sound head (layers 9–10) learns. SoundNet on 9.5 s of audio
dominates the cost of a step on CPU, so this makes small experiments several times faster.
"""

from __future__ import annotations

import functools
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Subset

from common import interrupt
from common.atomic import atomic_path
from common.errors import UserError
from soundloc.device import resolve_device
from soundloc.losses import MODES, LossWeights, combined_loss


@dataclass
class TrainConfig:
    """Everything about a run that is not the model's architecture (that is ``ModelConfig``)."""

    mode: str = "unsup"  # unsup | sup | semi
    epochs: int = 10
    batch_size: int = 30  # global batch; split across processes under torchrun
    lr: float = 1e-4
    weight_decay: float = 0.0
    unsup_weight: float = 1.0  # eq. 7 / Table 5 weights
    sup_weight: float = 1.0
    negatives: str = "all"  # "all" other samples in the batch, or "shift" (one each)
    normalize_embeddings: bool = False
    freeze_sound: bool = False  # CPU shortcut, see the module docstring
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_workers: int = 0
    max_steps_per_epoch: int | None = None  # cap for quick experiments and tests
    val_protocol: str = "senocak"
    val_map: str = "attention"  # the map validation scores: "attention" (α) or "cosine"
    soundnet_weights: str | None = None  # converted sound8.npy (``pano-pan convert soundnet``): the paper's start
    negatives_other_clips: bool = True  # eq. 6's negatives only from other recordings (``clip`` ids)
    max_minutes: float | None = None  # stop after the epoch that would pass this much training time

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"--mode {self.mode}: use one of {', '.join(MODES)}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise UserError("--epochs and --batch-size must be >= 1 and --lr > 0")
        if self.negatives not in ("all", "shift"):
            raise UserError(f"negatives={self.negatives!r}: use 'all' or 'shift'")
        if self.unsup_weight < 0 or self.sup_weight < 0:
            raise UserError("loss weights must be >= 0")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise UserError(f"--max-minutes {self.max_minutes}: use a positive number of minutes")
        if self.val_map not in ("attention", "cosine"):
            raise UserError(f"val_map={self.val_map!r}: use 'attention' or 'cosine'")


@dataclass
class Progress:
    """One report to the progress callback: ``kind`` is "step", "epoch" or "info" (``message``)."""

    kind: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    rate: float = 0.0  # samples per second over the epoch so far (this process)
    parts: dict = field(default_factory=dict)
    val: dict | None = None
    message: str = ""


@dataclass
class TrainResult:
    out_dir: Path
    last: Path | None
    best: Path | None
    history: list[dict]
    best_score: list[float] | None


# ---------------------------------------------------------------------------------------------------
def _seed_everything(seed: int, deterministic: bool) -> Callable[[], None]:
    """Seed every generator; with ``deterministic`` also switch torch to deterministic kernels.

    Returns a function that restores the previous determinism settings, so that calling ``train``
    from a library or a test does not change the process's global state after it returns.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

    def restore() -> None:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1], saved[2]

    return restore


def _dist_env() -> tuple[int, int, int]:
    """(world_size, rank, local_rank) from torchrun's environment; (1, 0, 0) when not launched by it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1, 0, 0
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def _seed_worker(base: int, worker_id: int) -> None:
    """DataLoader worker seeding (a module-level function, so it pickles under the spawn start method)."""
    np.random.seed((base * 1009 + worker_id) % 2**32)
    random.seed(base * 1009 + worker_id)


def _annotated(dataset: Dataset) -> list[int]:
    fn = getattr(dataset, "annotated_indices", None)
    if fn is not None:
        return list(fn())
    return [i for i in range(len(dataset)) if bool(dataset[i]["has_gt"])]


class _Step(nn.Module):
    """The model's forward as training runs it, in one module so DDP sees (and syncs) every call.

    With ``freeze_sound`` the pooled SoundNet features f_s come from a per-sample cache.
    """

    def __init__(self, model: nn.Module, freeze_sound: bool) -> None:
        super().__init__()
        self.model = model
        self.freeze_sound = freeze_sound
        self.cache: dict[int, torch.Tensor] = {}
        if freeze_sound:
            model.soundnet.requires_grad_(False)

    def train(self, mode: bool = True) -> _Step:
        super().train(mode)
        if self.freeze_sound:
            self.model.soundnet.eval()
        return self

    @torch.no_grad()
    def sound_features(self, waveform: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        if index is None:  # a dataset without sample indices: nothing to key a cache on
            return self.model.sound_features(waveform)
        keys = index.tolist()
        todo = [n for n, k in enumerate(keys) if k not in self.cache]
        if todo:
            fs = self.model.sound_features(waveform[todo])
            for n, f in zip(todo, fs, strict=True):
                self.cache[keys[n]] = f.detach()
        return torch.stack([self.cache[k] for k in keys])

    def forward(self, image: torch.Tensor, waveform: torch.Tensor, index: torch.Tensor | None):
        if not self.freeze_sound:
            return self.model(image, waveform)
        return self.model.attend_sound(self.model.visual_features(image), self.sound_features(waveform, index))


@torch.no_grad()
def calibrate_sound_batchnorm(model: nn.Module, loader: DataLoader, device: torch.device,
                              max_batches: int = 8) -> None:
    """Set SoundNet's BatchNorm running statistics to the average over a few training batches.

    Used before freezing a randomly initialised SoundNet, whose default statistics (mean 0, var 1)
    do not fit waveforms at ±256; eval mode then normalises the way training mode would.
    """
    from soundloc.model import scale_waveform

    bns = [m for m in model.soundnet.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.soundnet.train()
    for n, batch in enumerate(loader):
        if n >= max_batches:
            break
        model.sound_features(scale_waveform(batch["audio"].to(device)))
    for m, mom in zip(bns, saved, strict=True):
        m.momentum = mom
    model.soundnet.eval()


def _better(score: list[float], best: list[float] | None) -> bool:
    return best is None or score > best


def _save_state(path: Path, optimizer: torch.optim.Optimizer, epoch: int) -> None:
    with atomic_path(path) as tmp:
        torch.save({"optimizer": optimizer.state_dict(), "epoch": epoch, "torch_rng": torch.get_rng_state()}, tmp)


def train(train_set: Dataset, out_dir: str | Path, config: TrainConfig | None = None,
          model_config=None, val_set: Dataset | None = None, resume: str | Path | None = None,
          callback: Callable[[Progress], None] | None = None, extra_meta: dict | None = None) -> TrainResult:
    """Train a ``SoundLocalizer`` on ``train_set`` and write checkpoints to ``out_dir``.

    ``model_config`` (a ``ModelConfig``) builds a new model; with ``resume`` the checkpoint's own
    config is used instead and training continues after its last completed epoch (optimizer state
    from the sibling ``<stem>.state.pt`` when present). ``callback`` receives ``Progress`` reports;
    ``extra_meta`` (plain data) is stored in every checkpoint's meta, e.g. how the data was opened.
    """
    config = config or TrainConfig()
    config.validate()
    job = _Job(train_set, val_set, Path(out_dir), config, model_config, None if resume is None else Path(resume),
               callback or (lambda p: None), dict(extra_meta or {}))
    world, rank, local_rank = _dist_env()
    device = resolve_device(config.device, local_rank)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    restore = _seed_everything(config.seed + rank, config.deterministic)
    try:
        return _train(job, _Place(world, rank, device))
    finally:
        restore()


@dataclass
class _Job:
    """What ``train`` was asked to do."""

    train_set: Dataset
    val_set: Dataset | None
    out_dir: Path
    config: TrainConfig
    model_config: object
    resume: Path | None
    report: Callable[[Progress], None]
    extra_meta: dict


@dataclass
class _Place:
    """This process's place in a (possibly distributed) run; rank 0 writes."""

    world: int
    rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world > 1


@dataclass
class _State:
    """Where training stands: restored from a checkpoint or fresh."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_score: list[float] | None = None
    optimizer_file: Path | None = None
    sound_meta: dict | None = None  # meta of the pretrained SoundNet file the run started from


def _train(job: _Job, place: _Place) -> TrainResult:
    """The run, top to bottom: output folder, model (restored or new), data, then epochs that train,
    validate and save."""
    config = job.config
    if place.rank == 0:
        _make_out_dir(job.out_dir)
    model, state = _restore_or_build(job)
    model.to(place.device)
    data, loader, sampler, steps = _loader(job, place)
    step_module = _Step(model, config.freeze_sound)
    if config.freeze_sound and job.resume is None and state.sound_meta is None:
        # a random SoundNet's BatchNorm statistics do not fit ±256 waveforms; pretrained ones do
        calibrate_sound_batchnorm(model, DataLoader(data, batch_size=loader.batch_size, shuffle=False,
                                                    num_workers=config.num_workers), place.device)
    runner = _parallel(step_module, config, place)
    optimizer = _optimizer(model, config, state, job.report)
    validation = _Validation(job, model, loader.batch_size, place.device)
    paths = {"last": None, "best": None}
    started = time.perf_counter()
    for epoch in range(state.epoch, config.epochs):
        entry = _run_epoch(runner, loader, sampler, optimizer, config, place, epoch, steps, job.report)
        if place.rank == 0:
            _validate_and_save(job, model, optimizer, state, validation, entry, len(data), place, paths)
        if place.distributed:
            dist.barrier()
        if _out_of_time(config, time.perf_counter() - started, entry["seconds"], epoch + 1, job.report):
            break
    return _result(job.out_dir, paths, state)


def _out_of_time(config: TrainConfig, elapsed: float, last_epoch: float, done: int,
                 report: Callable[[Progress], None]) -> bool:
    """True when another epoch as long as the last would pass ``max_minutes`` (said once, as info).

    Every process decides on its own clock; under torchrun the epochs end together (barrier), so the
    clocks agree to within one epoch's spread.
    """
    if config.max_minutes is None or done >= config.epochs:
        return False
    if elapsed + last_epoch <= config.max_minutes * 60.0:
        return False
    report(Progress("info", message=f"stopping after epoch {done}/{config.epochs}: another epoch would pass "
                                    f"--max-minutes {config.max_minutes:g} ({elapsed / 60:.1f} min so far)"))
    return True


def _make_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot create the output folder ({exc.strerror}); "
                        "choose a writable --out") from None


def _restore_or_build(job: _Job):
    """The model and training state: from ``job.resume``, else new (SoundNet from pretrained weights
    when ``soundnet_weights`` is set)."""
    from soundloc.checkpoint import load_checkpoint
    from soundloc.model import ModelConfig, SoundLocalizer

    if job.resume is not None:
        model, meta = load_checkpoint(job.resume, map_location="cpu")
        state = _State(int(meta.get("epoch", 0)), list(meta.get("history", [])), meta.get("best_score"),
                       job.resume.with_name(f"{job.resume.stem}.state.pt"), meta.get("soundnet_weights"))
        job.report(Progress("info", message=f"resuming from {job.resume} after epoch {state.epoch}"))
        return model, state
    model = SoundLocalizer(job.model_config or ModelConfig())
    state = _State()
    if job.config.soundnet_weights:
        from soundloc.soundnet_weights import load_soundnet_weights

        source = load_soundnet_weights(model.soundnet, job.config.soundnet_weights)
        state.sound_meta = {"file": str(job.config.soundnet_weights), **source}
        job.report(Progress("info", message=f"SoundNet-8 from {job.config.soundnet_weights}"))
        if job.config.freeze_sound and job.config.mode == "unsup":
            job.report(Progress("info", message=(
                "warning: pretrained SoundNet kept frozen did not learn to localize in our measurements (its "
                "pooled logits are nearly the same for every clip; fine-tuned it did): drop --freeze-sound")))
    return model, state


def _loader(job: _Job, place: _Place):
    """(data, loader, sampler, steps per epoch): the samples ``mode`` trains on, batched per process."""
    config = job.config
    data: Dataset = job.train_set
    if config.mode in ("sup", "semi"):
        annotated = _annotated(job.train_set)
        if not annotated:
            raise UserError(f"--mode {config.mode} needs annotated samples and the training data has none; "
                            "add annotation XMLs or use --mode unsup")
        if config.mode == "sup":
            data = Subset(job.train_set, annotated)
    n = len(data)
    batch = min(max(1, config.batch_size // place.world), max(1, n // place.world))
    if config.mode in ("unsup", "semi") and batch < 2:
        raise UserError(f"--mode {config.mode} takes its negatives from the batch: it needs at least 2 "
                        f"samples per batch (got {n} samples, batch {config.batch_size}); add data")
    if place.distributed:
        sampler = DistributedSampler(data, num_replicas=place.world, rank=place.rank, shuffle=True,
                                     seed=config.seed, drop_last=True)
    else:
        sampler = RandomSampler(data, generator=torch.Generator().manual_seed(config.seed))
    loader = DataLoader(data, batch_size=batch, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, pin_memory=place.device.type == "cuda",
                        worker_init_fn=functools.partial(_seed_worker, config.seed),
                        persistent_workers=config.num_workers > 0)
    steps = len(loader)
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    return data, loader, sampler, steps


def _parallel(step_module: nn.Module, config: TrainConfig, place: _Place) -> nn.Module:
    if not place.distributed:
        return step_module
    # eq. 8 alone never reaches the visual FC blocks (f_v), so ``sup`` leaves parameters unused
    return nn.parallel.DistributedDataParallel(
        step_module, device_ids=[place.device.index] if place.device.type == "cuda" else None,
        find_unused_parameters=config.mode == "sup")


def _optimizer(model: nn.Module, config: TrainConfig, state: _State,
               report: Callable[[Progress], None]) -> torch.optim.Optimizer:
    """Adam over the trainable parameters, with the saved state of a resumed run when there is one."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                 weight_decay=config.weight_decay)
    path = state.optimizer_file
    if path is None:
        return optimizer
    if not path.is_file():
        report(Progress("info", message=f"{path} not found: resuming with a fresh optimizer"))
        return optimizer
    saved = torch.load(path, map_location="cpu", weights_only=True)
    try:
        optimizer.load_state_dict(saved["optimizer"])
    except (ValueError, KeyError) as exc:
        raise UserError(f"{path}: optimizer state does not fit this model ({exc}); "
                        "delete it to resume with a fresh optimizer") from None
    return optimizer


def _run_epoch(runner: nn.Module, loader: DataLoader, sampler, optimizer: torch.optim.Optimizer,
               config: TrainConfig, place: _Place, epoch: int, steps: int,
               report: Callable[[Progress], None]) -> dict:
    """One pass over the data; returns the epoch's history entry (mean loss and parts, speed)."""
    from soundloc.model import scale_waveform

    if place.distributed:
        sampler.set_epoch(epoch)
    else:
        sampler.generator.manual_seed(config.seed * 100003 + epoch)
    weights = LossWeights(config.unsup_weight, config.sup_weight)
    runner.train()
    t0 = time.perf_counter()
    seen, total, count = 0, 0.0, 0
    sums: dict[str, float] = {}
    for step, b in enumerate(loader):
        if step >= steps:
            break
        image = b["image"].to(place.device, non_blocking=True)
        wave = scale_waveform(b["audio"].to(place.device, non_blocking=True))
        out = runner(image, wave, b.get("index"))
        loss, parts = combined_loss(config.mode, out, b, weights, config.negatives, config.normalize_embeddings,
                                    config.negatives_other_clips)
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss became {float(loss)} at epoch {epoch + 1} step {step + 1}; lower --lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += image.shape[0]
        total += float(loss.detach())
        count += 1
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        report(Progress("step", epoch + 1, config.epochs, step + 1, steps, float(loss.detach()), rate, parts))
    mean_loss = total / max(count, 1)
    if place.distributed:
        t = torch.tensor([total, float(count)], device=place.device)
        dist.all_reduce(t)
        mean_loss = float(t[0] / t[1].clamp_min(1))
    seconds = time.perf_counter() - t0
    return {"epoch": epoch + 1, "loss": mean_loss, "parts": {k: v / max(count, 1) for k, v in sums.items()},
            "seconds": seconds, "samples_per_second": seen / max(seconds, 1e-9), "steps": steps}


class _Validation:
    """Scores the model on the annotated validation data, or says that the loss must choose best.pt."""

    def __init__(self, job: _Job, model: nn.Module, batch: int, device: torch.device) -> None:
        self.set = job.val_set
        self.ok = self.set is not None and len(_annotated(self.set)) > 0
        if self.set is None:
            job.report(Progress("info", message="no validation data (--val): best.pt is the epoch with the lowest "
                                                "mean training loss"))
        elif not self.ok:
            job.report(Progress("info", message="validation data has no annotations: best.pt is the epoch with the "
                                                "lowest mean training loss"))
        self.model, self.batch, self.device = model, max(2, batch), device
        self.protocol, self.method = job.config.val_protocol, job.config.val_map
        self.forward = _Step(model, True) if job.config.freeze_sound else None  # own cache for validation f_s

    def __call__(self, entry: dict) -> list[float]:
        """The score best.pt is chosen by (higher is better); adds ``entry["val"]``."""
        from soundloc.evaluate import predict, score

        if not self.ok:
            return [-entry["loss"]]
        rep = score(predict(self.model, self.set, batch_size=self.batch, device=self.device, method=self.method,
                            forward=self.forward), self.protocol, with_baselines=False)
        entry["val"] = {"success": rep.summary.success, "auc": rep.summary.auc,
                        "mean_ciou": rep.summary.mean_ciou, "n": rep.summary.n}
        return [rep.summary.success, rep.summary.auc]


def _validate_and_save(job: _Job, model: nn.Module, optimizer: torch.optim.Optimizer, state: _State,
                       validation: _Validation, entry: dict, samples: int, place: _Place, paths: dict) -> None:
    """Rank 0 after an epoch: validate, write last.pt (+ optimizer state) and, if better, best.pt."""
    from soundloc.checkpoint import save_checkpoint

    config = job.config
    score = validation(entry)
    steps = entry.pop("steps")
    state.history.append(entry)
    state.epoch = entry["epoch"]
    improved = _better(score, state.best_score)
    if improved:
        state.best_score = score
    meta = {"epoch": state.epoch, "mode": config.mode, "train_config": asdict(config), "history": state.history,
            "best_score": state.best_score, "world_size": place.world, "freeze_sound": config.freeze_sound,
            "samples": samples, "soundnet_weights": state.sound_meta, **job.extra_meta}
    with interrupt.deferred():  # Ctrl-C waits for the epoch's checkpoints, which then agree with each other
        paths["last"] = save_checkpoint(job.out_dir / "last.pt", model, meta)
        _save_state(job.out_dir / "last.state.pt", optimizer, state.epoch)
        if improved:
            paths["best"] = save_checkpoint(job.out_dir / "best.pt", model, meta)
    job.report(Progress("epoch", state.epoch, config.epochs, steps, steps, entry["loss"],
                        entry["samples_per_second"], entry["parts"], entry.get("val")))


def _result(out_dir: Path, paths: dict, state: _State) -> TrainResult:
    """What was written; a resumed run that had nothing left to do still points at the existing files."""
    best = paths["best"] or ((out_dir / "best.pt") if (out_dir / "best.pt").is_file() else None)
    last = paths["last"] or ((out_dir / "last.pt") if (out_dir / "last.pt").is_file() else None)
    return TrainResult(out_dir, last, best, state.history,
                       None if state.best_score is None else [float(x) for x in state.best_score])


def progress_line(p: Progress) -> str:
    """One-line text for a progress report (what the CLI prints on a terminal)."""
    if p.kind == "info":
        return p.message
    loss = "nan" if math.isnan(p.loss) else f"{p.loss:.4f}"
    if p.kind == "epoch":  # the epoch's mean, not its last step's loss: say which it is
        line = f"epoch {p.epoch}/{p.epochs} done: mean loss {loss} over {p.steps} steps, {p.rate:.1f} samples/s"
    else:
        line = f"epoch {p.epoch}/{p.epochs} step {p.step}/{p.steps} step loss {loss} {p.rate:.1f} samples/s"
    if p.kind == "epoch" and p.val:
        line += f" | val cIoU@0.5 {p.val['success'] * 100:.1f}% AUC {p.val['auc'] * 100:.1f}"
    return line
