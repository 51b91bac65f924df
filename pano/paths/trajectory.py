"""The camera path and its JSON contract, ``pano-pan/trajectory@1``.

External players and editors read this file, so the writer keeps every documented key and the reader
accepts unknown extra keys (and keeps them, so a round trip through an editor loses nothing).
A sample may carry ``"cut": true``: it is the first frame of a new shot, and the view jumps there
instead of panning (players should not interpolate across it).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError
from common.files import read_json, require_regular_file
from common.outputs import atomic_output
from common.ownership import CSV_HEADER

SCHEMA = "pano-pan/trajectory@1"
SAMPLE_KEYS = ("frame", "t", "yaw", "pitch", "roll", "hfov", "vfov", "confidence")


@dataclass
class Trajectory:
    """A camera path with one sample per source frame; arrays are float64 of equal length."""

    t: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    hfov: np.ndarray
    vfov: np.ndarray
    roll: np.ndarray | None = None
    confidence: np.ndarray | None = None
    frame: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    sample_extra: list[dict[str, Any]] | None = None
    cut: np.ndarray | None = None  # (N,) bool: the sample starts a new shot
    # (N, 4) [yaw, pitch, width, height] degrees: the subject box each sample was composed on (NaN rows:
    # none), written as the sample's ``subject`` key. An array, not a dict per sample in sample_extra: a
    # two-hour run has 216 000 samples, and a dict and list per sample cost about 0.5 KB each.
    subject: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.t)
        as_f = lambda a, default: np.full(n, default, float) if a is None else np.asarray(a, float).reshape(n)  # noqa: E731
        self.t = np.asarray(self.t, float).reshape(n)
        self.yaw = as_f(self.yaw, 0.0)
        self.pitch = as_f(self.pitch, 0.0)
        self.hfov = np.broadcast_to(np.asarray(self.hfov, float), (n,)).copy()
        self.vfov = np.broadcast_to(np.asarray(self.vfov, float), (n,)).copy()
        self.roll = as_f(self.roll, 0.0)
        self.confidence = as_f(self.confidence, 0.0)
        self.frame = np.arange(n) if self.frame is None else np.asarray(self.frame, int).reshape(n)
        self.cut = np.zeros(n, bool) if self.cut is None else np.asarray(self.cut, bool).reshape(n)
        if self.subject is not None:  # float32 boxes (the planner's) stay float32: exact, and half the size
            sub = np.asarray(self.subject)
            self.subject = sub.reshape(n, 4) if sub.dtype == np.float32 else np.asarray(sub, float).reshape(n, 4)

    def __len__(self) -> int:
        return len(self.t)

    def sample(self, i: int) -> dict[str, Any]:
        """Sample ``i`` as it appears in the JSON (with any extra keys it was read with)."""
        s = dict(self.sample_extra[i]) if self.sample_extra else {}
        if self.subject is not None and np.all(np.isfinite(self.subject[i])):
            s = {"subject": [round(float(v), 2) for v in self.subject[i]]} | s
        s.update(
            frame=int(self.frame[i]),
            t=round(float(self.t[i]), 6),
            yaw=round(float(self.yaw[i]), 4),
            pitch=round(float(self.pitch[i]), 4),
            roll=round(float(self.roll[i]), 4),
            hfov=round(float(self.hfov[i]), 4),
            vfov=round(float(self.vfov[i]), 4),
            confidence=round(float(self.confidence[i]), 4),
        )
        s.pop("cut", None)
        if self.cut[i]:
            s["cut"] = True
        return s

    def _header(self) -> dict[str, Any]:
        hfov0 = float(self.hfov[0]) if len(self) else 0.0
        vfov0 = float(self.vfov[0]) if len(self) else 0.0
        out = dict(self.extra)
        out.update(
            schema=SCHEMA,
            generator=self.generator,
            source=self.source,
            fov={"horizontal": round(hfov0, 4), "vertical": round(vfov0, 4)},
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return self._header() | {"samples": [self.sample(i) for i in range(len(self))]}

    def save(self, path: str | Path) -> Path:
        """Write the JSON atomically, one sample per line.

        Samples are streamed rather than built as one document, so a long video's trajectory never
        exists twice in memory, and a line per frame keeps hand edits and diffs readable.
        """
        path = Path(path)
        with atomic_output(path) as tmp, open(tmp, "w") as fh:
            fh.write("{\n")
            for key, value in self._header().items():
                fh.write(f" {json.dumps(key)}: {json.dumps(value, allow_nan=False)},\n")
            fh.write(' "samples": [')
            for i in range(len(self)):
                fh.write(("\n  " if i == 0 else ",\n  ") + json.dumps(self.sample(i), allow_nan=False))
            fh.write("\n ]\n}\n")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "trajectory") -> Trajectory:
        if isinstance(data, dict) and data.get("schema") == DEMO_TRUTH:
            data = _truth_as_trajectory(data)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise InputError(
                f"{origin}: not a pano-pan trajectory (expected \"schema\": \"{SCHEMA}\"); "
                "pass a file written by pano-pan or one that follows README's trajectory format"
            )
        samples = data.get("samples")
        if not isinstance(samples, list) or not samples:
            raise InputError(f"{origin}: the trajectory has no samples; it needs one per video frame")
        fov = data.get("fov") or {}
        cols: dict[str, list[float]] = {k: [] for k in SAMPLE_KEYS}
        extras: list[dict[str, Any]] = []
        cuts: list[bool] = []
        for i, s in enumerate(samples):
            try:
                cols["t"].append(float(s["t"]))
                cols["yaw"].append(float(s["yaw"]))
                cols["pitch"].append(float(s["pitch"]))
                cols["frame"].append(int(s.get("frame", i)))
                cols["roll"].append(float(s.get("roll", 0.0)))
                cols["hfov"].append(float(s.get("hfov", fov.get("horizontal", 65.5))))
                cols["vfov"].append(float(s.get("vfov", fov.get("vertical", 39.8))))
                cols["confidence"].append(float(s.get("confidence", 0.0)))
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(
                    f"{origin}: sample {i} is malformed ({exc!r}); each sample needs numeric t, yaw and pitch"
                ) from None
            if not all(math.isfinite(cols[k][-1]) for k in ("t", "yaw", "pitch", "hfov", "vfov")):
                raise InputError(f"{origin}: sample {i} has a non-finite value; fix or remove it")
            cuts.append(s.get("cut") is True)
            extras.append({k: v for k, v in s.items() if k not in SAMPLE_KEYS and k != "cut"})
        known = {"schema", "generator", "source", "fov", "samples"}
        return cls(
            t=np.array(cols["t"]),
            yaw=np.array(cols["yaw"]),
            pitch=np.array(cols["pitch"]),
            hfov=np.array(cols["hfov"]),
            vfov=np.array(cols["vfov"]),
            roll=np.array(cols["roll"]),
            confidence=np.array(cols["confidence"]),
            frame=np.array(cols["frame"]),
            source=dict(data.get("source") or {}),
            generator=dict(data.get("generator") or {}),
            extra={k: v for k, v in data.items() if k not in known},
            sample_extra=extras if any(extras) else None,
            cut=np.array(cuts, bool),
        )

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        """A trajectory JSON, or a CSV written by ``pano.paths.ffmpeg.write_csv`` (told apart by suffix)."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return read_csv(path)
        data = read_json(path, "trajectory file", "pass a trajectory written by pano-pan")
        return cls.from_dict(data, origin=str(path))


