"""Learnability benchmark: do unsup, sup and semi training learn to localize *the sound* on synthetic scenes?

Trains the tiny-backbone localizer on procedural scenes (``soundloc.data.SyntheticScenes``: one heard
object, up to two silent objects of other classes, background noise) in each mode, picks each run's
best checkpoint on a validation split, and evaluates it on held-out scenes with the paper's metrics
(cIoU success at 0.5 with its 95% Wilson interval, AUC) next to the random-pattern and centre-box
baselines of Table 1, and with the controls that separate sound localization from objectness: every
test image scored again with another scene's sound (mismatched) and with silence. The sound gain is
matched − mismatched success with its 95% interval; a model that merely finds objects has none.

The data setup mirrors the paper's: ``unsup`` sees every training scene without boxes, ``sup`` only the
annotated fraction, ``semi`` both (eq. 7). The model follows the paper (eq. 6 on f_v vs f_s, here with
L2-normalised distances unless ``--raw-distances``) with an attention temperature τ (``--temperature``,
default 1 = the paper; ``--temperatures 1,0.1,0.05,0.03`` sweeps it). Goals and best.pt use the α map
(``--score-map cosine`` for the pre-softmax map LVS and EZ-VSL score); both are always printed.

    python benchmarks/learnability.py --quick          # a few minutes on 2 quiet CPU cores
    python benchmarks/learnability.py                  # about 15 minutes on 2 CPU cores (5 per mode)
    python benchmarks/learnability.py --modes semi     # one mode
    python benchmarks/learnability.py --modes semi --temperatures 1,0.1,0.05,0.03 --quick

Measured τ (issue 12): on these scenes τ = 0.1 trains *worse* than τ = 1 (unsup and semi) under the
paper's cIoU protocol: a sharp α marks about one grid cell, while the boxes span two to three, and the
unsupervised triplet loss learns a weaker sound dependence (see README, *Localization quality*).

SoundNet conv1-8 stays at its random initial weights with cached features (``TrainConfig.freeze_sound``),
which is what makes CPU runs feasible; ``--train-sound`` trains it too (much slower on CPU).
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

GOALS = {"unsup": 0.40, "semi": 0.80}  # issue 12: cIoU@0.5 success on synthetic scenes


def _row(name: str, r: dict) -> str:
    ci = f"{r['success'] * 100:.1f} [{r['ci_low'] * 100:.1f},{r['ci_high'] * 100:.1f}]"
    return f"{name:26s}{ci:>20s}{r['auc'] * 100:7.1f}{r['mean_ciou'] * 100:11.1f}"


def _gain(g: dict) -> str:
    return f"{g['success'] * 100:+.1f} [{g['ci_low'] * 100:+.1f},{g['ci_high'] * 100:+.1f}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sets and few epochs (a few minutes)")
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--test-size", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--labelled", type=float, default=0.25, help="annotated fraction of the training scenes")
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--temperature", type=float, default=1.0, help="attention temperature τ (1 = the paper)")
    ap.add_argument("--temperatures", default=None, help="comma list of τ to sweep (with one mode)")
    ap.add_argument("--unsup-target", default="f_s", choices=["f_s", "h"])
    ap.add_argument("--raw-distances", action="store_true",
                    help="eq. 6 on raw embeddings (the paper) instead of L2-normalised ones")
    ap.add_argument("--score-map", default="attention", choices=["cosine", "attention"],
                    help="the map the goals, validation and best.pt use (LVS/EZ-VSL score the cosine map)")
    ap.add_argument("--soundnet-weights", default=None, help="start from pretrained SoundNet-8 (convert soundnet)")
    ap.add_argument("--train-sound", action="store_true", help="train SoundNet conv1-8 too (slow on CPU)")
    ap.add_argument("--modes", default="unsup,sup,semi")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="folder for checkpoints, JSON and plot")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    n_train = args.train_size or (240 if args.quick else 600)
    n_test = args.test_size or (100 if args.quick else 200)
    epochs = args.epochs or (8 if args.quick else 30)
    out = args.out or Path(tempfile.mkdtemp(prefix="learnability-"))
    out.mkdir(parents=True, exist_ok=True)
    scene = dict(image_size=args.image_size, audio_seconds=1.0)
    train_all = SyntheticScenes(n_train, seed=1000 + args.seed, labelled_fraction=args.labelled, **scene)
    unlabelled = SyntheticScenes(n_train, seed=1000 + args.seed, labelled_fraction=0.0, **scene)
    val = SyntheticScenes(max(30, n_test // 4), seed=2000 + args.seed, **scene)
    test = SyntheticScenes(n_test, seed=3000 + args.seed, **scene)
    n_annotated = len(train_all.annotated_indices())
    modes = args.modes.split(",")
    temps = [float(t) for t in args.temperatures.split(",")] if args.temperatures else [args.temperature]
    runs = [(m, t) for m in modes for t in temps]
    print(f"train {n_train} scenes ({n_annotated} annotated), val {len(val)}, test {n_test}; "
          f"{args.image_size}px, epochs {epochs}, lr {args.lr}, batch {args.batch_size}, eq. 6 target "
          f"{args.unsup_target} ({'raw' if args.raw_distances else 'L2-normalised'}), "
          f"{'trainable' if args.train_sound else 'frozen'} {'pretrained' if args.soundnet_weights else 'random'} "
          f"SoundNet conv1-8, goals on the {args.score_map} map", flush=True)
    results: dict[str, dict] = {}
    curves: dict[str, list[float]] = {}
    baselines = None
    t_all = time.perf_counter()
    for mode, tau in runs:
        name = mode if len(temps) == 1 else f"{mode} τ={tau:g}"
        mcfg = ModelConfig(backbone="tiny", embed_dim=args.embed_dim, image_size=args.image_size,
                           attention_temperature=tau, unsup_target=args.unsup_target)
        data = unlabelled if mode == "unsup" else train_all
        cfg = TrainConfig(mode=mode, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          freeze_sound=not args.train_sound, device="cpu", val_map=args.score_map,
                          normalize_embeddings=not args.raw_distances, soundnet_weights=args.soundnet_weights)
        t0 = time.perf_counter()
        res = train(data, out / name.replace(" ", "_").replace("τ=", "t"), cfg, mcfg, val_set=val)
        seconds = time.perf_counter() - t0
        model, meta = load_checkpoint(res.best)
        rep = evaluate(model, test, with_baselines=baselines is None, with_retrieval=True, batch_size=32)
        baselines = baselines or rep.baselines
        ctl = rep.controls
        results[name] = {"mode": mode, "temperature": tau, "attention": ctl["attention"],
                         "cosine": ctl["cosine"], "best_epoch": meta["epoch"], "train_seconds": seconds,
                         "first_loss": res.history[0]["loss"], "last_loss": res.history[-1]["loss"],
                         "retrieval_top1_i2a": rep.retrieval["image_to_audio"][1],
                         "retrieval_top1_a2i": rep.retrieval["audio_to_image"][1],
                         "retrieval_chance_top1": rep.retrieval["random"][1]}
        a = ctl[args.score_map]
        curves[f"{name} (AUC {a['matched']['auc'] * 100:.1f})"] = a["matched"]["curve"]
        curves[f"{name} mismatched (AUC {a['mismatched']['auc'] * 100:.1f})"] = a["mismatched"]["curve"]
        print(f"{name:12s} {args.score_map} cIoU@0.5 {a['matched']['success'] * 100:5.1f}  mismatched "
              f"{a['mismatched']['success'] * 100:5.1f}  silent {a['silent']['success'] * 100:5.1f}  gain "
              f"{_gain(a['gain'])}  best epoch {meta['epoch']}/{epochs}  loss {res.history[0]['loss']:.3f} -> "
              f"{res.history[-1]['loss']:.3f}  {seconds:.0f}s", flush=True)

    print(f"\n{'':26s}{'cIoU@0.5 [95% CI]':>20s}{'AUC':>7s}{'mean cIoU':>11s}")
    verdicts = []
    for name, m in results.items():
        for kind in ("attention", "cosine"):
            rows = m[kind]
            label = "α" if kind == "attention" else "cos"
            for audio in ("matched", "mismatched", "silent"):
                print(_row(f"{name} {label} {audio}", rows[audio]))
            print(f"{f'{name} {label} sound gain':26s}{_gain(rows['gain']):>20s}")
        a = m[args.score_map]
        goal = GOALS.get(m["mode"])
        matched, mism = a["matched"]["success"], a["mismatched"]["success"]
        if goal is not None:
            ok = matched >= goal and mism <= matched / 2
            verdicts.append(f"{name} ({args.score_map} map): matched {matched * 100:.1f}% (goal ≥ {goal * 100:.0f}%), "
                            f"mismatched {mism * 100:.1f}% (goal ≤ {matched * 50:.1f}%) -> "
                            f"{'MET' if ok else 'NOT MET'}")
        else:
            ok = a["gain"]["ci_low"] > 0
            verdicts.append(f"{name} ({args.score_map} map): sound gain {_gain(a['gain'])} -> "
                            f"{'positive' if ok else 'not significantly positive'}")
    r, c = baselines["random"], baselines["centre"]
    rnd = f"{r['success'] * 100:.1f} ± {r['success_std'] * 100:.1f}"
    print(f"{'random pattern':26s}{rnd:>20s}{r['auc'] * 100:7.1f}")
    print(f"{'centre box':26s}{c['success'] * 100:20.1f}{c['auc'] * 100:7.1f}{c['mean_ciou'] * 100:11.1f}")
    print("\nretrieval top-1 (image→audio / audio→image), chance "
          f"{next(iter(results.values()))['retrieval_chance_top1'] * 100:.1f}%: "
          + ", ".join(f"{n} {m['retrieval_top1_i2a'] * 100:.1f}/{m['retrieval_top1_a2i'] * 100:.1f}"
                      for n, m in results.items()))
    print("\n" + "\n".join(verdicts))
    print(f"total {time.perf_counter() - t_all:.0f}s")
    curves[f"centre (AUC {c['auc'] * 100:.1f})"] = c["curve"]
    curves[f"random (AUC {r['auc'] * 100:.1f})"] = r["curve"]
    summary = {"setup": {"train": n_train, "annotated": n_annotated, "test": n_test, "epochs": epochs,
                         "image_size": args.image_size, "lr": args.lr, "batch_size": args.batch_size,
                         "unsup_target": args.unsup_target, "raw_distances": args.raw_distances,
                         "score_map": args.score_map, "soundnet_weights": args.soundnet_weights,
                         "train_sound": args.train_sound, "seed": args.seed},
               "runs": results, "baselines": baselines, "verdicts": verdicts}
    (out / "learnability.json").write_text(json.dumps(summary, indent=2))
    plot_success_curve(curves, out / "learnability.png")
    print(f"\nwrote {out / 'learnability.json'} and {out / 'learnability.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
