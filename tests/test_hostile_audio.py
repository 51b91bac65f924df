"""Audio layouts that used to be misread (issue 14): 5.1 forced to FOA, higher-order AmbiX."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from test_hostile_inputs import one_error_line, pano
from test_hostile_timing import SR, foa_track

from clips import timed_clip


@pytest.mark.parametrize("fmt", ["fuma", "ambix"])
def test_foa_formats_are_refused_on_surround_audio(tmp_path, capsys, fmt):
    surround = 0.1 * np.random.default_rng(1).standard_normal((6, SR)).astype(np.float32)
    clip = timed_clip(tmp_path / "five1.mp4", np.arange(30) / 30, audio=surround)  # AAC 5.1
    out = tmp_path / "out"
    code, err = pano(capsys, "run", clip, "-o", out, "-q", "--audio-format", fmt)
    assert code == 2
    one_error_line(err, "five1.mp4", f"--audio-format {fmt}", "6 channel(s) (5.1)", "cannot be ambisonic")
    assert not out.exists()
    code, err = pano(capsys, "inspect", clip, "--audio-format", fmt)
    assert code == 2
    one_error_line(err, "cannot be ambisonic")


def test_second_order_ambix_uses_its_first_order_part(tmp_path, capsys):
    foa = foa_track(2.0, yaw=90.0)
    higher = 0.01 * np.random.default_rng(2).standard_normal((5, foa.shape[1])).astype(np.float32)
    clip = timed_clip(tmp_path / "hoa.mkv", np.arange(60) / 30, yaw=90.0, audio=np.concatenate([foa, higher]),
                      audio_codec="pcm_s16le", audio_layout="9 channels", container_format="matroska")
    out = tmp_path / "out"
    code, err = pano(capsys, "run", clip, "-o", out, "--size", "64x36")
    assert code == 0, err
    notes = [line for line in err if "9-channel" in line]
    assert len(notes) == 1 and "order-2 ambisonics" in notes[0] and "first four channels" in notes[0], err
    assert not any("damaged" in line for line in err)
    samples = json.loads((out / "hoa.trajectory.json").read_text())["samples"]
    assert np.median([s["yaw"] for s in samples]) == pytest.approx(90.0, abs=15.0)
    with av.open(str(out / "hoa.nfov.mp4")) as c:
        assert c.streams.audio[0].codec_context.channels == 2  # the view-following stereo
    # a mono reading of the same file averages its channels instead of failing
    code, err = pano(capsys, "run", clip, "-o", tmp_path / "mono", "--size", "64x36", "-q", "--audio-format", "mono")
    assert code == 0, err