_NEAREST_CHUNK = 1 << 16


def nearest_samples(sample_t: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``times``, the index of the sample nearest in time and how far it is (seconds).

    The contract matches samples to frames by ``t``, never by position: a hand-edited file may have
    fewer or more samples than the video has frames, or list them out of order.
    """
    sample_t = np.asarray(sample_t, float)
    times = np.asarray(times, float)
    order = np.argsort(sample_t, kind="stable")
    st = sample_t[order]
    if len(st) == 1:
        return np.zeros(len(times), int), np.abs(times - st[0])
    # A chunk of times at a time: the whole video's temporaries at once (~60 bytes a frame, 13 MB for two
    # hours, at the start of the render) would stay in the heap after they are freed.
    index, gap = np.empty(len(times), order.dtype), np.empty(len(times))
    for a in range(0, len(times), _NEAREST_CHUNK):
        t = times[a : a + _NEAREST_CHUNK]
        j = np.clip(np.searchsorted(st, t), 1, len(st) - 1)
        left_closer = np.abs(t - st[j - 1]) <= np.abs(st[j] - t)
        pick = np.where(left_closer, j - 1, j)
        index[a : a + len(t)] = order[pick]
        gap[a : a + len(t)] = np.abs(st[pick] - t)
    return index, gap


def validate_views(traj: Trajectory, origin: str = "trajectory") -> None:
    """Refuse view values no renderer can show sensibly (the ranges ``run`` accepts for --fov)."""
    checks = (
        ("hfov", traj.hfov, 1.0, 170.0, "a horizontal field of view between 1 and 170 degrees"),
        ("vfov", traj.vfov, 1.0, 170.0, "a vertical field of view between 1 and 170 degrees"),
        ("pitch", traj.pitch, -90.0, 90.0, "a pitch between -90 (down) and 90 (up) degrees"),
        ("roll", traj.roll, -180.0, 180.0, "a roll between -180 and 180 degrees"),
    )
    for key, values, lo, hi, what in checks:
        bad = np.flatnonzero(~((values >= lo) & (values <= hi)))
        if len(bad):
            i = int(bad[0])
            raise InputError(
                f"{origin}: sample {i} (frame {int(traj.frame[i])}) has {key} {float(values[i]):g}; each "
                f"sample needs {what} ({len(bad)} sample(s) out of range)"
            )
    if not np.all(np.isfinite(traj.yaw)):
        raise InputError(f"{origin}: a yaw is not a finite number; fix or remove that sample")


# ------------------------------------------------------------- the CSV form
def write_csv(traj: Trajectory, path: str | Path) -> Path:
    """One row per frame: frame,t,yaw,pitch,roll,hfov,vfov,confidence (same rounding as the JSON), cut
    (1 on the first frame of a new shot, else 0)."""
    path = Path(path)
    digits = {"t": 6, "yaw": 4, "pitch": 4, "roll": 4, "hfov": 4, "vfov": 4, "confidence": 4}
    cols = {k: getattr(traj, k) for k in SAMPLE_KEYS}
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADER.split(","))  # the header is also pano-pan's mark on the file
        for i in range(len(traj)):
            w.writerow(
                [int(cols["frame"][i])]
                + [_fmt(float(cols[k][i]), digits[k]) for k in SAMPLE_KEYS if k != "frame"]
                + [int(traj.cut[i])]
            )
    return path


def _fmt(x: float, digits: int) -> str:
    r = round(x, digits)
    return repr(0.0 if r == 0 else r)


DEMO_TRUTH = "pano-pan/demo-truth@1"  # examples/make_demo.py's ground truth: where the sound source is


def _truth_as_trajectory(truth: dict[str, Any]) -> dict[str, Any]:
    """The demo's ground truth read as a path that looks at the sound source in every frame, so
    ``pano-pan compare out/demo360.trajectory.json examples/demo360.truth.json`` scores a run."""
    frames = truth.get("frames") if isinstance(truth.get("frames"), list) else []
    keep = ("frame", "t", "yaw", "pitch")
    return {"schema": SCHEMA, "generator": {"name": str(truth.get("generator", "demo truth"))},
            "source": {"fps": (truth.get("video") or {}).get("fps")},
            "samples": [{k: f[k] for k in keep if k in f} for f in frames if isinstance(f, dict)]}


def read_csv(path: str | Path) -> Trajectory:
    """Read a CSV written by :func:`write_csv` (or by hand: needs t, yaw, pitch; others optional)."""
    path = require_regular_file(path, "CSV file")
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc}); export one with pano-pan") from None
    if not rows or not {"t", "yaw", "pitch"} <= set(rows[0]):
        raise InputError(
            f"{path}: needs a header with at least t, yaw and pitch columns and one row per frame"
        )
    defaults = {"roll": 0.0, "hfov": 65.5, "vfov": 39.8, "confidence": 0.0}
    data: dict[str, list[float]] = {k: [] for k in SAMPLE_KEYS}
    cut: list[bool] = []
    for i, row in enumerate(rows):
        try:
            data["frame"].append(int(row.get("frame") or i))
            for k in ("t", "yaw", "pitch"):
                data[k].append(float(row[k]))
            for k, d in defaults.items():
                v = row.get(k)
                data[k].append(float(v) if v not in (None, "") else d)
            cut.append((row.get("cut") or "0").strip().lower() in ("1", "true", "yes"))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: row {i + 2} is malformed ({exc}); fix or remove it") from None
        if not all(math.isfinite(data[k][-1]) for k in ("t", "yaw", "pitch", "hfov", "vfov")):
            raise InputError(f"{path}: row {i + 2} has a non-finite value; fix or remove it")
    return Trajectory(**{k: np.array(v) for k, v in data.items()}, cut=np.array(cut, bool))
