"""Every dataset type yields the documented sample dict; annotation XML parsing; DATA specs."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from common.errors import UserError
from soundloc.data import (
    FlickrSoundNet,
    SyntheticScenes,
    VideoFolder,
    open_dataset,
    parse_annotation,
    parse_synthetic_spec,
    read_id_list,
)

SR = 22050


def check_sample(s: dict, size: int, samples: int, gt_size: int) -> None:
    assert s["image"].shape == (3, size, size) and s["image"].dtype == torch.float32
    assert s["audio"].shape == (samples,) and s["audio"].dtype == torch.float32
    assert s["gt_map"].shape == (gt_size, gt_size)
    assert s["has_gt"].dtype == torch.bool and s["label"].dtype == torch.long
    assert float(s["audio"].abs().max()) <= 1.0


def write_wav(path: Path, seconds: float, rate: int = 16000, freq: float = 440.0) -> None:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


XML_NAMED = """<annotation><filename>a</filename>
<object><annotator>s1</annotator><bbox><xmin>0</xmin><ymin>0</ymin><xmax>128</xmax><ymax>128</ymax></bbox></object>
<object><annotator>s2</annotator><bbox><xmin>64</xmin><ymin>64</ymin><xmax>192</xmax><ymax>192</ymax></bbox></object>
<object><annotator>s2</annotator><bbox><xmin>200</xmin><ymin>200</ymin><xmax>210</xmax><ymax>210</ymax></bbox></object>
</annotation>"""

# The released Flickr-SoundNet layout: positional children, the first one not a coordinate.
XML_POSITIONAL = """<annotation>
<object><bbox><type>object</type><a>10</a><b>20</b><c>100</c><d>120</d></bbox></object>
<object><bbox><type>object</type><a>12</a><b>22</b><c>98</c><d>118</d></bbox></object>
<object><bbox><type>ambient</type><a>0</a><b>0</b><c>256</c><d>256</d></bbox></object>
</annotation>"""


def test_parse_annotation_named_and_positional(tmp_path):
    p = tmp_path / "a.xml"
    p.write_text(XML_NAMED)
    groups = parse_annotation(p)
    assert groups == [[(0, 0, 128, 128)], [(64, 64, 192, 192), (200, 200, 210, 210)]]
    q = tmp_path / "b.xml"
    q.write_text(XML_POSITIONAL)
    assert parse_annotation(q) == [[(10, 20, 100, 120)], [(12, 22, 98, 118)], [(0, 0, 256, 256)]]
    bad = tmp_path / "c.xml"
    bad.write_text("<annotation><object><bbox><xmin>x</xmin></bbox>")
    with pytest.raises(UserError, match="c.xml"):
        parse_annotation(bad)


def test_flickr_folder(tmp_path):
    root = tmp_path / "flickr"
    for d in ("frames", "audio", "Annotations"):
        (root / d).mkdir(parents=True)
    for i, sid in enumerate(["1001", "1002", "1003"]):
        img = np.full((120, 160, 3), 40 * i, np.uint8)
        cv2.imwrite(str(root / "frames" / f"{sid}.jpg"), img)
        write_wav(root / "audio" / f"{sid}.wav", 0.5 + i * 0.5)
    (root / "Annotations" / "1001.xml").write_text(XML_POSITIONAL)
    ds = FlickrSoundNet(root, image_size=64, audio_seconds=1.0)
    assert len(ds) == 3 and ds.annotated_indices() == [0]
    s = ds[0]
    check_sample(s, 64, SR, 256)
    assert bool(s["has_gt"])
    g = s["gt_map"].numpy()
    # three annotators, #consensus 2: the two object boxes overlap -> 1; the ambient box alone -> 0.5
    assert g[50, 50] == 1.0 and g[200, 200] == 0.5
    assert not bool(ds[2]["has_gt"]) and float(ds[2]["gt_map"].sum()) == 0
    assert float(s["audio"][: SR // 2].abs().max()) > 0.3  # 0.5 s of tone, resampled to 22.05 kHz
    ids = tmp_path / "ids.txt"
    ids.write_text("# test ids\n1002.jpg\n1003\n")
    assert read_id_list(ids) == ["1002", "1003"]
    assert FlickrSoundNet(root, image_size=64, audio_seconds=1.0, ids=ids).ids == ["1002", "1003"]
    ids.write_text("1002\n9999\n")
    with pytest.raises(UserError, match="9999"):
        FlickrSoundNet(root, ids=ids)
    with pytest.raises(UserError, match="no id"):
        FlickrSoundNet(tmp_path / "flickr" / "Annotations")


def test_flat_flickr_folder_and_open_dataset(tmp_path):
    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((32, 32, 3), np.uint8))
    write_wav(tmp_path / "x.wav", 0.2)
    ds = open_dataset(tmp_path, image_size=32, audio_seconds=0.5)
    assert isinstance(ds, FlickrSoundNet) and len(ds) == 1
    check_sample(ds[0], 32, SR // 2, 256)


def write_video(path: Path, seconds: float = 1.0, fps: int = 10, size: int = 48) -> None:
    import av

    with av.open(str(path), "w") as c:
        v = c.add_stream("mpeg4", rate=fps)
        v.width = v.height = size
        v.pix_fmt = "yuv420p"
        a = c.add_stream("aac", rate=SR)
        a.layout = "mono"
        for i in range(int(seconds * fps)):
            img = np.full((size, size, 3), (i * 20) % 255, np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        t = np.arange(int(seconds * SR)) / SR
        tone = (0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
        frame_len = 1024
        for k in range(0, tone.size - frame_len + 1, frame_len):
            f = av.AudioFrame.from_ndarray(tone[None, k : k + frame_len], format="fltp", layout="mono")
            f.sample_rate = SR
            for p in a.encode(f):
                c.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                c.mux(p)


def test_video_folder(tmp_path):
    (tmp_path / "dogs").mkdir()
    write_video(tmp_path / "dogs" / "clip.mp4")
    write_video(tmp_path / "other.mp4")
    ds = VideoFolder(tmp_path, image_size=40, audio_seconds=0.5, frames_per_video=2, seed=3)
    assert len(ds) == 4 and ds.annotated_indices() == []
    s = ds[0]
    check_sample(s, 40, SR // 2, 40)
    assert not bool(s["has_gt"]) and float(s["audio"].abs().max()) > 0.1
    assert sorted(int(ds[i]["label"]) for i in range(4)) == [-1, -1, 0, 0]
    assert isinstance(open_dataset(tmp_path, image_size=40, audio_seconds=0.5), VideoFolder)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(UserError, match="broken.mp4"):
        VideoFolder(tmp_path)


def test_synthetic_scenes_deterministic_and_shaped():
    ds = SyntheticScenes(40, seed=7, image_size=64, audio_seconds=0.5, labelled_fraction=0.5,
                         ambient_fraction=0.2)
    s = ds[3]
    check_sample(s, 64, SR // 2, 64)
    again = SyntheticScenes(40, seed=7, image_size=64, audio_seconds=0.5, labelled_fraction=0.5,
                            ambient_fraction=0.2)[3]
    assert all(torch.equal(s[k], again[k]) for k in s)
    other = SyntheticScenes(40, seed=8, image_size=64, audio_seconds=0.5)[3]
    assert not torch.equal(s["image"], other["image"])
    items = [ds[i] for i in range(40)]
    labels = [int(x["label"]) for x in items]
    assert -1 in labels and len(set(labels) - {-1}) >= 3  # ambient scenes and several classes
    annotated = [i for i, x in enumerate(items) if bool(x["has_gt"])]
    assert annotated == ds.annotated_indices() and 0 < len(annotated) < 40
    for x in items:
        if bool(x["has_gt"]):
            g = x["gt_map"].numpy()
            assert set(np.unique(g)) <= {0.0, 1.0} and 0 < g.mean() < 0.5
        if int(x["label"]) == -1:
            assert not bool(x["has_gt"])


def test_synthetic_spec():
    assert parse_synthetic_spec("synthetic:12") == (12, 0)
    assert parse_synthetic_spec("synthetic:12:5") == (12, 5)
    assert parse_synthetic_spec("/data/flickr") is None
    for bad in ("synthetic:", "synthetic:x", "synthetic:0", "synthetic:1:2:3"):
        with pytest.raises(UserError):
            parse_synthetic_spec(bad)
    ds = open_dataset("synthetic:5:2", image_size=32, audio_seconds=0.1)
    assert len(ds) == 5 and ds.seed == 2
    with pytest.raises(UserError, match="no such folder"):
        open_dataset("/nonexistent/folder")
