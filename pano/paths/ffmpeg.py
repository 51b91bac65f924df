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
from pano.sphere.views import output_geometry

__all__ = ["write_ffmpeg", "ffmpeg_filter_escape", "FfmpegExporter"]


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
        t = max(0.0, float(traj.t[i]) - offset - half)
        cmds = ", ".join(f"v360 {k} {v}" for k, v in zip(keys, vals, strict=True))
        if traj.cut[i]:
            lines.append(f"# cut: a new shot at frame {int(traj.frame[i])}")
        lines.append(f"{t:.6f} {cmds};")
    if size is None:  # the size pano-pan render gives this path (a source the JSON does not record: 720 lines)
        src = traj.source
        size = output_geometry(int(src.get("width") or 0), float(traj.hfov[0]), float(traj.vfov[0]),
                               src_height=int(src.get("height") or 0) or None).size
    w, h = size
    v360 = (
        f"v360=e:flat:yaw={traj.yaw[0]:.3f}:pitch={traj.pitch[0]:.3f}:roll={traj.roll[0]:.3f}"
        f":h_fov={traj.hfov[0]:.3f}:v_fov={traj.vfov[0]:.3f}:w={int(w)}:h={int(h)}:reset_rot=1"
    )
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
