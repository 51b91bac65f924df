"""What one ``pano-pan view`` session shows: a source video, its trajectory, and where edits go.

``pano-pan view`` accepts the source video, an output folder of ``pano-pan run``, or a trajectory
file; the trajectory records only the video's file name, so the video is looked for beside the
trajectory, one folder up and in the current folder before the user is asked to name it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from common.atomic import same_file
from common.errors import InputError
from common.files import require_regular_file
from pano.media.probe import MediaInfo, probe, require_equirectangular
from pano.paths.trajectory import Trajectory
from pano.run.names import TRAJECTORY, OutputNames
from pano.sphere.views import output_geometry


@dataclass
class Job:
    video: Path
    trajectory_path: Path
    trajectory: Trajectory
    base: Trajectory  # the automatic path the keyframes are applied to
    info: MediaInfo
    out_size: tuple[int, int]  # the NFOV size `pano-pan render` gives this path by default

    @property
    def stem(self) -> str:
        """The trajectory's name without ``.trajectory.json`` and without an ``.edit-N`` tag."""
        return OutputNames.of_trajectory(self.trajectory_path).base_stem

    def edit_path(self, number: int) -> Path:
        return OutputNames.of_trajectory(self.trajectory_path).edit(number).trajectory

    def next_edit_path(self) -> Path:
        """The first ``<stem>.edit-N.trajectory.json`` whose trajectory and render names are both free.

        A save never replaces another file, and the edit's render (``<stem>.edit-N.nfov.mp4``) never
        lands on a file already there, such as the source video itself when it carries that name.
        """
        n = 1
        while self._taken(OutputNames.of_trajectory(self.trajectory_path).edit(n)):
            n += 1
        return self.edit_path(n)

    def _taken(self, names: OutputNames) -> bool:
        return any(os.path.lexists(p) or same_file(p, self.video) for p in (names.trajectory, names.nfov))


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() not in (".json", ".csv")


def _find_trajectory(folder: Path) -> Path:
    found = sorted(p for p in folder.glob(f"*{TRAJECTORY}") if not p.name.startswith(".")
                   and not OutputNames.of_trajectory(p).is_edit)
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{folder}: no *{TRAJECTORY} in this folder; run 'pano-pan VIDEO -o {folder}' first "
                         "or pass --trajectory FILE")
    names = ", ".join(p.name for p in found)
    raise InputError(f"{folder}: several trajectories ({names}); choose one with --trajectory FILE")


def _find_video(traj_path: Path, traj: Trajectory) -> Path:
    name = str((traj.source or {}).get("path") or "")
    if not name:
        raise InputError(f"{traj_path}: the trajectory does not name its source video; "
                         f"pass it: pano-pan view VIDEO --trajectory {traj_path}")
    name = Path(name).name
    for folder in (traj_path.parent, traj_path.parent.parent, Path.cwd()):
        if (folder / name).is_file():
            return folder / name
    # a folder beside the output folder (the README's demo: examples/demo360.mp4 and out/), if just one has it
    up = traj_path.parent.parent
    try:
        beside = sorted(d / name for d in up.iterdir() if d.is_dir() and not d.name.startswith(".")
                        and (d / name).is_file())
    except OSError:
        beside = []
    if len(beside) == 1:
        return beside[0]
    raise InputError(f"{traj_path}: its source video {name} is not beside it, one folder up, in a folder beside "
                     f"it or in the current folder; pass it: pano-pan view path/to/{name} --trajectory {traj_path}")


def _base_of(traj_path: Path, traj: Trajectory) -> Trajectory:
    """An edit's automatic path (the file it was made from, when it is still there), else itself."""
    origin = (traj.generator.get("params") or {}).get("edited_from")
    if isinstance(origin, str) and origin:
        candidate = traj_path.with_name(Path(origin).name)
        if candidate.is_file() and candidate != traj_path:
            base = Trajectory.load(candidate)
            if len(base) == len(traj):
                return base
    return traj


def open_job(target: str | Path, trajectory: str | Path | None = None) -> Job:
    """Resolve ``pano-pan view TARGET [--trajectory FILE]`` into a job, or say what to pass instead."""
    target = Path(target)
    if not target.exists():
        raise InputError(f"{target}: no such file or folder; pass the 360° video or the folder 'pano-pan run' wrote")
    traj_path = Path(trajectory) if trajectory else None
    video: Path | None = None
    if not target.is_dir():
        require_regular_file(target, "file", folder_fix="pass the 360° video or the folder 'pano-pan run' wrote")
    if target.is_dir():
        traj_path = traj_path or _find_trajectory(target)
    elif target.name.endswith(".json"):
        traj_path = traj_path or target
    elif _is_video(target):
        video = target
        if traj_path is None:
            stem = target.stem
            candidates = [Path.cwd() / f"{stem}{TRAJECTORY}", target.with_name(f"{stem}{TRAJECTORY}")]
            traj_path = next((c for c in candidates if c.is_file()), None)
            if traj_path is None:
                raise InputError(f"{target}: no {stem}{TRAJECTORY} here or beside the video; pass --trajectory "
                                 f"FILE (e.g. out/{stem}{TRAJECTORY}) or the folder 'pano-pan run' wrote")
    traj = Trajectory.load(traj_path)
    video = video or _find_video(traj_path, traj)
    info = probe(video)
    require_equirectangular(info)
    hf, vf = float(traj.hfov[0]), float(traj.vfov[0])
    out = output_geometry(info.pano_size[0], hf, vf if vf > 0 else None, src_height=info.pano_size[1]).size
    return Job(video=video, trajectory_path=traj_path, trajectory=traj, base=_base_of(traj_path, traj),
               info=info, out_size=out)
