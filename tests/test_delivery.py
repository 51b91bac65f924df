"""Delivery formats: --aspect presets, --codec/--crf/--preset, --encoder fallback, --start/--end
segments on the file's clock, and --progress json."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from cli.main import main
from clips import foa_clip
from common.errors import OptionError
from pano.media.codecs import choose_encoding
from pano.paths.trajectory import Trajectory
from pano.pipeline import RunOptions, run
from pano.sphere.views import aspect_fov, output_geometry


def _tan(deg: float) -> float:
    return float(np.tan(np.radians(deg) / 2))


@pytest.mark.parametrize("aspect, size", [((16, 9), (1280, 720)), ((9, 16), (720, 1280)), ((1, 1), (720, 720)),
                                          ((4, 5), (720, 900))])
def test_aspect_presets_size_the_frame_and_keep_the_lens(aspect, size):
    g = output_geometry(960, None, None, "standard", src_height=480, aspect=aspect)
    assert g.size == size
    # the frame's shape is the aspect, and its diagonal field of view that of the default 65.5° 16:9 view
    assert _tan(g.hfov) / _tan(g.vfov) == pytest.approx(aspect[0] / aspect[1], rel=1e-6)
    assert np.hypot(_tan(g.hfov), _tan(g.vfov)) == pytest.approx(np.hypot(_tan(65.5), _tan(65.5) * 9 / 16))
    big = output_geometry(12288, None, None, "standard", src_height=6144, aspect=aspect)
    assert min(big.size) == 1080  # a sharp source gets the 1080 standard on the short side


def test_a_vertical_view_is_the_landscape_one_on_its_side():
    h, v = aspect_fov((9, 16))
    assert (round(h, 1), round(v, 1)) == (39.8, 65.5)
    with pytest.raises(OptionError, match="is not 9:16"):
        output_geometry(960, None, None, (1280, 720), aspect=(9, 16))
    assert output_geometry(960, None, None, (1080, 1920), aspect=(9, 16)).size == (1080, 1920)
    g = output_geometry(960, 50.0, None, "standard", aspect=(1, 1))  # --fov with --aspect: vfov follows
    assert g.hfov == 50.0 and g.vfov == pytest.approx(50.0)


def test_a_vertical_run_writes_a_vertical_video_and_plans_with_its_narrow_view(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(120, 240), yaw=60.0)
    result = run(clip, tmp_path / "o", RunOptions(aspect="9:16", saliency_video=False))
    with av.open(str(result.nfov)) as f:
        s = f.streams.video[0]
        assert (s.width, s.height) == (720, 1280)
    traj = Trajectory.load(result.trajectory)
    assert float(traj.hfov[0]) == pytest.approx(39.8, abs=0.1) and float(traj.vfov[0]) == pytest.approx(65.5, abs=0.1)
    # the camera still finds the source at 60° through the narrower frame
    assert abs(float(np.median(traj.yaw)) - 60.0) < 39.8 / 2


@pytest.mark.parametrize("codec, name, suffix", [("h264", "h264", ".mp4"), ("hevc", "hevc", ".mp4"),
                                                  ("av1", "av1", ".mp4"), ("prores", "prores", ".mov")])
def test_each_codec_writes_a_video_players_and_editors_open(tmp_path, codec, name, suffix):
    clip = foa_clip(tmp_path / "c.mp4", seconds=0.5, size=(60, 120))
    result = run(clip, tmp_path / "o", RunOptions(codec=codec, saliency_video=False, size=(160, 90)))
    assert result.nfov.name == "c.nfov" + suffix and result.nfov.exists()
    with av.open(str(result.nfov)) as f:
        s = f.streams.video[0]
        assert s.codec_context.codec.canonical_name == name
        frames = sum(1 for _ in f.decode(s))
    assert frames == 15
    if codec == "hevc":
        with av.open(str(result.nfov)) as f:
            assert f.streams.video[0].codec_tag == "hvc1"  # Apple players open hvc1, not hev1


def test_crf_changes_the_quality_and_is_checked_per_codec(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=0.5, size=(120, 240))
    sizes = {}
    for crf in (10, 40):
        out = run(clip, tmp_path / f"o{crf}", RunOptions(crf=crf, preset="ultrafast", saliency_video=False)).nfov
        with av.open(str(out)) as f:
            sizes[crf] = sum(p.size for p in f.demux(f.streams.video[0]))
    assert sizes[10] > 2 * sizes[40]
    with pytest.raises(OptionError, match="takes 0–51"):
        choose_encoding("h264", crf=70)
    with pytest.raises(OptionError, match="prores has no CRF"):
        choose_encoding("prores", crf=20)
    with pytest.raises(OptionError, match="writes hevc, not h264"):
        choose_encoding("h264", encoder="libx265")
    assert choose_encoding(encoder="libx265").codec == "hevc"  # the encoder implies its codec


def test_an_encoder_that_cannot_run_falls_back_in_one_line():
    lines: list[str] = []
    enc = choose_encoding("h264", encoder="no_such_encoder", notify=lines.append)
    assert enc.encoder == "libx264" and len(lines) == 1
    assert lines[0].startswith("encoder no_such_encoder cannot run here") and "using libx264" not in lines[0]
    assert lines[0].endswith("encoding with libx264 instead")
    lines.clear()
    enc = choose_encoding(encoder="h264_nvenc", notify=lines.append)  # a GPU encoder: works or falls back
    assert enc.codec == "h264" and (enc.encoder == "h264_nvenc") == (not lines)


def _stream_span(path) -> dict:
    with av.open(str(path)) as f:
        out = {}
        for s in (f.streams.video[0], f.streams.audio[0]):
            ts = [float(fr.pts * s.time_base) + (fr.samples / fr.sample_rate if s.type == "audio" else 0)
                  for fr in f.decode(s)]
            out[s.type] = (min(ts), max(ts), len(ts))
            f.seek(0)
    return out


def test_a_segment_keeps_the_files_clock_in_the_trajectory_and_starts_the_video_at_zero(tmp_path, capsys):
    clip = foa_clip(tmp_path / "c.mp4", seconds=3.0, size=(60, 120))
    assert main([str(clip), "-o", str(tmp_path / "o"), "--start", "1", "--end", "0:02.5", "-q",
                 "--no-saliency-video"]) == 0
    traj = Trajectory.load(tmp_path / "o" / "c.trajectory.json")
    assert len(traj) == 45 and traj.t[0] == pytest.approx(1.0) and traj.t[-1] == pytest.approx(2.5 - 1 / 30)
    assert traj.source["segment"] == [1.0, 2.5]
    span = _stream_span(tmp_path / "o" / "c.nfov.mp4")
    assert span["video"][0] == pytest.approx(0.0) and span["video"][2] == 45
    assert span["audio"][1] == pytest.approx(1.5, abs=0.05)  # the sound of those 1.5 s, from 0
    # pano-pan render of that trajectory renders the same segment (it records it), with the source's sound
    assert main(["render", str(clip), str(tmp_path / "o" / "c.trajectory.json"), "-o", str(tmp_path / "r.mp4"),
                 "-q"]) == 0
    assert _stream_span(tmp_path / "r.mp4")["video"][2] == 45
    # a segment outside the video is one line naming the file's span
    assert main([str(clip), "-o", str(tmp_path / "x"), "--start", "5"]) == 2
    assert "no frame between 5 s and inf s (the video runs 0–3.00 s)" in capsys.readouterr().err
    assert main([str(clip), "-o", str(tmp_path / "x"), "--start", "2", "--end", "1"]) == 2
    assert "the end must come after the start" in capsys.readouterr().err


def test_a_segment_of_a_non_foa_keep_track_is_cut_too(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=2.0, size=(60, 120))
    result = run(clip, tmp_path / "o", RunOptions(start=0.5, end=1.5, nfov_audio="keep", saliency_video=False))
    span = _stream_span(result.nfov)
    assert span["video"][2] == 30 and span["audio"][1] == pytest.approx(1.0, abs=0.05)


def test_progress_json_lines_give_pass_frames_total_and_eta(tmp_path, capsys):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    assert main([str(clip), "-o", str(tmp_path / "o"), "-q", "--progress", "json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert {r["pass"] for r in records} == {"analysing", "rendering"}
    finals = [r for r in records if r["done"]]
    assert len(finals) == 2 and all(r["frames"] == r["total"] == 30 and r["eta_s"] == 0 for r in finals)
    assert all(set(r) >= {"pass", "frames", "total", "fps", "eta_s"} for r in records)


def test_the_python_api_runs_with_keyword_options_and_stays_light_to_import(tmp_path):
    import subprocess
    import sys

    clip = foa_clip(tmp_path / "c.mp4", seconds=0.5, size=(60, 120))
    code = (
        "import sys, pano\n"
        "print(sorted(m for m in ('numpy', 'av', 'cv2', 'pano.pipeline') if m in sys.modules))\n"
        f"r = pano.reframe({str(clip)!r}, {str(tmp_path / 'o')!r}, aspect='1:1', saliency_video=False)\n"
        "print([p.name for p in r.outputs], sorted(r.timings), r.frames)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == "['c.nfov.mp4', 'c.trajectory.json'] ['analyse', 'plan', 'prepare', 'render'] 15"
    import pano

    with pytest.raises(OptionError, match="unknown option aspekt"):
        pano.reframe(clip, tmp_path / "x", aspekt="9:16")


def test_render_takes_the_codec_options_too(tmp_path, capsys):
    clip = foa_clip(tmp_path / "c.mp4", seconds=0.5, size=(60, 120))
    result = run(clip, tmp_path / "o", RunOptions(saliency_video=False, size=(160, 90)))
    out = tmp_path / "r.mov"
    assert main(["render", str(clip), str(result.trajectory), "-o", str(out), "--codec", "prores", "-q"]) == 0
    with av.open(str(out)) as f:
        assert f.streams.video[0].codec_context.codec.canonical_name == "prores"
    assert main(["render", str(clip), str(result.trajectory), "-o", str(tmp_path / "r.mp4"), "--codec", "prores"]) == 2
    assert "name the output .mov" in capsys.readouterr().err
