"""Hostile use, round 3 (issue 23): outputs that are not regular files, a size whose aspect differs
from the path's, leftovers of killed runs, names too long for the file system."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_hostile_inputs import listing, one_error_line, pano

from clips import foa_clip
from pano.paths.trajectory import Trajectory


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=1.0, size=(240, 480), yaw=0.0)


def still_path(clip: Path, yaw: float = 0.0) -> Trajectory:
    from pano.media.video import read_frame_times

    t = read_frame_times(clip)
    traj = Trajectory(t=t, yaw=np.full(len(t), yaw), pitch=np.zeros(len(t)), hfov=65.5, vfov=39.8)
    traj.generator = {"name": "pano-pan"}
    return traj


# ---------------------------------------------------------------- item 4: only regular files are replaced
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_overwrite_never_replaces_a_device_or_a_pipe(tmp_path, clip, capsys, kind):
    import stat

    node = tmp_path / "node.mp4"
    if kind == "fifo":
        os.mkfifo(node)
    else:
        try:
            os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
        except PermissionError:
            pytest.skip("making a device node needs root")
    traj = tmp_path / "t.json"
    still_path(clip).save(traj)
    code, err = pano(capsys, "render", clip, traj, "-o", node, "--overwrite", "-q")
    assert code == 2
    one_error_line(err, str(node), "not a regular file")
    mode = os.lstat(node).st_mode
    assert (stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode))
    assert listing(tmp_path) == ["node.mp4", "t.json"]


# ---------------------------------------------------------------- item 5: --size never stretches the picture
def disk_shape(frame: np.ndarray) -> float:
    """Width over height of the red disk in an RGB frame."""
    red = (frame[..., 0] > 180) & (frame[..., 1] < 120) & (frame[..., 2] < 120)
    rows, cols = np.nonzero(red)
    assert len(rows) > 50, "the disk is not in view"
    return (cols.max() - cols.min() + 1) / (rows.max() - rows.min() + 1)


@pytest.mark.parametrize("size", ["360x640", "640x360", "480x480"])
def test_render_size_of_another_aspect_keeps_the_disk_round(tmp_path, clip, capsys, size):
    from pano.media.video import iter_frames

    traj = tmp_path / "t.json"
    still_path(clip).save(traj)
    out = tmp_path / "out.mp4"
    code, err = pano(capsys, "render", clip, traj, "-o", out, "--size", size)
    assert code == 0, err
    _, _, frame = next(iter(iter_frames(out)))
    assert frame.shape[1::-1] == tuple(int(v) for v in size.split("x"))
    assert disk_shape(frame) == pytest.approx(1.0, abs=0.15)
