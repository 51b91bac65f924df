"""Learnability benchmark: do unsup, sup and semi training learn to localize on synthetic scenes?

Trains the tiny-backbone localizer on procedural scenes (``soundloc.data.SyntheticScenes``) in each
mode, picks each run's best checkpoint on a validation split, and evaluates it on held-out scenes with
the paper's metrics (cIoU success at 0.5 with its 95% Wilson interval, AUC), next to the random-pattern
and centre-box baselines of Table 1 and the retrieval scores of Table 6. The data setup mirrors the
paper's: ``unsup`` sees every training scene without boxes, ``sup`` only the annotated fraction,
``semi`` both (eq. 7).

    python benchmarks/learnability.py --quick          # about 2-4 minutes on 2 CPU cores
    python benchmarks/learnability.py                  # a few minutes per mode
    python benchmarks/learnability.py --train-sound    # also train SoundNet conv1-8 (much slower on CPU)

By default SoundNet conv1-8 stays at its random initial weights with cached features
(``TrainConfig.freeze_sound``), which is what makes CPU runs feasible; see the report it prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from soundloc.checkpoint import load_checkpoint  # noqa: E402
from soundloc.data import SyntheticScenes  # noqa: E402
from soundloc.evaluate import evaluate, plot_success_curve  # noqa: E402
from soundloc.model import ModelConfig  # noqa: E402
from soundloc.train import TrainConfig, train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sets and few epochs (about 2-4 min)")
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--test-size", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--labelled", type=float, default=0.25, help="annotated fraction of the training scenes")
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--train-sound", action="store_true", help="train SoundNet conv1-8 too (slow on CPU)")
    ap.add_argument("--modes", default="unsup,sup,semi")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="folder for checkpoints, JSON and plot")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    n_train = args.train_size or (150 if args.quick else 1000)
    n_test = args.test_size or (60 if args.quick else 300)
    epochs = args.epochs or (15 if args.quick else 30)
    out = args.out or Path(tempfile.mkdtemp(prefix="learnability-"))
    out.mkdir(parents=True, exist_ok=True)
    scene = dict(image_size=args.image_size, audio_seconds=1.0)
    train_all = SyntheticScenes(n_train, seed=1000 + args.seed, labelled_fraction=args.labelled, **scene)
    unlabelled = SyntheticScenes(n_train, seed=1000 + args.seed, labelled_fraction=0.0, **scene)
    val = SyntheticScenes(max(30, n_test // 4), seed=2000 + args.seed, **scene)
    test = SyntheticScenes(n_test, seed=3000 + args.seed, **scene)
    n_annotated = len(train_all.annotated_indices())
    print(f"train {n_train} scenes ({n_annotated} annotated), val {len(val)}, test {n_test}; "
          f"{args.image_size}px, epochs {epochs}, lr {args.lr}, batch {args.batch_size}, "
          f"{'trainable' if args.train_sound else 'frozen random'} SoundNet conv1-8", flush=True)
    mcfg = ModelConfig(backbone="tiny", embed_dim=args.embed_dim, image_size=args.image_size)
    results: dict[str, dict] = {}
    curves: dict[str, list[float]] = {}
    baselines = None
    for mode in args.modes.split(","):
        data = unlabelled if mode == "unsup" else train_all
        cfg = TrainConfig(mode=mode, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          freeze_sound=not args.train_sound, device="cpu")
        t0 = time.perf_counter()
        res = train(data, out / mode, cfg, mcfg, val_set=val)
        seconds = time.perf_counter() - t0
        model, meta = load_checkpoint(res.best)
        rep = evaluate(model, test, with_baselines=baselines is None, with_retrieval=True)
        baselines = baselines or rep.baselines
        s = rep.summary
        results[mode] = {"success": s.success, "ci": [s.ci_low, s.ci_high], "auc": s.auc,
                         "mean_ciou": s.mean_ciou, "best_epoch": meta["epoch"], "train_seconds": seconds,
                         "first_loss": res.history[0]["loss"], "last_loss": res.history[-1]["loss"],
                         "retrieval_top1_i2a": rep.retrieval["image_to_audio"][1],
                         "retrieval_top1_a2i": rep.retrieval["audio_to_image"][1],
                         "retrieval_chance_top1": rep.retrieval["random"][1]}
        curves[f"{mode} (AUC {s.auc * 100:.1f})"] = s.curve
        print(f"{mode:6s} cIoU@0.5 {s.success * 100:5.1f} [{s.ci_low * 100:.1f}, {s.ci_high * 100:.1f}]  "
              f"AUC {s.auc * 100:5.1f}  best epoch {meta['epoch']}/{epochs}  loss "
              f"{res.history[0]['loss']:.3f} -> {res.history[-1]['loss']:.3f}  {seconds:.0f}s", flush=True)
    r, c = baselines["random"], baselines["centre"]
    curves[f"centre (AUC {c['auc'] * 100:.1f})"] = c["curve"]
    curves[f"random (AUC {r['auc'] * 100:.1f})"] = r["curve"]
    print(f"\n{'':8s}{'cIoU@0.5':>22s}{'AUC':>7s}{'mean cIoU':>11s}{'top-1 i→a':>11s}{'a→i':>7s}")
    for mode, m in results.items():
        ci = f"{m['success'] * 100:.1f} [{m['ci'][0] * 100:.1f},{m['ci'][1] * 100:.1f}]"
        print(f"{mode:8s}{ci:>22s}{m['auc'] * 100:7.1f}{m['mean_ciou'] * 100:11.1f}"
              f"{m['retrieval_top1_i2a'] * 100:11.1f}{m['retrieval_top1_a2i'] * 100:7.1f}")
    rnd = f"{r['success'] * 100:.1f} ± {r['success_std'] * 100:.1f}"
    print(f"{'random':8s}{rnd:>22s}{r['auc'] * 100:7.1f}")
    print(f"{'centre':8s}{c['success'] * 100:22.1f}{c['auc'] * 100:7.1f}{c['mean_ciou'] * 100:11.1f}")
    if results:
        print(f"top-1 retrieval chance: {next(iter(results.values()))['retrieval_chance_top1'] * 100:.1f}")
    summary = {"setup": {"train": n_train, "annotated": n_annotated, "test": n_test, "epochs": epochs,
                         "image_size": args.image_size, "lr": args.lr, "batch_size": args.batch_size,
                         "train_sound": args.train_sound, "seed": args.seed},
               "modes": results, "baselines": baselines}
    (out / "learnability.json").write_text(json.dumps(summary, indent=2))
    plot_success_curve(curves, out / "learnability.png")
    print(f"\nwrote {out / 'learnability.json'} and {out / 'learnability.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
