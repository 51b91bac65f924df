"""Evaluation loop: localization maps of a trained model scored with cIoU/AUC, baselines, retrieval.

The model is run in batches on a dataset; per sample we keep only the low-resolution response map,
the score map g and the embeddings, so memory stays small.

A cIoU score alone cannot tell sound localization from objectness: a model that ignores the audio and
marks the most object-like region scores the same. So by default every image is also scored with
*another* sample's sound (mismatched; from another video and class where the dataset knows them) and with
silence, for both the attention α and the cosine map, and the report gives the sound gain, matched −
mismatched success with its 95% interval. A model that localizes the sound loses most of its score with
the wrong sound; one that only finds objects loses none. Scoring (``soundloc.metrics``) follows a
named protocol (``senocak`` or ``lvs``) because public evaluators differ. Results come back as an
``EvalReport`` that prints as a table, serialises to JSON, and draws its success curve with OpenCV
(no matplotlib dependency).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from common.atomic import atomic_path
from common.errors import UserError
from common.ownership import GENERATOR, png_with_mark
from soundloc import metrics

MAP_METHODS = ("attention", "cosine")
AUDIO_CONTROLS = ("matched", "mismatched", "silent")
#: Under ``lvs`` the prediction always covers half the image, so cIoU ≤ 2 × (box area / image area):
#: with boxes below this fraction a success at cIoU 0.5 is impossible.
LVS_MIN_BOX_FRACTION = 0.25


@dataclass
class Predictions:
    """What one pass of the model over a dataset leaves behind."""

    maps: list[np.ndarray]  # (h,w) response per sample
    gts: list[np.ndarray]  # score maps g
    has_gt: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N,) int, −1 unknown
    f_v: np.ndarray  # (N,D)
    f_s: np.ndarray  # (N,D) the sound vector f_v is trained towards (``LocalizerOutput.target``)
    controls: dict[str, list[np.ndarray]] = field(default_factory=dict)  # "attention/mismatched" -> maps


@dataclass
class EvalReport:
    """Scores of one evaluation; fractions in [0,1] (the table prints percentages)."""

    protocol: str
    summary: metrics.Summary
    cious: list[float]
    n_total: int
    n_without_gt: int
    baselines: dict | None = None
    retrieval: dict | None = None
    info: dict = field(default_factory=dict)
    controls: dict | None = None  # {method: {audio: summary dict, "gain": {...}}}, see ``score_controls``
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"generator": dict(GENERATOR), "protocol": self.protocol, "n_total": self.n_total,
                "n_evaluated": self.summary.n,
                "n_without_gt": self.n_without_gt, "thresholds": metrics.CURVE_THRESHOLDS.tolist(),
                **{k: v for k, v in self.summary.to_dict().items() if k != "n"},
                "baselines": self.baselines, "controls": self.controls, "retrieval": self.retrieval,
                "per_sample_ciou": self.cious, "warnings": self.warnings, "info": self.info}


def _device(device: str | torch.device | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class _ControlSounds:
    """Pooled sound features for the controls: another sample's and silence's (computed once per clip length).

    The mismatched sound of a sample is the nearest earlier one in dataset order that comes from another
    recording (``clip``) and is of another class, each where the dataset knows it (≥ 0). Otherwise the
    control would hand many images a sound that belongs to them: with four synthetic classes a quarter
    of "previous sample" sounds are of the image's own source kind, and consecutive frames of one video
    share their source. :meth:`seed` first remembers a few samples spread over the whole dataset, so
    that the first video's frames have other videos to draw from; when nothing qualifies, the nearest
    other sample is used.
    """

    KEEP = 1024  # samples remembered (f_s only: a few MB)
    SEEDS = 32  # samples spread over the dataset remembered before the first batch

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.recent: list[tuple[int, int, int, torch.Tensor]] = []  # (index, label, clip, f_s), oldest first
        self.silence: dict[int, torch.Tensor] = {}

    @staticmethod
    def _entries(f_s: torch.Tensor, batch: dict) -> list[tuple[int, int, int, torch.Tensor]]:
        def ids(key: str) -> list[int]:
            x = batch.get(key)
            return [-1] * len(f_s) if x is None else [int(v) for v in x]

        return list(zip(ids("index"), ids("label"), ids("clip"), f_s, strict=True))

    def seed(self, dataset: Dataset, device: torch.device) -> None:
        """Remember up to ``SEEDS`` samples spread evenly over ``dataset``."""
        from torch.utils.data import default_collate

        from soundloc.model import scale_waveform

        picks = sorted({int(round(x)) for x in np.linspace(0, len(dataset) - 1, min(self.SEEDS, len(dataset)))})
        for start in range(0, len(picks), 16):
            batch = default_collate([dataset[i] for i in picks[start:start + 16]])
            f_s = self.model.sound_features(scale_waveform(batch["audio"].to(device)))
            self.recent += self._entries(f_s, batch)

    def mismatched(self, f_s: torch.Tensor, batch: dict) -> torch.Tensor:
        """Another sample's f_s for each sample of ``batch`` (its ``index``, ``label``, ``clip`` where present)."""
        def differs(a: int, b: int) -> bool:
            return a < 0 or b < 0 or a != b

        pool = self.recent + self._entries(f_s, batch)
        picked = []
        for k in range(len(self.recent), len(pool)):
            index, label, clip, _ = pool[k]
            chosen = None  # the nearest other sample, kept if none of another class and recording comes
            for j in (j % len(pool) for j in range(k - 1, k - len(pool), -1)):  # nearest earlier first, cyclic
                if not differs(pool[j][0], index):
                    continue
                if chosen is None:
                    chosen = j
                if differs(pool[j][1], label) and differs(pool[j][2], clip):
                    chosen = j
                    break
            picked.append(pool[k if chosen is None else chosen][3])
        self.recent = pool[-self.KEEP:]
        return torch.stack(picked)

    def silent(self, wave: torch.Tensor) -> torch.Tensor:
        n = wave.shape[-1]
        if n not in self.silence:
            self.silence[n] = self.model.sound_features(wave.new_zeros(1, n))
        return self.silence[n].expand(wave.shape[0], -1)


