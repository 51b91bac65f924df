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

``freeze_sound`` is a CPU shortcut, not in the paper: SoundNet conv1–8 stays at its initial weights
(BatchNorm statistics recalibrated once on the training audio), its pooled output f_s is computed
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

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"--mode {self.mode}: use one of {', '.join(MODES)}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise UserError("--epochs and --batch-size must be >= 1 and --lr > 0")
        if self.negatives not in ("all", "shift"):
            raise UserError(f"negatives={self.negatives!r}: use 'all' or 'shift'")
        if self.unsup_weight < 0 or self.sup_weight < 0:
            raise UserError("loss weights must be >= 0")


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
    report = callback or (lambda p: None)
    world, rank, local_rank = _dist_env()
    distributed = world > 1
    device = resolve_device(config.device, local_rank)
    if distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    restore = _seed_everything(config.seed + rank, config.deterministic)
    try:
        return _train(train_set, out_dir, config, model_config, val_set, resume, report, extra_meta,
                      world, rank, local_rank, device)
    finally:
        restore()


def _train(train_set, out_dir, config, model_config, val_set, resume, report, extra_meta,
           world, rank, local_rank, device) -> TrainResult:
    from soundloc.checkpoint import load_checkpoint, save_checkpoint
    from soundloc.evaluate import predict, score
    from soundloc.model import ModelConfig, SoundLocalizer, scale_waveform

    distributed = world > 1
    out_dir = Path(out_dir)
    if rank == 0:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{out_dir}: cannot create the output folder ({exc.strerror}); "
                            "choose a writable --out") from None

    # model -------------------------------------------------------------------------------------
    start_epoch, history, best_score = 0, [], None
    state_file = None
    if resume is not None:
        resume = Path(resume)
        model, meta = load_checkpoint(resume, map_location="cpu")
        start_epoch = int(meta.get("epoch", 0))
        history = list(meta.get("history", []))
        best_score = meta.get("best_score")
        state_file = resume.with_name(f"{resume.stem}.state.pt")
        report(Progress("info", message=f"resuming from {resume} after epoch {start_epoch}"))
    else:
        model = SoundLocalizer(model_config or ModelConfig())
    model.to(device)

    # data --------------------------------------------------------------------------------------
    data: Dataset = train_set
    annotated = None
    if config.mode in ("sup", "semi"):
        annotated = _annotated(train_set)
        if not annotated:
            raise UserError(f"--mode {config.mode} needs annotated samples and the training data has none; "
                            "add annotation XMLs or use --mode unsup")
        if config.mode == "sup":
            data = Subset(train_set, annotated)
    n = len(data)
    per_proc = max(1, config.batch_size // world)
    batch = min(per_proc, max(1, n // world))
    if config.mode in ("unsup", "semi") and batch < 2:
        raise UserError(f"--mode {config.mode} takes its negatives from the batch: it needs at least 2 "
                        f"samples per batch (got {n} samples, batch {config.batch_size}); add data")
    loader_gen = torch.Generator().manual_seed(config.seed)
    if distributed:
        sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=config.seed,
                                     drop_last=True)
    else:
        sampler = RandomSampler(data, generator=loader_gen)
    loader = DataLoader(data, batch_size=batch, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, pin_memory=device.type == "cuda",
                        worker_init_fn=functools.partial(_seed_worker, config.seed),
                        persistent_workers=config.num_workers > 0)
    steps = len(loader)
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)

    step_module = _Step(model, config.freeze_sound)
    if config.freeze_sound and resume is None:
        calib = DataLoader(data, batch_size=batch, shuffle=False, num_workers=config.num_workers)
        calibrate_sound_batchnorm(model, calib, device)
    runner: nn.Module = step_module
    if distributed:
        # eq. 8 alone never reaches the visual FC blocks (f_v), so ``sup`` leaves parameters unused
        runner = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=config.mode == "sup")

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if state_file is not None:
        if state_file.is_file():
            st = torch.load(state_file, map_location="cpu", weights_only=True)
            try:
                optimizer.load_state_dict(st["optimizer"])
            except (ValueError, KeyError) as exc:
                raise UserError(f"{state_file}: optimizer state does not fit this model ({exc}); "
                                "delete it to resume with a fresh optimizer") from None
        else:
            report(Progress("info", message=f"{state_file} not found: resuming with a fresh optimizer"))

    weights = LossWeights(config.unsup_weight, config.sup_weight)
    val_ok = val_set is not None and len(_annotated(val_set)) > 0
    if val_set is not None and not val_ok:
        report(Progress("info", message="validation data has no annotations: best.pt is chosen by loss"))
    val_forward = _Step(model, True) if config.freeze_sound else None  # own cache for validation f_s
    last_path = best_path = None
    best_path_candidate = out_dir / "best.pt"

    for epoch in range(start_epoch, config.epochs):
        if distributed:
            sampler.set_epoch(epoch)
        else:
            loader_gen.manual_seed(config.seed * 100003 + epoch)
        runner.train()
        t0 = time.perf_counter()
        seen, total, count = 0, 0.0, 0
        sums: dict[str, float] = {}
        for step, b in enumerate(loader):
            if step >= steps:
                break
            image = b["image"].to(device, non_blocking=True)
            wave = scale_waveform(b["audio"].to(device, non_blocking=True))
            out = runner(image, wave, b.get("index"))
            loss, parts = combined_loss(config.mode, out, b, weights, config.negatives,
                                        config.normalize_embeddings)
            if not torch.isfinite(loss):
                raise RuntimeError(f"loss became {float(loss)} at epoch {epoch + 1} step {step + 1}; "
                                   "lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += image.shape[0]
            total += float(loss.detach())
            count += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            report(Progress("step", epoch + 1, config.epochs, step + 1, steps, float(loss.detach()), rate,
                            parts))
        mean_loss = total / max(count, 1)
        if distributed:
            t = torch.tensor([total, float(count)], device=device)
            dist.all_reduce(t)
            mean_loss = float(t[0] / t[1].clamp_min(1))
        seconds = time.perf_counter() - t0
        entry = {"epoch": epoch + 1, "loss": mean_loss,
                 "parts": {k: v / max(count, 1) for k, v in sums.items()},
                 "seconds": seconds, "samples_per_second": seen / max(seconds, 1e-9)}
        if rank == 0:
            if val_ok:
                rep = score(predict(model, val_set, batch_size=max(2, batch), device=device,
                                    forward=val_forward),
                            config.val_protocol, with_baselines=False)
                entry["val"] = {"success": rep.summary.success, "auc": rep.summary.auc,
                                "mean_ciou": rep.summary.mean_ciou, "n": rep.summary.n}
                cur = [rep.summary.success, rep.summary.auc]
            else:
                cur = [-mean_loss]
            history.append(entry)
            improved = _better(cur, best_score)
            if improved:
                best_score = cur
            meta = {"epoch": epoch + 1, "mode": config.mode, "train_config": asdict(config),
                    "history": history, "best_score": best_score, "world_size": world,
                    "freeze_sound": config.freeze_sound, "samples": n, **(extra_meta or {})}
            last_path = save_checkpoint(out_dir / "last.pt", model, meta)
            _save_state(out_dir / "last.state.pt", optimizer, epoch + 1)
            if improved:
                best_path = save_checkpoint(best_path_candidate, model, meta)
            report(Progress("epoch", epoch + 1, config.epochs, steps, steps, mean_loss,
                            entry["samples_per_second"], entry["parts"], entry.get("val")))
        if distributed:
            dist.barrier()
    if best_path is None and best_path_candidate.is_file():
        best_path = best_path_candidate
    if last_path is None and (out_dir / "last.pt").is_file():
        last_path = out_dir / "last.pt"
    return TrainResult(out_dir, last_path, best_path, history,
                       None if best_score is None else [float(x) for x in best_score])


def progress_line(p: Progress) -> str:
    """One-line text for a progress report (what the CLI prints on a terminal)."""
    if p.kind == "info":
        return p.message
    loss = "nan" if math.isnan(p.loss) else f"{p.loss:.4f}"
    line = f"epoch {p.epoch}/{p.epochs} step {p.step}/{p.steps} loss {loss} {p.rate:.1f} samples/s"
    if p.kind == "epoch" and p.val:
        line += f" | val cIoU@0.5 {p.val['success'] * 100:.1f}% AUC {p.val['auc'] * 100:.1f}"
    return line
