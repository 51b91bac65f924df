"""Editors' timelines (--export otio/edl/fcp-xml/fcpxml): read back through OTIO's adapters with the
right number of shots, cut points and timecodes."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio
import pytest

from clips import foa_clip
from pano.paths.exporters import EXPORTERS, ExportJob
from pano.paths.timeline import shot_bounds
from pano.paths.trajectory import Trajectory
from pano.pipeline import RunOptions, run

FORMATS = [("otio", ".otio", "otio_json"), ("edl", ".edl", "cmx_3600"), ("fcp-xml", ".fcp.xml", "fcp_xml"),
           ("fcpxml", ".fcpxml", "fcpx_xml")]


def _path(n: int, cuts: list[int], fps: float = 30.0) -> Trajectory:
    cut = np.zeros(n, bool)
    cut[cuts] = True
    return Trajectory(t=5.0 + np.arange(n) / fps, yaw=np.linspace(-40, 80, n), pitch=np.full(n, 5.0),
                      hfov=np.full(n, 65.5), vfov=np.full(n, 39.8), cut=cut,
                      source={"path": "in.mp4", "fps": fps, "segment": [5.0, None]})


def _read(path, adapter: str, fps: float) -> otio.schema.Timeline:
    kwargs = {"rate": fps} if adapter == "cmx_3600" else {}  # an EDL does not record its rate
    return otio.adapters.read_from_file(str(path), adapter_name=adapter, **kwargs)


@pytest.mark.parametrize("name, suffix, adapter", FORMATS)
def test_each_timeline_reads_back_with_the_shots_and_timecodes(tmp_path, name, suffix, adapter):
    fps = 30.0
    traj = _path(300, [75, 190], fps)  # shots of 75, 115 and 110 frames
    nfov = tmp_path / "in.nfov.mp4"
    written = EXPORTERS.create(name, None).write(ExportJob(traj, tmp_path / "in", nfov=nfov))
    assert written == [tmp_path / f"in{suffix}"]
    timeline = _read(written[0], adapter, fps)
    clips = list(timeline.video_tracks()[0].find_clips())
    assert len(clips) == 3
    starts = [c.range_in_parent().start_time.rescaled_to(fps).value for c in clips]
    durations = [c.source_range.duration.rescaled_to(fps).value for c in clips]
    sources = [c.source_range.start_time.rescaled_to(fps).to_timecode() for c in clips]
    assert starts == [0, 75, 190] and durations == [75, 115, 110]
    assert sources == ["00:00:00:00", "00:00:02:15", "00:00:06:10"]  # ranges of the NFOV file, from 0
    assert timeline.video_tracks()[0].duration().rescaled_to(fps).value == 300
    if name != "edl":  # the EDL adapter writes video events only
        assert len(timeline.audio_tracks()) == 1
    ref = clips[1].media_reference
    assert isinstance(ref, otio.schema.ExternalReference) and ref.target_url.endswith("in.nfov.mp4")


def test_the_otio_timeline_carries_the_view_path_of_each_shot(tmp_path):
    traj = _path(120, [50])
    (path,) = EXPORTERS.create("otio", None).write(ExportJob(traj, tmp_path / "in"))
    clips = list(otio.adapters.read_from_file(str(path)).video_tracks()[0].find_clips())
    meta = clips[1].metadata["pano-pan"]
    assert meta["shot"] == 2 and meta["samples"] == 70
    assert meta["file_time"][0] == pytest.approx(5.0 + 50 / 30, abs=1e-5)  # the 360° file's clock
    assert meta["path"]["yaw"] == pytest.approx(list(traj.yaw[50:]), abs=1e-3)
    assert len(meta["path"]["t"]) == 70


def test_a_run_exports_its_shots_to_every_format(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    result = run(clip, tmp_path / "o", RunOptions(exports=("otio", "edl", "fcp-xml", "fcpxml"), saliency_video=False,
                                                  codec="prores"))
    traj = Trajectory.load(result.trajectory)
    shots = len(shot_bounds(traj))
    names = sorted(p.name for p in result.extra_outputs)
    assert names == ["c.edl", "c.fcp.xml", "c.fcpxml", "c.otio"]
    for _name, suffix, adapter in FORMATS:
        timeline = _read(tmp_path / "o" / f"c{suffix}", adapter, 30.0)
        clips = list(timeline.video_tracks()[0].find_clips())
        assert len(clips) == shots
        assert sum(c.source_range.duration.rescaled_to(30.0).value for c in clips) == len(traj) == 30
        assert clips[0].media_reference.target_url.endswith("c.nfov.mov")  # the ProRes render it goes with