@torch.no_grad()
def predict(model: torch.nn.Module, dataset: Dataset, batch_size: int = 16,
            device: str | torch.device | None = None, method: str = "attention", num_workers: int = 0,
            progress: Callable[[int, int], None] | None = None,
            forward: Callable | None = None, controls: bool = False) -> Predictions:
    """Run ``model`` over ``dataset`` and keep maps, score maps, labels and embeddings.

    ``forward(image, scaled_waveform, index)`` replaces ``model(image, waveform)`` when given (the
    training loop passes its cached-sound-feature forward for validation). ``controls`` also keeps the
    attention and cosine maps of every image with matched, mismatched and silent audio (the visual
    features are computed once for all three); it needs at least two samples.
    """
    from soundloc.model import scale_waveform

    if method not in MAP_METHODS:
        raise UserError(f"--method {method}: use one of {', '.join(MAP_METHODS)}")
    dev = _device(device)
    was_training = model.training
    model.eval().to(dev)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    maps, gts, has_gt, labels, fv, fs = [], [], [], [], [], []
    kept: dict[str, list[np.ndarray]] = {}
    controls = controls and forward is None and len(dataset) >= 2
    sounds = _ControlSounds(model)
    done = 0
    try:
        if controls:
            sounds.seed(dataset, dev)
        for batch in loader:
            image, wave = batch["image"].to(dev), scale_waveform(batch["audio"].to(dev))
            if forward is not None:
                out = forward(image, wave, batch.get("index"))
            else:
                v, f_s = model.visual_features(image), model.sound_features(wave)
                out = model.attend_sound(v, f_s)
                if controls:
                    other = sounds.mismatched(f_s, batch)
                    variants = {"matched": out, "mismatched": model.attend_sound(v, other),
                                "silent": model.attend_sound(v, sounds.silent(wave))}
                    for audio, o in variants.items():
                        for name, m in (("attention", o.attention), ("cosine", o.cosine)):
                            kept.setdefault(f"{name}/{audio}", []).extend(m.float().cpu().numpy())
            resp = out.attention if method == "attention" else out.cosine
            maps.extend(resp.float().cpu().numpy())
            gts.extend(batch["gt_map"].numpy())
            has_gt.extend(batch["has_gt"].numpy().tolist())
            labels.extend(batch["label"].numpy().tolist())
            fv.append(out.f_v.float().cpu().numpy())
            fs.append(out.target.float().cpu().numpy())
            done += len(batch["image"])
            if progress:
                progress(done, len(dataset))
    finally:
        model.train(was_training)
    return Predictions(maps, gts, np.array(has_gt, bool), np.array(labels, int),
                       np.concatenate(fv), np.concatenate(fs), kept)


