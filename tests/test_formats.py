"""Real 360° delivery formats: projection and stereo metadata from MP4 and Matroska/WebM, stretched
(16:9) equirectangular frames, stereo eyes, cubemaps, odd near-2:1 sizes, HEVC and VP9, output sizes,
and the boxes pano-pan writes itself. Every clip is made here, small."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli.main import main
from clips import disk_frame, remux
from common.errors import InputError
from pano.media.boxes import MetadataBoxes, add_boxes
from pano.media.probe import probe, require_equirectangular
from pano.media.spherical import read_spherical_metadata
from pano.media.writer import write_video
from pano.paths.trajectory import Trajectory
from pano.rendering.render import render_trajectory
from pano.sphere.ambisonics import encode_foa

RED = (255, 40, 40)
FPS = 30


def foa_audio(seconds: float, yaw: float, pitch: float, rate: int = 48000) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    return (encode_foa(tone, np.full(len(t), yaw), np.full(len(t), pitch)) + 0.01 * rng.standard_normal(
        (4, len(t)))).astype(np.float32), rate


def sphere(height: int, width: int, yaw: float, pitch: float) -> np.ndarray:
    """A red disk on the sphere drawn on a 2:1 grid, then stored at ``width × height`` (stretched if
    that is not 2:1), as cameras store a full sphere at 16:9."""
    frame = disk_frame(240, 480, yaw, pitch, radius=12, color=RED)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def clip(path: Path, frames: list[np.ndarray], seconds: float, yaw: float, pitch: float, **kw) -> Path:
    n = int(seconds * FPS)
    return write_video(path, [frames[i % len(frames)] for i in range(n)], FPS, audio=foa_audio(seconds, yaw, pitch),
                       **kw)


def fixed_view(info_or_path, yaw: float, pitch: float, out: Path, n: int, size=(320, 180)) -> np.ndarray:
    """Render a fixed view and return its first frame (RGB)."""
    from pano.media.video import iter_frames

    traj = Trajectory(t=np.arange(n) / FPS, yaw=np.full(n, yaw), pitch=np.full(n, pitch), hfov=65.5,
                      vfov=39.8)
    render_trajectory(info_or_path, traj, out, size=size, audio_mode="keep")
    return next(iter(iter_frames(out)))[2]


def centre_is_red(view: np.ndarray) -> bool:
    h, w = view.shape[:2]
    r, g, b = view[h // 2 - 2 : h // 2 + 3, w // 2 - 2 : w // 2 + 3].reshape(-1, 3).mean(axis=0)
    return r > 180 and g < 110 and b < 110


def red_extent(view: np.ndarray) -> tuple[int, int]:
    """Width and height (pixels) of the red blob in a view."""
    mask = (view[..., 0] > 170) & (view[..., 1] < 120) & (view[..., 2] < 120)
    ys, xs = np.nonzero(mask)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


@pytest.fixture(scope="module")
def webm_16x9(tmp_path_factory) -> Path:
    """VP9 + Opus in WebM, 16:9 frames declared equirectangular by a Matroska Projection element."""
    tmp = tmp_path_factory.mktemp("webm")
    mp4 = clip(tmp / "src.mp4", [sphere(144, 256, 60.0, 20.0)], 1.0, 60.0, 20.0, codec="libvpx-vp9",
               audio_codec="libopus", boxes=MetadataBoxes(equirectangular=True))
    return remux(mp4, tmp / "street.webm")


def test_matroska_projection_makes_16x9_a_full_sphere(webm_16x9, tmp_path):
    meta = read_spherical_metadata(webm_16x9)
    assert meta["container"] == "matroska" and meta["projection"] == "equirectangular"
    info = probe(webm_16x9)
    assert (info.width, info.height) == (256, 144)
    assert info.projection == "equirectangular" and "Matroska" in info.projection_source
    assert info.video_codec == "vp9" and info.audio_codec == "opus"
    # The 360° decision carries to the audio: 4 channels in a declared-360° video read as FOA.
    assert info.is_foa
    require_equirectangular(info)
    # Geometry from column/row fractions: the marker at (60°, 20°) is in the view centre and round.
    view = fixed_view(info, 60.0, 20.0, tmp_path / "view.mp4", 30)
    assert centre_is_red(view)
    w, h = red_extent(view)
    assert abs(w / h - 1.0) < 0.2
    assert not centre_is_red(fixed_view(info, -60.0, 20.0, tmp_path / "other.mp4", 30))


def test_webm_vp9_runs_end_to_end_and_finds_the_sound(webm_16x9, tmp_path, capsys):
    assert main([str(webm_16x9), "-o", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "localizer ambisonic" in err
    traj = json.loads((tmp_path / "street.trajectory.json").read_text())
    yaws = np.array([s["yaw"] for s in traj["samples"]])
    assert abs(np.median(yaws[-10:]) - 60.0) < 15
    assert traj["source"]["projection"] == "equirectangular"
    sal = tmp_path / "street.saliency.mp4"
    # The saliency video is a 2:1 panorama (un-stretched) declared as one for 360° players.
    assert probe(sal).width == 2 * probe(sal).height
    assert read_spherical_metadata(sal)["projection"] == "equirectangular"


def test_16x9_without_metadata_needs_projection_equirect(tmp_path, capsys):
    src = clip(tmp_path / "flat.mp4", [sphere(144, 256, -45.0, 0.0)], 1.0, -45.0, 0.0)
    with pytest.raises(InputError, match="--projection equirect"):
        require_equirectangular(probe(src))
    assert main(["inspect", str(src)]) == 0
    out = capsys.readouterr().out
    assert "360° input  no:" in out and "--projection equirect" in out
    info = probe(src, projection="equirect")
    assert info.is_equirectangular and info.projection_source == "--projection equirect" and info.is_foa
    assert centre_is_red(fixed_view(info, -45.0, 0.0, tmp_path / "view.mp4", 30))


def test_top_bottom_stereo_uses_the_top_eye(tmp_path, capsys):
    # Top eye: the marker at yaw 30; bottom eye: at yaw -90. Only the top one may appear.
    frame = np.concatenate([sphere(120, 240, 30.0, 0.0), sphere(120, 240, -90.0, 0.0)], axis=0)
    src = clip(tmp_path / "tb.mp4", [frame], 1.0, 30.0, 0.0,
               boxes=MetadataBoxes(equirectangular=True, stereo="top-bottom"))
    info = probe(src)
    assert info.stereo == "top-bottom" and info.pano_size == (240, 120) and info.eye == (0, 0, 240, 120)
    assert centre_is_red(fixed_view(info, 30.0, 0.0, tmp_path / "top.mp4", 30))
    assert not centre_is_red(fixed_view(info, -90.0, 0.0, tmp_path / "bottom.mp4", 30))
    assert main([str(src), "-o", str(tmp_path / "run"), "--no-saliency-video"]) == 0
    err = capsys.readouterr().err
    assert err.count("top eye") == 1 and "stereo top-bottom" in err
    assert json.loads((tmp_path / "run" / "tb.trajectory.json").read_text())["source"]["stereo"] == "top-bottom"


def test_square_equirect_without_stereo_box_is_top_bottom_and_override_works(tmp_path):
    """Issue 14 #15: 3D 360° video (square, equirectangular metadata) is not "not 2:1"."""
    frame = np.concatenate([sphere(120, 240, 30.0, 0.0), sphere(120, 240, 30.0, 0.0)], axis=0)
    src = clip(tmp_path / "sq.mp4", [frame], 0.5, 30.0, 0.0, boxes=MetadataBoxes(equirectangular=True, stereo=None))
    info = probe(src)
    assert info.stereo == "top-bottom" and any("--stereo mono" in n for n in info.notices)
    require_equirectangular(info)
    # No metadata at all: refused, pointing at --stereo; with --stereo top-bottom it is accepted.
    bare = clip(tmp_path / "bare.mp4", [frame], 0.5, 30.0, 0.0)
    with pytest.raises(InputError, match="--stereo top-bottom"):
        require_equirectangular(probe(bare))
    forced = probe(bare, stereo="top-bottom")
    assert forced.is_equirectangular and forced.pano_size == (240, 120)


