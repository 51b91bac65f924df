"""Trajectory exports for other tools: ffmpeg ``v360`` + ``sendcmd`` scripts, CSV, and a PNG plot.

The JSON (``pano.trajectory``) is the contract; these are conveniences for people who edit in a
spreadsheet or render with stock ffmpeg instead of pano-pan. Every file is written through
``atomic_output`` so a failure never leaves a truncated export under its final name.
"""

from __future__ import annotations

import csv
import math
import os
import shlex
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.ownership import CSV_HEADER
from pano.exporters import Exporter, ExportJob
from pano.outputs import atomic_output
from pano.trajectory import SAMPLE_KEYS, Trajectory

__all__ = ["write_csv", "read_csv", "write_ffmpeg", "ffmpeg_filter_escape", "CsvExporter", "FfmpegExporter"]


# --------------------------------------------------------------------- CSV
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


def read_csv(path: str | Path) -> Trajectory:
    """Read a CSV written by :func:`write_csv` (or by hand: needs t, yaw, pitch; others optional)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such CSV file; check the path")
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


# ------------------------------------------------------------------ ffmpeg
def ffmpeg_filter_escape(value: str) -> str:
    """Escape a string for use as an option value inside an ffmpeg filtergraph (both levels)."""
    opt = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    out = []
    for ch in opt:
        if ch in "\\'[],;":
            out.append("\\")
        out.append(ch)
    return "".join(out)


def write_ffmpeg(
    traj: Trajectory,
    path_prefix: str | Path,
    input_name: str,
    output_name: str | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, Path]:
    """Write ``<prefix>.sendcmd.txt`` and ``<prefix>.ffmpeg.sh`` that render the path with stock ffmpeg.

    The script runs ``sendcmd`` (per-frame ``yaw``/``pitch``/``roll`` and, when the path zooms,
    ``h_fov``/``v_fov``) in front of ``v360=e:flat:...:reset_rot=1``; ``reset_rot`` makes each command
    an absolute angle rather than a rotation added to the last one, so at a cut (a sample with
    ``cut``) the view jumps to the new shot in one frame, marked by a ``# cut`` comment. Command times
    sit half a frame before each frame's timestamp so rounding can never delay a command by a frame,
    and frames that do not change the view are skipped (every v360 command rebuilds its remap table).
    Returns ``{"sendcmd": path, "script": path}``.
    """
    if len(traj) == 0:
        raise InputError("the trajectory has no samples; nothing to export")
    prefix = Path(path_prefix)
    cmd_path = prefix.with_name(prefix.name + ".sendcmd.txt")
    sh_path = prefix.with_name(prefix.name + ".ffmpeg.sh")
    fps = float(traj.source.get("fps") or 0) or _median_fps(traj.t)
    half = 0.5 / fps
    zooms = bool(np.ptp(traj.hfov) > 1e-6 or np.ptp(traj.vfov) > 1e-6)
    keys = ["yaw", "pitch", "roll"] + (["h_fov", "v_fov"] if zooms else [])
    cols = {"yaw": traj.yaw, "pitch": traj.pitch, "roll": traj.roll, "h_fov": traj.hfov, "v_fov": traj.vfov}
    lines = [
        "# pano-pan camera path for ffmpeg sendcmd + v360 (absolute angles, reset_rot=1).",
        f"# {len(traj)} frames; times are frame timestamps minus half a frame.",
    ]
    last: list[str] | None = None
    for i in range(len(traj)):
        vals = [f"{float(cols[k][i]):.3f}" for k in keys]
        if vals == last:
            continue
        last = vals
        t = max(0.0, float(traj.t[i]) - half)
        cmds = ", ".join(f"v360 {k} {v}" for k, v in zip(keys, vals, strict=True))
        if traj.cut[i]:
            lines.append(f"# cut: a new shot at frame {int(traj.frame[i])}")
        lines.append(f"{t:.6f} {cmds};")
    if size is None:
        from pano.context import output_geometry

        src_width = int(traj.source.get("width") or 3840)
        size = output_geometry(src_width, float(traj.hfov[0]), float(traj.vfov[0])).size
    w, h = size
    v360 = (
        f"v360=e:flat:yaw={traj.yaw[0]:.3f}:pitch={traj.pitch[0]:.3f}:roll={traj.roll[0]:.3f}"
        f":h_fov={traj.hfov[0]:.3f}:v_fov={traj.vfov[0]:.3f}:w={int(w)}:h={int(h)}:reset_rot=1"
    )
    vf = f"sendcmd=f={ffmpeg_filter_escape(str(cmd_path.resolve()))},{v360}"
    # Absolute paths (quoted below), so the script works from any folder, not only the one it was made in.
    out_name = os.path.abspath(output_name or prefix.with_name(prefix.name + ".ffmpeg.mp4"))
    argv = ["ffmpeg", "-hide_banner", "-i", os.path.abspath(input_name), "-vf", vf, "-c:a", "copy", out_name]
    script = (
        "#!/bin/sh\n"
        "# Render a pano-pan trajectory with stock ffmpeg (v360 + sendcmd).\n"
        "# Extra arguments go to ffmpeg just before the output name, e.g. -y or -t 5.\n"
        f'exec {shlex.join(argv[:-1])} "$@" {shlex.quote(argv[-1])}\n'
    )
    with atomic_output(cmd_path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    with atomic_output(sh_path) as tmp:
        tmp.write_text(script)
        tmp.chmod(0o755)
    return {"sendcmd": cmd_path, "script": sh_path}


def _median_fps(t: np.ndarray) -> float:
    d = np.diff(np.asarray(t, dtype=np.float64))
    d = d[d > 0]
    return float(1.0 / np.median(d)) if len(d) else 30.0


class CsvExporter(Exporter):
    """``<stem>.trajectory.csv``: one row per frame, for spreadsheets and editors."""

    name = "csv"
    suffixes = (".trajectory.csv",)

    def write(self, job: ExportJob) -> list[Path]:
        return [write_csv(job.trajectory, job.path(self.suffixes[0]))]


class FfmpegExporter(Exporter):
    """``<stem>.sendcmd.txt`` + ``<stem>.ffmpeg.sh``: the same path rendered by stock ffmpeg's v360."""

    name = "ffmpeg"
    suffixes = (".sendcmd.txt", ".ffmpeg.sh")

    def write(self, job: ExportJob) -> list[Path]:
        media = self.ctx.media
        if media is None:
            raise InputError("the ffmpeg export needs the input video; export from a run")
        paths = write_ffmpeg(job.trajectory, job.prefix, str(media.path), size=self.ctx.geometry.size)
        return [paths["sendcmd"], paths["script"]]