def paired_gain(a: list[float], b: list[float], threshold: float = 0.5, z: float = 1.959964) -> dict:
    """Success-rate difference of paired samples (a − b at cIoU ≥ threshold) with a normal 95% interval.

    Each sample contributes d = success_a − success_b ∈ {−1, 0, 1}; the interval is mean ± z·sd/√n.
    """
    d = (np.asarray(a) >= threshold).astype(np.float64) - (np.asarray(b) >= threshold).astype(np.float64)
    if d.size == 0:
        return {"success": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 0}
    half = z * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else 0.0
    return {"success": float(d.mean()), "ci_low": float(d.mean() - half), "ci_high": float(d.mean() + half),
            "n": int(d.size)}


def score_controls(pred: Predictions, protocol: str) -> dict | None:
    """Per map kind: the summary with matched, mismatched and silent audio, and the sound gain."""
    if not pred.controls:
        return None
    idx = np.flatnonzero(pred.has_gt)
    out: dict = {}
    for name in MAP_METHODS:
        per = {audio: [metrics.sample_ciou(pred.controls[f"{name}/{audio}"][i], pred.gts[i], protocol)
                       for i in idx] for audio in AUDIO_CONTROLS}
        out[name] = {audio: metrics.summarize(c).to_dict() for audio, c in per.items()}
        out[name]["gain"] = paired_gain(per["matched"], per["mismatched"])
    return out


def protocol_warnings(pred: Predictions, protocol: str) -> list[str]:
    """Why the chosen protocol may mislead on this data (one sentence each)."""
    if protocol != "lvs" or not pred.has_gt.any():
        return []
    fractions = [float((pred.gts[i] > 0).mean()) for i in np.flatnonzero(pred.has_gt)]
    median = float(np.median(fractions))
    if median >= LVS_MIN_BOX_FRACTION:
        return []
    return [f"--protocol lvs marks half of every image (median threshold) but the boxes cover a median "
            f"{median * 100:.0f}% of it, so cIoU cannot exceed about {min(1.0, 2 * median):.2f} and success at "
            "0.5 is out of reach; use --protocol senocak for data with small boxes"]


def score(pred: Predictions, protocol: str = "senocak", with_baselines: bool = True,
          with_retrieval: bool = False, baseline_repeats: int = 100, seed: int = 0) -> EvalReport:
    """Score predictions: per-sample cIoU on annotated samples, summary, baselines, controls, retrieval."""
    if protocol not in metrics.PROTOCOLS:
        raise UserError(f"--protocol {protocol}: use one of {', '.join(metrics.PROTOCOLS)}")
    idx = np.flatnonzero(pred.has_gt)
    cious = [metrics.sample_ciou(pred.maps[i], pred.gts[i], protocol) for i in idx]
    summary = metrics.summarize(cious)
    base = None
    if with_baselines and len(idx):
        grid = pred.maps[0].shape[0] if pred.maps else 20
        base = metrics.baselines([pred.gts[i] for i in idx], protocol, baseline_repeats, seed, grid=grid)
    retr = None
    if with_retrieval:
        if not (pred.labels >= 0).any():
            raise UserError("retrieval needs class labels, and this dataset has none; use synthetic data "
                            "or a video folder with one sub-folder per class")
        retr = metrics_retrieval(pred)
    return EvalReport(protocol, summary, [float(c) for c in cious], len(pred.maps),
                      int(len(pred.maps) - len(idx)), base, retr, controls=score_controls(pred, protocol),
                      warnings=protocol_warnings(pred, protocol))