def test_left_right_stereo_uses_the_left_eye(tmp_path):
    frame = np.concatenate([sphere(120, 240, -20.0, 10.0), sphere(120, 240, 120.0, 10.0)], axis=1)
    src = clip(tmp_path / "lr.mp4", [frame], 0.5, -20.0, 10.0)
    info = probe(src, stereo="left-right")
    assert info.is_equirectangular and info.eye == (0, 0, 240, 120)
    assert centre_is_red(fixed_view(info, -20.0, 10.0, tmp_path / "left.mp4", 15))
    assert not centre_is_red(fixed_view(info, 120.0, 10.0, tmp_path / "right.mp4", 15))


def test_cubemaps_are_refused_with_the_ffmpeg_command(tmp_path, capsys):
    faces = np.full((128, 192, 3), 90, np.uint8)
    declared = clip(tmp_path / "cube.mp4", [faces], 0.3, 0.0, 0.0,
                    boxes=MetadataBoxes(equirectangular=True, projection="cubemap"))
    assert read_spherical_metadata(declared)["projection"] == "cubemap"
    code = main([str(declared), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1
    assert "cubemap" in err and "ffmpeg -i cube.mp4 -vf v360=c3x2:e -c:a copy cube.equirect.mp4" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # The same in Matroska (ProjectionType 2), and a 6×1 strip without metadata gets its own command.
    mkv = remux(declared, tmp_path / "cube.mkv")
    with pytest.raises(InputError, match="v360=c3x2:e"):
        require_equirectangular(probe(mkv))
    strip = clip(tmp_path / "strip.mp4", [np.full((32, 192, 3), 90, np.uint8)], 0.3, 0.0, 0.0)
    with pytest.raises(InputError, match="v360=c6x1:e"):
        require_equirectangular(probe(strip))


def test_near_2_to_1_odd_size_is_accepted(tmp_path):
    """Issue 14 #16: 961×481 is an equirectangular frame, not "not 2:1"."""
    import av

    src = tmp_path / "odd.mkv"
    frame = cv2.resize(disk_frame(240, 480, 45.0, 0.0, radius=12, color=RED), (961, 481))
    with av.open(str(src), "w") as out:
        vs = out.add_stream("ffv1", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = 961, 481, "yuv444p"
        for i in range(5):
            f = av.VideoFrame.from_ndarray(frame, format="rgb24")
            f.pts = i
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    info = probe(src)
    assert info.is_equirectangular and info.pano_size == (960, 480)
    require_equirectangular(info)
    assert centre_is_red(fixed_view(info, 45.0, 0.0, tmp_path / "view.mp4", 5))


def test_hevc_10_bit_runs_end_to_end(tmp_path):
    src = clip(tmp_path / "cam.mp4", [sphere(128, 256, -100.0, 0.0)], 1.0, -100.0, 0.0, codec="libx265",
               pix_fmt="yuv420p10le")
    info = probe(src)
    assert info.video_codec == "hevc" and "10" in info.pix_fmt
    assert main([str(src), "-o", str(tmp_path), "-q"]) == 0
    traj = json.loads((tmp_path / "cam.trajectory.json").read_text())
    assert abs(np.median([s["yaw"] for s in traj["samples"]][-10:]) + 100.0) < 15
    assert centre_is_red(fixed_view(info, -100.0, 0.0, tmp_path / "view.mp4", 30))


def test_output_size_default_and_native(tmp_path):
    src = clip(tmp_path / "small.mp4", [sphere(120, 240, 0.0, 0.0)], 0.5, 0.0, 0.0)
    assert main([str(src), "-o", str(tmp_path / "std"), "-q", "--no-saliency-video"]) == 0
    std = probe(tmp_path / "std" / "small.nfov.mp4")
    assert (std.width, std.height) == (1280, 720)
    assert main([str(src), "-o", str(tmp_path / "nat"), "-q", "--no-saliency-video", "--size", "native"]) == 0
    nat = probe(tmp_path / "nat" / "small.nfov.mp4")
    assert (nat.width, nat.height) == (426, 240)


def test_written_boxes_read_back_and_ffprobe_agrees(tmp_path):
    src = clip(tmp_path / "meta.mp4", [sphere(120, 240, 0.0, 0.0)], 0.5, 0.0, 0.0)
    before = src.read_bytes()
    add_boxes(src, MetadataBoxes(equirectangular=True, stereo="mono", ambisonic_channels=4))
    meta = read_spherical_metadata(src)
    assert meta["projection"] == "equirectangular" and meta["stereo_mode"] == "mono"
    assert meta["spatial_audio"] == {"ambisonic_type": "periphonic", "order": 1, "channel_ordering": "ACN",
                                     "normalization": "SN3D", "channels": 4}
    # The media data is untouched and still decodes: the chunk offsets moved with the bigger moov.
    assert len(src.read_bytes()) > len(before)
    from pano.media.video import iter_frames

    assert sum(1 for _ in iter_frames(src)) == 15
    info = probe(src)
    assert info.is_foa and not info.notices  # SA3D: no "without spatial-audio metadata" note
    # Writing again replaces rather than duplicates.
    add_boxes(src, MetadataBoxes(equirectangular=True, stereo="top-bottom", ambisonic_channels=4))
    assert read_spherical_metadata(src)["stereo_mode"] == "top-bottom"
    if shutil.which("ffprobe"):
        out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(src)],
                             capture_output=True, text=True, check=True).stdout
        side = [d for s in json.loads(out)["streams"] for d in s.get("side_data_list", [])]
        kinds = {d.get("side_data_type") for d in side}
        assert "Spherical Mapping" in kinds and "Stereo 3D" in kinds
        assert any(d.get("projection") == "equirectangular" for d in side)


def test_ffmpeg_side_data_is_read_when_the_container_is_not_parsed_here(tmp_path):
    import av

    from pano.media.probe import _ffmpeg_side_data

    src = clip(tmp_path / "side.mp4", [sphere(120, 240, 0.0, 0.0)], 0.3, 0.0, 0.0,
               boxes=MetadataBoxes(equirectangular=True, stereo="left-right"))
    found: dict = {}
    with av.open(str(src)) as container:
        _ffmpeg_side_data(container, found)
    assert found == {"projection": "equirectangular", "stereo_mode": "left-right", "source": "FFmpeg side data"}


def test_inspect_says_what_it_found_and_where(webm_16x9, capsys):
    assert main(["inspect", str(webm_16x9)]) == 0
    out = capsys.readouterr().out
    assert "equirectangular (from Matroska Projection element)" in out
    assert "360° input  yes" in out
    assert main(["inspect", str(webm_16x9), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spherical"]["projection"] == "equirectangular" and data["eye"] == [0, 0, 256, 144]


def test_an_ambisonic_run_never_imports_torch(tmp_path):
    src = clip(tmp_path / "foa.mp4", [sphere(120, 240, 10.0, 0.0)], 0.5, 10.0, 0.0)
    code = (
        "import sys\n"
        "from cli.main import main\n"
        f"rc = main([{str(src)!r}, '-o', {str(tmp_path / 'out')!r}, '-q'])\n"
        "print(rc, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["0", "False"], out.stderr


def _ebml(eid: int, payload: bytes) -> bytes:
    """One EBML element (id bytes as written, 8-byte size)."""
    ident = eid.to_bytes((eid.bit_length() + 7) // 8, "big")
    return ident + (0x01 << 56 | len(payload)).to_bytes(8, "big") + payload


def test_matroska_tracks_after_the_clusters_are_found_through_the_seekhead(tmp_path):
    # Tracks → TrackEntry(type video, Video(StereoMode 1 = side by side, Projection(type 1)))
    video = _ebml(0xE0, _ebml(0x53B8, b"\x01") + _ebml(0x7670, _ebml(0x7671, b"\x01")))
    tracks = _ebml(0x1654AE6B, _ebml(0xAE, _ebml(0x83, b"\x01") + video))
    cluster = _ebml(0x1F43B675, bytes(2 << 20))  # 2 MB of "media" before the tracks
    seek_size = len(_ebml(0x114D9B74, _ebml(0x4DBB, _ebml(0x53AB, b"\x16\x54\xae\x6b") + _ebml(0x53AC, bytes(8)))))
    pos = (seek_size + len(cluster)).to_bytes(8, "big")
    seekhead = _ebml(0x114D9B74, _ebml(0x4DBB, _ebml(0x53AB, b"\x16\x54\xae\x6b") + _ebml(0x53AC, pos)))
    segment = _ebml(0x18538067, seekhead + cluster + tracks)
    f = tmp_path / "late.mkv"
    f.write_bytes(_ebml(0x1A45DFA3, _ebml(0x4282, b"matroska")) + segment)
    meta = read_spherical_metadata(f)
    assert meta == {"container": "matroska", "stereo_mode": "left-right", "projection": "equirectangular"}


def test_youtube_equi_angular_cubemap_is_refused_with_the_eac_command(webm_16x9, tmp_path):
    """YouTube declares EAC as a mesh projection (Matroska ProjectionType 3)."""
    data = webm_16x9.read_bytes()
    marker = b"\x76\x71\x81\x01"  # ProjectionType, size 1, equirectangular
    assert data.count(marker) == 1
    eac = tmp_path / "yt.webm"
    eac.write_bytes(data.replace(marker, b"\x76\x71\x81\x03"))
    info = probe(eac)
    assert info.projection == "mesh"
    with pytest.raises(InputError, match="equi-angular cubemap.*ffmpeg -i yt.webm -vf v360=eac:e"):
        require_equirectangular(info)
