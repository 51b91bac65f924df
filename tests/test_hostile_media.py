"""Odd media and rough messages (issue 23, items 16 and 17): what a user is told must be what is true."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_hostile_inputs import one_error_line, pano

from clips import foa_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return foa_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=1.0, size=(120, 240))


# ---------------------------------------------------------------- item 16: damaged, not "no audio"
@pytest.mark.parametrize("command", ["run", "inspect"])
def test_a_header_of_garbage_is_reported_as_damage(tmp_path, clip, capsys, command):
    data = clip.read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, len(data) - 1024, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[:1024] + noise)
    args = [bad, "-o", tmp_path / "out"] if command == "run" else ["inspect", bad]
    code, err = pano(capsys, *args)
    assert code == 2
    line = one_error_line(err, str(bad), "damaged")
    assert "no audio" not in line