def metrics_retrieval(pred: Predictions) -> dict:
    """Table 6 retrieval scores of the predictions' embeddings and labels."""
    from soundloc.retrieval import retrieval_table

    return retrieval_table(pred.f_v, pred.f_s, pred.labels.tolist())


def evaluate(model: torch.nn.Module, dataset: Dataset, protocol: str = "senocak", batch_size: int = 16,
             device: str | torch.device | None = None, with_baselines: bool = True,
             with_retrieval: bool = False, method: str = "attention", num_workers: int = 0,
             progress: Callable[[int, int], None] | None = None, with_controls: bool = True) -> EvalReport:
    """Predict and score in one call (see ``predict`` and ``score``)."""
    pred = predict(model, dataset, batch_size, device, method, num_workers, progress, controls=with_controls)
    if not pred.has_gt.any() and not with_retrieval:
        raise UserError("the evaluation data has no ground-truth boxes; give annotated data (annotation XMLs "
                        "or synthetic:N) or ask only for --retrieval")
    report = score(pred, protocol, with_baselines, with_retrieval)
    report.info["method"] = method
    return report


def format_report(report: EvalReport) -> str:
    """A readable table in the layout of the paper's Table 1 (percentages)."""
    s = report.summary
    pct = 100.0
    lines = [f"protocol {report.protocol}: {s.n} annotated samples"
             + (f" ({report.n_without_gt} without ground truth skipped)" if report.n_without_gt else ""),
             f"{'':34s}{'cIoU@0.5':>18s}{'AUC':>8s}{'mean cIoU':>11s}",
             f"{'model':34s}{f'{s.success * pct:.1f} [{s.ci_low * pct:.1f}, {s.ci_high * pct:.1f}]':>18s}"
             f"{s.auc * pct:8.1f}{s.mean_ciou * pct:11.1f}"]
    if report.baselines:
        r, c = report.baselines["random"], report.baselines["centre"]
        rand = f"{r['success'] * pct:.1f} ± {r['success_std'] * pct:.1f}"
        cen = f"{c['success'] * pct:.1f}"
        lines.append(f"{'random pattern (mean ± std)':34s}{rand:>18s}{r['auc'] * pct:8.1f}")
        lines.append(f"{'centre box (half the sides)':34s}{cen:>18s}{c['auc'] * pct:8.1f}"
                     f"{c['mean_ciou'] * pct:11.1f}")
    if report.controls:
        labels = {"attention": "attention α", "cosine": "cosine map"}
        for name, rows in report.controls.items():
            lines.append(f"{labels[name]} with:")
            for audio in AUDIO_CONTROLS:
                r = rows[audio]
                ci = f"{r['success'] * pct:.1f} [{r['ci_low'] * pct:.1f}, {r['ci_high'] * pct:.1f}]"
                lines.append(f"{'  ' + audio + ' audio':34s}{ci:>18s}{r['auc'] * pct:8.1f}{r['mean_ciou'] * pct:11.1f}")
            g = rows["gain"]
            gain = f"{g['success'] * pct:+.1f} [{g['ci_low'] * pct:+.1f}, {g['ci_high'] * pct:+.1f}]"
            lines.append(f"{'  sound gain (matched − mismatched)':35s} {gain:>16s}")
    if report.retrieval:
        rt = report.retrieval
        lines.append(f"retrieval ({rt['labelled_queries']} labelled queries): top-k success, %")
        lines.append(f"{'':12s}{'image→audio':>14s}{'audio→image':>14s}{'chance':>10s}")
        for k in rt["image_to_audio"]:
            i2a, a2i = rt["image_to_audio"][k] * pct, rt["audio_to_image"][k] * pct
            lines.append(f"{f'top-{k}':12s}{i2a:14.1f}{a2i:14.1f}{rt['random'][k] * pct:10.1f}")
    return "\n".join(lines)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{path}: the folder {parent} does not exist; create it or choose another path")
    try:
        with atomic_path(path) as tmp:
            write(tmp)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror}); choose a writable path") from None
    return path


