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

    python benchmarks/learnability.py --quick          # one seed, small sets: a few minutes on 2 CPU cores
    python benchmarks/learnability.py                  # 3 seeds × 3 modes: about 8 minutes on 2 quiet cores
    python benchmarks/learnability.py --modes semi     # one mode
    python benchmarks/learnability.py --modes unsup --padding zeros   # the border shortcut (see below)
    python benchmarks/learnability.py --modes semi --temperatures 1,0.1,0.05,0.03 --quick

Every setting is trained from several seeds (``--seeds``; each seed also draws its own scenes) and the
goals are judged on the mean over seeds, with each seed's result printed beside it: one run of these
small models varies by tens of points from seed to seed (17–57% for unsup with the same settings), far
more than most of the effects one would want to measure.

Padding (``--padding``, default ``reflect`` here): with the paper's zero padding the backbone's features
tell border cells from inner ones, and the unsupervised model can meet eq. 6 by letting a sound pick
border cells instead of its object (f_v then follows the sound even when the object is not in the
picture); on some seeds validation success peaks early and then falls while the loss keeps falling.
Reflect padding removes that position code (issue 12's note has the numbers).

Semi-supervised weights (``--unsup-weight``/``--sup-weight``, default 0.75/0.25, the best pair of the
paper's Table 5 with plenty of unlabelled data): eq. 8's cross-entropy starts near log(36) ≈ 3.6 on the
6×6 grid against eq. 6's ≈ 0.4, so at eq. 7's 1/1 the supervised term drives training and the model
drifts toward objectness after a few epochs (on two seeds 80.6/62.1% at 1/1 against 87.8/89.3% at 1/0.25).

Measured τ (issue 12): on these scenes τ = 0.1 trains *worse* than τ = 1 (unsup and semi) under the
paper's cIoU protocol: a sharp α marks about one grid cell, while the boxes span two to three, and the
unsupervised triplet loss learns a weaker sound dependence (see docs/measurements.md, *Localization quality*).

SoundNet conv1-8 stays at its random initial weights with cached features (``TrainConfig.freeze_sound``),
which is what makes CPU runs feasible; ``--train-sound`` trains it too (about 10 minutes per unsup run on
2 CPU cores). The paper's setup is ``--soundnet-weights FILE --train-sound`` (the authors' SoundNet,
fine-tuned): it learns as well as the default (unsup 57.8% on seed 0). Pretrained SoundNet *frozen* does
not learn at all here (5.6%): its pooled conv8 logits sit near −250 in every dimension with a norm near
8,000, clips differ by about 16 per dimension, so normalised f_s are all alike (cosine 0.9999) and the
sound head's leading ReLU zeroes most of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from soundloc.checkpoint import load_checkpoint  # noqa: E402
from soundloc.data import SyntheticScenes  # noqa: E402
from soundloc.evaluate import evaluate, plot_success_curve  # noqa: E402
from soundloc.model import PADDINGS, ModelConfig  # noqa: E402
from soundloc.train import TrainConfig, train  # noqa: E402

GOALS = {"unsup": 0.40, "semi": 0.80}  # issue 12: cIoU@0.5 success on synthetic scenes


def _train_and_score(mode: str, tau: float, seed: int, args, out: Path, sizes: tuple[int, int, int]) -> dict:
    """One training run from ``seed`` (its own scenes too), scored on its held-out test scenes."""
    n_train, n_test, epochs = sizes
    scene = dict(image_size=args.image_size, audio_seconds=1.0)
    labelled = 0.0 if mode == "unsup" else args.labelled
    data = SyntheticScenes(n_train, seed=1000 + seed, labelled_fraction=labelled, **scene)
    val = SyntheticScenes(max(30, n_test // 4), seed=2000 + seed, **scene)
    test = SyntheticScenes(n_test, seed=3000 + seed, **scene)
    mcfg = ModelConfig(backbone="tiny", embed_dim=args.embed_dim, image_size=args.image_size,
                       attention_temperature=tau, unsup_target=args.unsup_target, padding=args.padding)
    cfg = TrainConfig(mode=mode, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
                      freeze_sound=not args.train_sound, device="cpu", val_map=args.score_map,
                      normalize_embeddings=not args.raw_distances, soundnet_weights=args.soundnet_weights,
                      unsup_weight=args.unsup_weight, sup_weight=args.sup_weight)
    t0 = time.perf_counter()
    res = train(data, out / f"{mode}_t{tau:g}_seed{seed}", cfg, mcfg, val_set=val)
    seconds = time.perf_counter() - t0
    model, meta = load_checkpoint(res.best)
    rep = evaluate(model, test, with_baselines=True, with_retrieval=True, batch_size=32)
    ctl = rep.controls
    return {"mode": mode, "temperature": tau, "seed": seed, "annotated": len(data.annotated_indices()),
            "attention": ctl["attention"], "cosine": ctl["cosine"], "best_epoch": meta["epoch"],
            "train_seconds": seconds, "first_loss": res.history[0]["loss"], "last_loss": res.history[-1]["loss"],
            "val_success": [h.get("val", {}).get("success") for h in res.history],
            "retrieval_top1_i2a": rep.retrieval["image_to_audio"][1],
            "retrieval_top1_a2i": rep.retrieval["audio_to_image"][1],
            "retrieval_chance_top1": rep.retrieval["random"][1], "baselines": rep.baselines}


def _mean(runs: list[dict], kind: str, audio: str, key: str = "success") -> float:
    return float(np.mean([r[kind][audio][key] for r in runs]))


def _spread(runs: list[dict], kind: str, audio: str) -> str:
    return "/".join(f"{r[kind][audio]['success'] * 100:.0f}" for r in runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, small sets and few epochs (a few minutes)")
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--test-size", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--labelled", type=float, default=0.25, help="annotated fraction of the training scenes")
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--temperature", type=float, default=1.0, help="attention temperature τ (1 = the paper)")
    ap.add_argument("--temperatures", default=None, help="comma list of τ to sweep")
    ap.add_argument("--unsup-target", default="f_s", choices=["f_s", "h"])
    ap.add_argument("--unsup-weight", type=float, default=0.75, help="eq. 7's weight of L_U in semi (Table 5's best)")
    ap.add_argument("--sup-weight", type=float, default=0.25, help="eq. 7's weight of L_S in semi (Table 5's best)")
    ap.add_argument("--padding", default="reflect", choices=PADDINGS,
                    help="the backbone's padding (zeros = the paper; see the module docstring)")
    ap.add_argument("--raw-distances", action="store_true",
                    help="eq. 6 on raw embeddings (the paper) instead of L2-normalised ones")
    ap.add_argument("--score-map", default="attention", choices=["cosine", "attention"],
                    help="the map the goals, validation and best.pt use (LVS/EZ-VSL score the cosine map)")
    ap.add_argument("--soundnet-weights", default=None, help="start from pretrained SoundNet-8 (convert soundnet)")
    ap.add_argument("--train-sound", action="store_true", help="train SoundNet conv1-8 too (slow on CPU)")
    ap.add_argument("--modes", default="unsup,sup,semi")
    ap.add_argument("--seeds", default=None, help="comma list of seeds [default: 0,1,2; 0 with --quick]")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="folder for checkpoints, JSON and plot")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    sizes = (args.train_size or (240 if args.quick else 600), args.test_size or (100 if args.quick else 200),
             args.epochs or (8 if args.quick else 30))
    seeds = [int(x) for x in (args.seeds or ("0" if args.quick else "0,1,2")).split(",")]
    out = args.out or Path(tempfile.mkdtemp(prefix="learnability-"))
    out.mkdir(parents=True, exist_ok=True)
    temps = [float(t) for t in args.temperatures.split(",")] if args.temperatures else [args.temperature]
    settings = [(m, t) for m in args.modes.split(",") for t in temps]
    print(f"train {sizes[0]} scenes ({args.labelled:.0%} annotated for sup/semi), test {sizes[1]}, seeds "
          f"{','.join(map(str, seeds))}; {args.image_size}px, {args.padding} padding, epochs {sizes[2]}, lr {args.lr}, "
          f"batch {args.batch_size}, semi weights {args.unsup_weight:g}/{args.sup_weight:g}, "
          f"eq. 6 target {args.unsup_target} "
          f"({'raw' if args.raw_distances else 'L2-normalised'}), {'trainable' if args.train_sound else 'frozen'} "
          f"{'pretrained' if args.soundnet_weights else 'random'} SoundNet conv1-8, goals on the {args.score_map} map",
          flush=True)
    runs: dict[str, list[dict]] = {}
    t_all = time.perf_counter()
    for mode, tau in settings:
        name = mode if len(temps) == 1 else f"{mode} τ={tau:g}"
        for seed in seeds:
            r = _train_and_score(mode, tau, seed, args, out, sizes)
            runs.setdefault(name, []).append(r)
            a = r[args.score_map]
            print(f"{name:12s} seed {seed}: {args.score_map} cIoU@0.5 {a['matched']['success'] * 100:5.1f}  "
                  f"mismatched {a['mismatched']['success'] * 100:5.1f}  silent {a['silent']['success'] * 100:5.1f}  "
                  f"best epoch {r['best_epoch']}/{sizes[2]}  loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}  "
                  f"{r['train_seconds']:.0f}s", flush=True)

    print(f"\nmean over {len(seeds)} seed(s), cIoU@0.5 success in % (each seed's after the colon)")
    print(f"{'':22s}{'matched':>18s}{'mismatched':>18s}{'silent':>18s}{'gain':>8s}{'AUC':>7s}")
    verdicts = []
    for name, rs in runs.items():
        for kind in ("attention", "cosine"):
            cells = [f"{_mean(rs, kind, audio) * 100:5.1f}: {_spread(rs, kind, audio):>10s}"
                     for audio in ("matched", "mismatched", "silent")]
            gain = float(np.mean([r[kind]["gain"]["success"] for r in rs]))
            label = f"{name} {'α' if kind == 'attention' else 'cos'}"
            print(f"{label:22s}" + "".join(f"{c:>18s}" for c in cells)
                  + f"{gain * 100:+8.1f}{_mean(rs, kind, 'matched', 'auc') * 100:7.1f}")
        matched, mism = _mean(rs, args.score_map, "matched"), _mean(rs, args.score_map, "mismatched")
        goal = GOALS.get(rs[0]["mode"])
        if goal is not None:
            ok = matched >= goal and mism <= matched / 2
            each = sum(r[args.score_map]["matched"]["success"] >= goal
                       and r[args.score_map]["mismatched"]["success"] <= r[args.score_map]["matched"]["success"] / 2
                       for r in rs)
            verdicts.append(f"{name} ({args.score_map} map, mean of {len(rs)}): matched {matched * 100:.1f}% "
                            f"(goal ≥ {goal * 100:.0f}%), mismatched {mism * 100:.1f}% (goal ≤ {matched * 50:.1f}%) "
                            f"-> {'MET' if ok else 'NOT MET'}; {each} of {len(rs)} seeds meet it alone")
        else:
            lows = [r[args.score_map]["gain"]["ci_low"] for r in rs]
            gain = float(np.mean([r[args.score_map]["gain"]["success"] for r in rs]))
            verdicts.append(f"{name} ({args.score_map} map): mean sound gain {gain * 100:+.1f}; "
                            f"{sum(lo > 0 for lo in lows)} of {len(rs)} seeds significantly positive")
    base = [r["baselines"] for rs in runs.values() for r in rs]
    rnd = float(np.mean([b["random"]["success"] for b in base]))
    ctr = float(np.mean([b["centre"]["success"] for b in base]))
    print(f"{'random pattern':22s}{rnd * 100:18.1f}\n{'centre box':22s}{ctr * 100:18.1f}")
    chance = next(iter(runs.values()))[0]["retrieval_chance_top1"]
    print(f"\nretrieval top-1 (image→audio / audio→image), chance {chance * 100:.1f}%: "
          + ", ".join(f"{n} {np.mean([r['retrieval_top1_i2a'] for r in rs]) * 100:.1f}/"
                      f"{np.mean([r['retrieval_top1_a2i'] for r in rs]) * 100:.1f}" for n, rs in runs.items()))
    print("\n" + "\n".join(verdicts))
    print(f"total {time.perf_counter() - t_all:.0f}s")
    curves = {}
    for name, rs in runs.items():
        a = rs[0][args.score_map]
        curves[f"{name} seed {rs[0]['seed']} (AUC {a['matched']['auc'] * 100:.1f})"] = a["matched"]["curve"]
        curves[f"{name} seed {rs[0]['seed']} mismatched (AUC {a['mismatched']['auc'] * 100:.1f})"] = \
            a["mismatched"]["curve"]
    summary = {"setup": {**{k: v for k, v in vars(args).items() if k != "out"}, "train": sizes[0], "test": sizes[1],
                         "epochs": sizes[2], "seeds": seeds},
               "runs": {n: [{k: v for k, v in r.items() if k != "baselines"} for r in rs] for n, rs in runs.items()},
               "baselines": {"random": rnd, "centre": ctr}, "verdicts": verdicts}
    (out / "learnability.json").write_text(json.dumps(summary, indent=2))
    plot_success_curve(curves, out / "learnability.png")
    print(f"\nwrote {out / 'learnability.json'} and {out / 'learnability.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
