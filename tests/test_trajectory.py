"""The trajectory JSON contract: what players and editors read and write back."""

import json

import numpy as np
import pytest

from common.errors import InputError
from pano.paths.trajectory import SCHEMA, Trajectory


def test_round_trip_keeps_unknown_keys(tmp_path):
    path = tmp_path / "edited.json"
    doc = {
        "schema": SCHEMA, "editor": {"name": "someone's player"},
        "generator": {"name": "pano-pan"}, "source": {"path": "in.mp4", "fps": 30.0},
        "fov": {"horizontal": 65.5, "vertical": 39.8},
        "samples": [{"frame": i, "t": i / 30, "yaw": 10.0 * i, "pitch": 1.0, "note": f"k{i}"} for i in range(4)],
    }
    path.write_text(json.dumps(doc))
    traj = Trajectory.load(path)
    assert np.allclose(traj.yaw, [0, 10, 20, 30]) and np.allclose(traj.hfov, 65.5)
    traj.save(tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["editor"] == {"name": "someone's player"}
    assert [s["note"] for s in again["samples"]] == ["k0", "k1", "k2", "k3"]
    assert set(again["samples"][0]) >= {"frame", "t", "yaw", "pitch", "roll", "hfov", "vfov", "confidence"}


@pytest.mark.parametrize("text,fragment", [
    ("not json", "not valid JSON"),
    (json.dumps({"schema": "other"}), "not a pano-pan trajectory"),
    (json.dumps({"schema": SCHEMA, "samples": []}), "no samples"),
    (json.dumps({"schema": SCHEMA, "samples": [{"t": 0, "yaw": "left"}]}), "sample 0"),
])
def test_bad_files_are_refused_with_the_file_named(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=fragment) as err:
        Trajectory.load(path)
    assert "bad.json" in str(err.value)


def test_subject_boxes_as_an_array_write_the_same_json_as_per_sample_keys(tmp_path):
    """The pipeline hands the composed-on boxes as an (N, 4) array (a dict per sample cost ~0.5 KB of
    memory each on long videos); the file is byte for byte what per-sample ``subject`` keys wrote."""
    import numpy as np

    from pano.paths.trajectory import Trajectory

    n = 6
    boxes = np.full((n, 4), np.nan)
    boxes[1:4] = [[10.123, -5.0, 30.456, 40.0], [11.0, -4.994, 31.0, 41.0], [12.5, -4.0, 32.0, 42.0]]
    common = dict(t=np.arange(n) / 30, yaw=np.linspace(0, 5, n), pitch=np.zeros(n), hfov=65.5, vfov=39.8,
                  cut=np.eye(n, dtype=bool)[3], source={"fps": 30.0})
    extras = [{"subject": [round(float(v), 2) for v in b]} if np.all(np.isfinite(b)) else {} for b in boxes]
    Trajectory(**common, sample_extra=extras).save(tmp_path / "dicts.json")
    Trajectory(**common, subject=boxes).save(tmp_path / "array.json")
    assert (tmp_path / "array.json").read_bytes() == (tmp_path / "dicts.json").read_bytes()
    back = Trajectory.load(tmp_path / "array.json")
    assert back.sample(2)["subject"] == [11.0, -4.99, 31.0, 41.0] and "subject" not in back.sample(0)
