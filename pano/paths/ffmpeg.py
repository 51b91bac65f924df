"""The ffmpeg export: a ``v360`` + ``sendcmd`` script that renders the same path with stock ffmpeg.

The JSON (``pano.paths.trajectory``) is the contract; this is a convenience for people who render with
stock ffmpeg instead of pano-pan. Every file is written through
``atomic_output`` so a failure never leaves a truncated export under its final name.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import numpy as np

from common.errors import InputError
from common.outputs import atomic_output
from pano.paths.exporters import Exporter, ExportJob
from pano.paths.trajectory import Trajectory
from pano.run.names import OutputNames
from pano.sphere.geometry import wrap_yaw
from pano.sphere.views import output_geometry

__all__ = ["write_ffmpeg", "ffmpeg_filter_escape", "FfmpegExporter", "thin_views", "TOLERANCE"]

# Largest difference, in degrees of each angle (yaw, pitch, roll, h_fov, v_fov), between the view the
# script shows on a frame and the trajectory's. v360 rebuilds its whole remap table on every command
# (about as costly as encoding several frames), so a command per frame made the script ~12× slower
# than a fixed view; holding a view until the path leaves this band keeps still shots and slow drifts
# at a few commands. 0.25° is about 5 pixels of a 1280-wide 65.5° view.
TOLERANCE = 0.25


def thin_views(values: np.ndarray, cuts: np.ndarray, tolerance: float = TOLERANCE,
               wrap_first: bool = True) -> list[tuple[int, np.ndarray]]:
    """``(first frame, view)`` segments whose one view is within ``tolerance`` of every frame's.

    ``values`` is ``(N, K)`` angles (with ``wrap_first``, yaw first, unwrapped here so ±180° is no
    jump); a segment grows
    while every column's range over it stays within ``2 × tolerance`` and shows its range's middle. A
    cut always starts a segment. ``tolerance`` 0 keeps every frame whose view changed.
    """
    v = np.array(values, dtype=np.float64).reshape(len(values), -1)
    if wrap_first and v.shape[1]:
        v[:, 0] = np.rad2deg(np.unwrap(np.deg2rad(v[:, 0])))
    out: list[tuple[int, np.ndarray]] = []
    start, lo, hi = 0, v[0].copy(), v[0].copy()
    for i in range(1, len(v) + 1):
        if i < len(v) and not cuts[i]:
            nlo, nhi = np.minimum(lo, v[i]), np.maximum(hi, v[i])
            if np.all(nhi - nlo <= 2 * tolerance + 1e-9):
                lo, hi = nlo, nhi
                continue
        mid = (lo + hi) / 2
        if wrap_first and len(mid):
            mid[0] = wrap_yaw(mid[0])
        out.append((start, mid))
        if i < len(v):
            start, lo, hi = i, v[i].copy(), v[i].copy()
    return out


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
    tolerance: float = TOLERANCE,
) -> dict[str, Path]:
    """Write ``<prefix>.sendcmd.txt`` and ``<prefix>.ffmpeg.sh`` that render the path with stock ffmpeg.

    The script runs ``sendcmd`` (per-frame ``yaw``/``pitch``/``roll`` and, when the path zooms,
    ``h_fov``/``v_fov``) in front of ``v360=e:flat:...:reset_rot=1``; ``reset_rot`` makes each command
    an absolute angle rather than a rotation added to the last one, so at a cut (a sample with
    ``cut``) the view jumps to the new shot in one frame, marked by a ``# cut`` comment. Command times
    sit half a frame before each frame's timestamp so rounding can never delay a command by a frame,
    and a view is held until the path leaves a ±``tolerance``° band (:func:`thin_views`), since every
    v360 command rebuilds its remap table.
    A trajectory of a ``--start/--end`` run (``source.segment``) renders that segment: the script seeks
    the input (``-ss``/``-to``) and the command times count from the segment's start, as the output's do.
    Returns ``{"sendcmd": path, "script": path}``.
    """
    if len(traj) == 0:
        raise InputError("the trajectory has no samples; nothing to export")
    prefix = Path(path_prefix)
    names = OutputNames(prefix)
    cmd_path, sh_path = names.path(".sendcmd.txt"), names.path(".ffmpeg.sh")
    fps = float(traj.source.get("fps") or 0) or _median_fps(traj.t)
    segment = traj.source.get("segment")
    offset = float(segment[0]) if segment else 0.0
    half = 0.5 / fps
    zooms = bool(np.ptp(traj.hfov) > 1e-6 or np.ptp(traj.vfov) > 1e-6)
    cuts = np.asarray(traj.cut, bool)
    shift = _shift_width(traj, tolerance)
    keys = (["pitch", "roll"] if shift else ["yaw", "pitch", "roll"]) + (["h_fov", "v_fov"] if zooms else [])
    cols = {"yaw": traj.yaw, "pitch": traj.pitch, "roll": traj.roll, "h_fov": traj.hfov, "v_fov": traj.vfov}
    lines = [
        "# pano-pan camera path for ffmpeg sendcmd + v360 (absolute angles, reset_rot=1).",
        f"# {len(traj)} frames; times are frame timestamps minus half a frame.",
        f"# A v360 command only when the view leaves a ±{tolerance:g}° band (and at every cut): on every frame",
        f"# each angle ({', '.join(keys)}) is within {tolerance:g}° of pano-pan's path.",
    ]
    if shift:
        lines += ["# Yaw turns the panorama instead (crop x on the panorama beside itself: no v360 rebuild),",
                  f"# in whole panorama pixels: within {180 / shift:.3f}° of the path."]
    lines.append("# Pixels still differ from pano-pan's own render by v360's interpolation (bilinear by default).")
    events: dict[int, list[str]] = {}
    values = np.stack([np.asarray(cols[k], dtype=np.float64) for k in keys], axis=1)
    last: list[str] | None = None
    for i, view in thin_views(values, cuts, tolerance, wrap_first=not shift):
        vals = [f"{float(x):.3f}" for x in view]
        if vals != last or cuts[i]:
            events.setdefault(i, []).extend(f"v360 {k} {v}" for k, v in zip(keys, vals, strict=True))
        last = vals
    if shift:
        xs = _shift_columns(traj.yaw, shift)
        for i in range(len(xs)):
            if i == 0 or xs[i] != xs[i - 1] or cuts[i]:
                events.setdefault(i, []).insert(0, f"crop x {xs[i]}")
    for i in sorted(events):
        if cuts[i]:
            lines.append(f"# cut: a new shot at frame {int(traj.frame[i])}")
        lines.append(f"{max(0.0, float(traj.t[i]) - offset - half):.6f} {', '.join(events[i])};")
    if size is None:  # the size pano-pan render gives this path (a source the JSON does not record: 720 lines)
        src = traj.source
        size = output_geometry(int(src.get("width") or 0), float(traj.hfov[0]), float(traj.vfov[0]),
                               src_height=int(src.get("height") or 0) or None).size
    w, h = size
    v360 = (
        f"v360=e:flat:yaw={0.0 if shift else traj.yaw[0]:.3f}:pitch={traj.pitch[0]:.3f}:roll={traj.roll[0]:.3f}"
        f":h_fov={traj.hfov[0]:.3f}:v_fov={traj.vfov[0]:.3f}:w={int(w)}:h={int(h)}:reset_rot=1"
    )
    if shift:  # the panorama twice side by side, a window of one width sliding over it: yaw for free
        x0 = _shift_columns(traj.yaw[:1], shift)[0]
        v360 = f"split[a][b];[a][b]hstack,crop=w=iw/2:h=ih:x={x0}:y=0:exact=1,{v360}"
    vf = f"sendcmd=f={ffmpeg_filter_escape(str(cmd_path.resolve()))},{v360}"
    # Absolute paths (quoted below), so the script works from any folder, not only the one it was made in.
    out_name = os.path.abspath(output_name or names.path(".ffmpeg.mp4"))
    seek = []
    if segment:
        seek = ["-ss", f"{offset:.6f}"] + (["-to", f"{float(segment[1]):.6f}"] if segment[1] is not None else [])
    argv = ["ffmpeg", "-hide_banner", *seek, "-i", os.path.abspath(input_name), "-vf", vf, "-c:a", "copy", out_name]
    script = (
        "#!/bin/sh\n"
        "# Render a pano-pan trajectory with stock ffmpeg (v360 + sendcmd).\n"
        f"# Each angle of the view is within {tolerance:g} degrees of pano-pan's path on every frame (see the sendcmd\n"
        "# file); pixels differ from pano-pan's own render by v360's interpolation.\n"
        "# Extra arguments go to ffmpeg just before the output name, e.g. -y or -t 5.\n"
        f'exec {shlex.join(argv[:-1])} "$@" {shlex.quote(argv[-1])}\n'
    )
    with atomic_output(cmd_path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    with atomic_output(sh_path) as tmp:
        tmp.write_text(script)
        tmp.chmod(0o755)
    return {"sendcmd": cmd_path, "script": sh_path}


def _shift_width(traj: Trajectory, tolerance: float) -> int | None:
    """The panorama width when yaw can be a sliding window instead of v360 commands: a mono source of
    known width whose pixel (``360 / width`` degrees, rounding to half of it) fits the tolerance."""
    width = int(traj.source.get("width") or 0)
    mono = traj.source.get("stereo", "mono") == "mono"
    return width if mono and width >= 2 and 180.0 / width <= tolerance else None


def _shift_columns(yaw: np.ndarray, width: int) -> np.ndarray:
    """The window's left column in the doubled panorama that centres ``yaw`` (0° is the middle column)."""
    return np.round(np.mod(np.asarray(yaw, dtype=np.float64) / 360.0 * width, width)).astype(int) % width


def _median_fps(t: np.ndarray) -> float:
    d = np.diff(np.asarray(t, dtype=np.float64))
    d = d[d > 0]
    return float(1.0 / np.median(d)) if len(d) else 30.0


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