def write_json(report: EvalReport, path: str | Path) -> Path:
    """Write ``report.to_dict()`` as JSON (atomically)."""
    text = json.dumps(report.to_dict(), indent=2)
    return _atomic_write(Path(path), lambda p: p.write_text(text))


def plot_success_curve(curves: dict[str, list[float]], path: str | Path,
                       thresholds: np.ndarray = metrics.CURVE_THRESHOLDS,
                       size: tuple[int, int] = (640, 480)) -> Path:
    """Draw success rate vs cIoU threshold for one or more named curves into a PNG (with OpenCV)."""
    import cv2

    w, h = size
    ml, mr, mt, mb = 60, 20, 34, 50
    img = np.full((h, w, 3), 255, np.uint8)
    pw, ph = w - ml - mr, h - mt - mb

    def xy(t: float, s: float) -> tuple[int, int]:
        return int(ml + t * pw), int(mt + (1 - s) * ph)

    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    for v in np.linspace(0, 1, 6):
        cv2.line(img, xy(v, 0), xy(v, 1), (225, 225, 225), 1)
        cv2.line(img, xy(0, v), xy(1, v), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.1f}", (xy(v, 0)[0] - 12, h - mb + 18), font, 0.4, black, 1)
        cv2.putText(img, f"{v:.1f}", (ml - 32, xy(0, v)[1] + 4), font, 0.4, black, 1)
    cv2.rectangle(img, xy(0, 1), xy(1, 0), black, 1)
    cv2.putText(img, "cIoU threshold", (ml + pw // 2 - 50, h - 12), font, 0.5, black, 1)
    cv2.putText(img, "success rate", (4, 16), font, 0.45, black, 1)
    palette = [(200, 60, 30), (40, 150, 40), (30, 30, 200), (150, 40, 150), (0, 140, 220), (100, 100, 100)]
    for n, (name, curve) in enumerate(curves.items()):
        colour = palette[n % len(palette)]
        pts = np.array([xy(t, s) for t, s in zip(thresholds, curve, strict=True)], np.int32)
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
        cv2.putText(img, name, (w - mr - 200, mt + 18 + 18 * n), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)

    def write(p: Path) -> None:
        ok, buf = cv2.imencode(".png", img)
        if not ok:
            raise OSError(5, "OpenCV could not encode the PNG")
        p.write_bytes(png_with_mark(buf.tobytes()))  # a later run may replace it (common.ownership)

    return _atomic_write(Path(path), write)


def report_curves(report: EvalReport) -> dict[str, list[float]]:
    """The model's and the baselines' success curves, named with their AUC, for ``plot_success_curve``."""
    curves = {f"model (AUC {report.summary.auc * 100:.1f})": report.summary.curve}
    method = report.info.get("method", "attention")
    if report.controls and method in report.controls:
        m = report.controls[method]["mismatched"]
        curves[f"mismatched audio (AUC {m['auc'] * 100:.1f})"] = m["curve"]
    if report.baselines:
        for name in ("centre", "random"):
            b = report.baselines[name]
            curves[f"{name} (AUC {b['auc'] * 100:.1f})"] = b["curve"]
    return curves
