"""The plugin contract: a new localizer is one file plus one registration line; options are validated
up front with one-line errors; listing plugins imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from cli.main import main
from clips import foa_clip
from common.errors import OptionError
from pano.localizers.base import LOCALIZERS
from pano.paths.exporters import EXPORTERS
from pano.pipeline import RunOptions, run
from pano.planning.base import PLANNERS
from pano.run.context import RunContext

PLUGIN_FILE = '''
"""A localizer that always points at a fixed direction (a test plugin)."""
from dataclasses import dataclass

import numpy as np

from common.options import PluginOptions, option
from pano.sphere.geometry import angular_distance, grid_angles
from pano.localizers.base import SaliencyBatch, Localizer


@dataclass(frozen=True)
class FixedOptions(PluginOptions):
    yaw: float = option(0.0, "where it points", lo=-180.0, hi=180.0)


class FixedSource(Localizer):
    name = "fixed"
    Options = FixedOptions

    def process(self, batch):
        gy, gp = grid_angles(32, 64)
        m = np.exp(-0.5 * (angular_distance(gy[None, :], gp[:, None], self.options.yaw, 0.0) / 8.0) ** 2)
        n = len(batch.indices)
        return SaliencyBatch(np.repeat(m[None], n, axis=0), np.ones(n))
'''


@pytest.fixture
def fixed_localizer(tmp_path, monkeypatch):
    """One new file and one registration line, as README's Development section says."""
    (tmp_path / "fixed_plugin.py").write_text(textwrap.dedent(PLUGIN_FILE))
    monkeypatch.syspath_prepend(str(tmp_path))
    LOCALIZERS.register("fixed", "fixed_plugin:FixedSource")
    yield
    LOCALIZERS.unregister("fixed")


def test_a_new_localizer_runs_end_to_end_and_is_recorded(tmp_path, fixed_localizer):
    clip = foa_clip(tmp_path / "c.mp4", seconds=2.0, size=(120, 240))
    result = run(clip, tmp_path / "out", RunOptions(localizer="fixed", localizer_options={"yaw": 90},
                                                    saliency_video=False))
    traj = json.loads(result.trajectory.read_text())
    assert traj["generator"]["localizer"] == "fixed"
    assert traj["generator"]["params"]["localizer"] == {"yaw": 90.0}
    late = [s["yaw"] for s in traj["samples"][-15:]]
    assert all(abs(y - 90.0) < 10.0 for y in late)


def test_option_errors_name_the_plugin_the_option_and_the_fix():
    with pytest.raises(OptionError, match=r"localizer 'synchrony' has no option 'blur' \(did you mean 'blur_deg'\?\)"):
        LOCALIZERS.options("synchrony", {"blur": 3})
    with pytest.raises(OptionError, match=r"blur_deg=1000000000.0: must be in 0…30"):
        LOCALIZERS.options("synchrony", {"blur_deg": 1e9})
    with pytest.raises(OptionError, match="must be a finite number"):
        PLANNERS.options("autocam", {"max_speed": float("nan")})
    with pytest.raises(OptionError, match=r"--planner 'autocm': unknown planner \(did you mean 'autocam'\?\)"):
        PLANNERS.load("autocm")
    with pytest.raises(OptionError, match="choose one of auto, never"):
        PLANNERS.options("autocam", {"cuts": "maybe"})


def test_cli_strings_become_typed_options_and_describe_records_them():
    opts = LOCALIZERS.options("synchrony", {"frame_size": "40,80", "track_yaw": "false", "pairs": "onset"})
    assert opts.frame_size == (40, 80) and opts.track_yaw is False and opts.pairs == ("onset",)
    assert opts.describe()["frame_size"] == [40, 80]
    planner = PLANNERS.create("centroid", RunContext(fps=25.0), {"smooth": 1})
    assert planner.fps == 25.0 and planner.describe()["smooth"] == 1.0


def test_out_of_range_option_from_the_cli_is_one_line_and_leaves_nothing(tmp_path, capsys):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    out = tmp_path / "out"
    code = main([str(clip), "-o", str(out), "--localizer-option", "blob_width=1e9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == ("pano-pan: error: localizer 'ambisonic' option blob_width=1000000000.0: must be in 0.5…90")
    assert not out.exists() or not any(out.iterdir())


def test_plugins_command_lists_families_and_options(capsys):
    assert main(["plugins"]) == 0
    listing = capsys.readouterr().out
    assert "localizers  ambisonic, network, synchrony, fusion" in listing
    assert "exporters   csv, ffmpeg, plot" in listing
    assert "backbones   vgg16, resnet18, tiny" in listing
    assert main(["plugins", "planner", "centroid"]) == 0
    text = capsys.readouterr().out
    assert "--planner-option max_speed=60.0 [0.1…3600]" in text


def test_listing_plugins_and_an_ambisonic_run_never_import_torch(tmp_path):
    """The registries name classes by import path, so the CLI's choices cost no import, and a run
    without the network never pays PyTorch's ~2 s and ~500 MB."""
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    code = textwrap.dedent(f"""
        import sys
        from cli.main import main
        assert main(["plugins"]) == 0
        assert main([{str(clip)!r}, "-o", {str(tmp_path / "o")!r}, "-q", "--export", "plot"]) == 0
        print(sorted(m for m in ("torch", "pano.localizers.network") if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_exporters_are_plugins_too(tmp_path):
    assert set(EXPORTERS.names()) >= {"csv", "ffmpeg", "plot"}
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    result = run(clip, tmp_path / "out", RunOptions(exports=("csv", "plot"), saliency_video=False))
    assert sorted(p.name for p in result.extra_outputs) == ["c.plot.png", "c.trajectory.csv"]
    assert all(p.stat().st_size > 0 for p in result.extra_outputs)
