"""Rebuild the real-footage benchmark set (``/work/media/all``) from files in public repositories.

Why: the real clips the benchmarks score on (``benchmarks/camera_real.py``, ``benchmarks/mono_real.py``)
cannot live in this repository (third-party media), and the machine they were built on loses them, so
this script is the set: the same inputs give the same clips. It writes no media into the repository.

    python benchmarks/real_set.py SRC OUT [--only x01,c01] [--extract-from MIRRORS]
    python benchmarks/real_set.py SRC OUT --check-order     # the YT-360 channel-order check, then exit

SRC holds the files below under ``SRC/<owner>__<name>/<path>``; ``--extract-from MIRRORS`` first puts them
there from bare git clones at ``MIRRORS/<owner>+<name>/repo`` (the layout the ``fetch`` tool leaves in
``/work/.mirror``) with ``git show <commit>:<path>``, at the commits in ``FILES``. OUT receives the clips
(flat), their ``<clip>.truth.json`` where the source's direction is known, and ``clips.json`` (one row per
clip: what it shows, picture, sound, truth). Needs the ffmpeg CLI (``apt-get install -y ffmpeg``).

Every clip: MP4, H.264 960×480 equirectangular yuv420p 25 fps, 4-channel AAC AmbiX (ACN/SN3D: W, Y, Z, X)
at 48 kHz, 384 kb/s, encoded with ``-aac_is 0`` (FFmpeg's default intensity-stereo coding of the W/Y
channel pair turns FOA directions by 100°+ for seconds), with ``sv3d``/``st3d`` and ``SA3D`` boxes
written by :func:`pano.media.boxes.add_boxes` (the same writer pano-pan uses), so ``pano-pan inspect``
reports equirectangular FOA.

Placed clips (``x*``, ``h03``): a real equirectangular picture with people, a real (nearly) dry recording,
and a real measured FOA room impulse response, the spaudiopy Gewandhaus RIR (ACN/N3D, converted to SN3D; its
direct sound arrives from azimuth 0°, elevation −10°; cut to 1.5 s with a 0.3 s fade). The RIR is rotated so
its direct sound arrives from the person's mouth/instrument (found by looking at the picture; the rotation
keeps the horizon level), and the truth is that direction. Its first reflection, from below about 3 ms after
the direct sound, pulls the RIR's energy direction over 5–200 ms 5–6° below the direct sound (the ambisonic
localizer reads the placed talkers 4–10° low); the truth stays the direct sound. JSAmbisonics' ``room_1``
was not used (its direct sound reads ~13° high). Two talkers taking turns are two convolutions, each through
the RIR turned to its talker, not one turned field; their turns are cut at pauses in the speech, so the
truth switches where one voice stops and the other starts. The truth also gives each placed person's
head as ``heads`` (yaw, pitch, width, height in degrees, hand-marked on gridded 6× crops of the clip's
frames, in the order of the sources), so ``benchmarks/camera_real.py`` can say whether the head is in frame.
A moving source (the gorilla) is 40-ms frames,
each through the RIR turned to the source's direction then. Yaw/pitch follow pano-pan's conventions (README,
"Conventions"): yaw 0 = the centre column, positive right; pitch positive up; ambisonic azimuth = −yaw. The
spatialaudiogen pictures are 1920×1080 frames of full-sphere 360° video (YouTube/REC-Street datasets),
scaled to 960×480 (their whole width is 360°).

Sources (repository, path, licence):

* ``pedro-morgado/spatialaudiogen`` (BSD 2-clause, © 2018 Morgado, Vasconcelos, Langlois, Wang):
  ``docs/img/dataset/YT-Clean.jpg`` (meeting room, 3 people), ``YT-Clean-3.jpg`` (selfie talker),
  ``YT-Music-2.jpg`` (band with pianist), ``YT-Music.jpg`` (studio band), ``REC-Street.jpg`` (street,
  walker in red). The frames come from YouTube 360° videos shown on the project page.
* ``chris-hld/spaudiopy`` (MIT, © 2019 Chris Hold): ``data/IR_Gewandhaus_SH1.wav`` (measured first-order
  SH room impulse response), ``data/piano_mono.flac`` (dry mono piano).
* ``datavized/aframe-ambisonic-component`` (code MIT, © 2019 Datavized):
  ``examples/assets/audio/4ch_B_FuMaNorm_FuMaOrd_speech.mp4``: FuMa B-format speech by Michael Chapman,
  CC BY-NC-SA 3.0 (the repository's ``examples/assets/audio/LICENSE.md``; from
  http://mchapman.com/amb/soft/positions/); its W is the dry mono speech every placed clip uses (one
  voice). ``examples/assets/audio/beach-ambisonic.mp4``: a FuMa beach recording (the beach example plays
  it with ``channel-map="FuMa"``; no separate licence given, so the repository's MIT).
* ``polarch/JSAmbisonics`` (BSD 3-clause, © 2016 Archontis Politis): ``examples/sounds/BF_rec1.ogg``
  ("soundscape"), ``BF_rec2.ogg`` ("big band"): first-order B-format recordings in FuMa (the library's
  player example converts them FuMa → ACN); ``examples/sounds/sample2.wav`` ("speech" in its examples,
  a second voice, 10.5 s, two identical channels).
* ``shanwangshan/YT360-order`` (no licence file; the README credits the band video to theclarksmusic,
  https://www.youtube.com/watch?v=kqAZkf5Odyw, and the calibration clip to Archontis Politis):
  ``data/yt360/video/kqAZkf5Odyw-80.mp4`` + ``data/yt360/audio/kqAZkf5Odyw-80.m4a`` (band, 6-channel
  FOA track), ``data/yt360/video/redownloaded_from_YT.mp4`` + ``.../audio/redownloaded_from_YT.m4a``
  (calibration: piano at yaw −90°, voice at +90°, seagulls above), ``positive_samples/0.25_0.5.wav``,
  ``0.75_0.5.wav`` (the repository's beams of it). Its 6 decoded channels give AmbiX as channels 2, 1, 4, 0
  (0, 3 and 5 are silent on the calibration clip, whose sources all have X = 0; ``--check-order``
  correlates our beams at yaw ∓90° with the repository's own beams: 1.000 on the matching side).

* ``googlevr/gvr-android-sdk`` (Apache 2.0; the samples' media as shipped with the SDK):
  ``samples/sdk-simplevideowidget/src/main/assets/congo.mp4`` at commit 22bfd77 (GVR SDK 0.8.1; gone
  from HEAD): 10 s of real 360° top-bottom stereo video, a gorilla walking in a forest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pano.media.boxes import MetadataBoxes, add_boxes  # noqa: E402
from pano.sphere.geometry import yaw_pitch_to_vec  # noqa: E402

SR = 48000
FPS = 25
W, H = 960, 480

# Every input: (repository, commit, path). The commits are those the set was first built from.
FILES = [
    *[("pedro-morgado/spatialaudiogen", "a3e8ad1a6bfd78c51a8a073cd00f9d80387e164e", f"docs/img/dataset/{n}.jpg")
      for n in ("YT-Clean", "YT-Clean-3", "YT-Music", "YT-Music-2", "REC-Street", "REC-Street-2", "REC-Street-3",
                "YT-All")],
    *[("chris-hld/spaudiopy", "8995ca826d75baa4fe497b0b466f864f0ed72c08", f"data/{n}")
      for n in ("IR_Gewandhaus_SH1.wav", "piano_mono.flac")],
    *[("datavized/aframe-ambisonic-component", "8ba2fe22cb4d189d51bb0aacf7e139177fc73cd3", f"examples/assets/audio/{n}")
      for n in ("4ch_B_FuMaNorm_FuMaOrd_speech.mp4", "beach-ambisonic.mp4")],
    *[("polarch/JSAmbisonics", "ecdb90cd2af7310e4da93062f71d92d34cecc35d", f"examples/sounds/{n}")
      for n in ("BF_rec1.ogg", "BF_rec2.ogg", "sample2.wav")],
    ("googlevr/gvr-android-sdk", "22bfd77050c8607ef3bd1c60993c066b5a722c46",
     "samples/sdk-simplevideowidget/src/main/assets/congo.mp4"),
    *[("shanwangshan/YT360-order", "f4f46c824187130dab9d254e5e2d59ccd5c4e0b0", n)
      for n in ("data/yt360/video/kqAZkf5Odyw-80.mp4", "data/yt360/audio/kqAZkf5Odyw-80.m4a",
                "data/yt360/video/redownloaded_from_YT.mp4", "data/yt360/audio/redownloaded_from_YT.m4a",
                "positive_samples/0.25_0.5.wav", "positive_samples/0.75_0.5.wav")],
]

SAG = "pedro-morgado__spatialaudiogen/docs/img/dataset/"
SPA = "chris-hld__spaudiopy/data/"
AFR = "datavized__aframe-ambisonic-component/examples/assets/audio/"
JSA = "polarch__JSAmbisonics/examples/sounds/"
YT = "shanwangshan__YT360-order/data/yt360/"
RIR_FILE = SPA + "IR_Gewandhaus_SH1.wav"
RIR_DIRECT = (0.0, -10.0)  # yaw, pitch of the RIR's direct sound (measured: pseudo-intensity of its peak)
SPEECH = AFR + "4ch_B_FuMaNorm_FuMaOrd_speech.mp4"  # one voice (median F0 150 Hz)
SPEECH2 = JSA + "sample2.wav"  # another voice (median F0 183 Hz), 10.5 s
PIANO = SPA + "piano_mono.flac"
BAND_V, BAND_A = YT + "video/kqAZkf5Odyw-80.mp4", YT + "audio/kqAZkf5Odyw-80.m4a"
CAL_V, CAL_A = YT + "video/redownloaded_from_YT.mp4", YT + "audio/redownloaded_from_YT.m4a"
YT_ORDER = [2, 1, 4, 0]  # AmbiX W, Y, Z, X from the YT-360 track's decoded channels


def px_to_dir(x: float, y: float) -> tuple[float, float]:
    """(yaw, pitch) of pixel centre (x, y) in a 960×480 frame (README, "Conventions")."""
    return (x + 0.5) / W * 360.0 - 180.0, 90.0 - (y + 0.5) / H * 180.0


def head_box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """A head's pixel box (960×480: left, top, right, bottom edges) as the truth file's ``heads`` entry:
    [yaw, pitch, width, height] in degrees (centre, then extent along yaw and pitch), for
    ``benchmarks/camera_real.py``'s head-in-frame score. ``x1`` may pass 960 where the head crosses the seam."""
    (yl, pt), (yr, pb) = px_to_dir(x0 - 0.5, y0 - 0.5), px_to_dir(x1 - 0.5, y1 - 0.5)
    yc = (0.5 * (yl + yr) + 180.0) % 360.0 - 180.0
    return [round(yc, 2), round(0.5 * (pt + pb), 2), round(yr - yl, 2), round(pt - pb, 2)]


# Placed clips. Pixel positions are on the picture scaled to 960×480 (after ``roll``), read off
# gridded crops: ``who`` = (x, y, what is there).
CLIPS = {
    "x01": dict(desc="single still talker off the front: the woman at the left of the meeting table",
                image=SAG + "YT-Clean.jpg", seconds=20.0, who=[(313, 247, "woman's mouth")],
                heads=[(303, 228, 322, 253)], sound=[(SPEECH, 2.0)]),
    "x02": dict(desc="two people taking turns every ~4 s (at pauses), two voices: the man at the right of the "
                "table, then the woman (left)", image=SAG + "YT-Clean.jpg", seconds=20.0, turn=4.0,
                who=[(493, 240, "right-hand man's mouth"), (313, 247, "woman's mouth")],
                heads=[(485, 228, 501, 247), (303, 228, 322, 253)], sound=[(SPEECH, 2.0), (SPEECH2, 0.0)]),
    "x03": dict(desc="close talker: a man filming himself, his face big in the frame",
                image=SAG + "YT-Clean-3.jpg", seconds=10.5, who=[(638, 267, "man's mouth")],
                heads=[(608, 198, 672, 288)], sound=[(SPEECH2, 0.0)]),
    "x04": dict(desc="musician: the pianist at the back left, the dry spaudiopy piano at his hands",
                image=SAG + "YT-Music-2.jpg", seconds=11.0, who=[(66, 308, "pianist's hands on the keys")],
                heads=[(41, 260, 61, 288)], sound=[(PIANO, 0.0)]),
    "x05": dict(desc="source across the ±180° seam: a standing singer, picture turned so she straddles it",
                image=SAG + "YT-Music.jpg", roll=866, seconds=15.0, who=[(956, 250, "singer's mouth")],
                heads=[(958, 239, 968, 253)], sound=[(SPEECH, 40.0)]),
    "x06": dict(desc="picture changes a little (video noise, slow brightness drift): the walker in red",
                image=SAG + "REC-Street.jpg", seconds=15.0, who=[(248, 195, "walker's head")],
                heads=[(235, 183, 260, 208)], sound=[(SPEECH, 22.0)], changing=True),
}
# The gorilla in congo.mp4 (top eye of the top-bottom stereo frame, scaled to 960×480), hand-marked each
# second on gridded crops (its upper body; an automatic dark-blob centroid agrees within ~10 px in x):
# (t, x, y).
GORILLA = [(0, 208, 262), (1, 207, 262), (2, 190, 263), (3, 174, 264), (4, 159, 265), (5, 130, 266),
           (6, 117, 268), (7, 116, 268), (8, 116, 268), (9, 110, 268), (10, 102, 268)]
CONGO = "googlevr__gvr-android-sdk/samples/sdk-simplevideowidget/src/main/assets/congo.mp4"
SINGER = (451, 218)  # the band's singer's mouth in kqAZkf5Odyw-80 scaled to 960×480
SINGER_HEAD = (441, 206, 459, 229)  # the singer's head over the clip's 10 s (he sways a few pixels)


def extract(mirrors: Path, src: Path) -> None:
    """Copy every file of ``FILES`` out of the bare clones under ``mirrors`` into ``src``."""
    for repo, commit, path in FILES:
        owner, name = repo.split("/")
        gitdir = mirrors / f"{owner}+{name}" / "repo"
        if not gitdir.exists():
            gitdir = mirrors / f"{owner}+{name}"
        dst = src / f"{owner}__{name}" / path
        dst.parent.mkdir(parents=True, exist_ok=True)
        blob = subprocess.run(["git", f"--git-dir={gitdir}", "show", f"{commit}:{path}"], capture_output=True)
        if blob.returncode:
            raise SystemExit(f"{repo}@{commit[:7]}:{path}: {blob.stderr.decode().strip()}")
        dst.write_bytes(blob.stdout)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def load_audio(path: Path, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """(C, S) float64 at 48 kHz, every decoded channel in file order."""
    info = json.loads(run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                           "stream=channels", "-of", "json", str(path)]).stdout)
    ch = int(info["streams"][0]["channels"])
    cmd = ["ffmpeg", "-v", "error", "-ss", str(start), "-i", str(path)]
    if seconds is not None:
        cmd += ["-t", str(seconds)]
    cmd += ["-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-ar", str(SR), "-"]
    raw = np.frombuffer(run(cmd).stdout, np.float32)
    return raw.reshape(-1, ch).T.astype(np.float64)


def mono_source(src: Path, path: str, start: float, seconds: float) -> np.ndarray:
    """A (nearly) dry mono signal: W of a B-format (4-channel) file, else the mean of its channels;
    level-normalised."""
    a = load_audio(src / path, start, seconds)
    a = a[0] if a.shape[0] == 4 else a.mean(axis=0)
    a = a - a.mean()
    if len(a) < int(seconds * SR):
        a = np.pad(a, (0, int(seconds * SR) - len(a)))
    return a / (np.max(np.abs(a)) + 1e-12)


def load_rir(src: Path) -> np.ndarray:
    """The Gewandhaus RIR as AmbiX SN3D (4, S), 1.5 s with a 0.3 s cosine fade."""
    r = load_audio(src / RIR_FILE)[:4]
    r[1:] /= np.sqrt(3.0)  # N3D → SN3D
    n, fade = int(1.5 * SR), int(0.3 * SR)
    r = r[:, :n].copy()
    r[:, n - fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))[None]
    return r


def _frame(yaw: float, pitch: float) -> np.ndarray:
    """Rotation whose first column points at (yaw, pitch) and whose second stays horizontal."""
    v = yaw_pitch_to_vec(yaw, pitch)
    side = np.cross([0.0, 0.0, 1.0], v)
    side /= np.linalg.norm(side)
    return np.stack([v, side, np.cross(v, side)], axis=1)


def rotate_rir(rir: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """The RIR turned so its direct sound arrives from (yaw, pitch); first order turns as a vector."""
    rot = _frame(yaw, pitch) @ _frame(*RIR_DIRECT).T
    xyz = rot @ rir[[3, 1, 2]]  # AmbiX (W, Y, Z, X) → (X, Y, Z)
    return np.stack([rir[0], xyz[1], xyz[2], xyz[0]])


def place(dry: np.ndarray, rir: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    r = rotate_rir(rir, yaw, pitch)
    return np.stack([fftconvolve(dry, r[c])[: len(dry)] for c in range(4)])


def place_moving(dry: np.ndarray, rir: np.ndarray, yaw_at, pitch_at) -> np.ndarray:
    """A moving source: 40-ms Hann frames (50% overlap, summing to one), each through the RIR turned to
    the source's direction at the frame's centre (the first order turns linearly, so each frame is
    convolved once and its first-order output rotated), overlap-added."""
    hop = int(0.02 * SR)
    win = np.hanning(2 * hop + 1)[:-1]
    out = np.zeros((4, len(dry) + rir.shape[1]))
    base = _frame(*RIR_DIRECT).T
    for start in range(-hop, len(dry), hop):
        lo, hi = max(start, 0), min(start + 2 * hop, len(dry))
        seg = dry[lo:hi] * win[lo - start : hi - start]
        if not np.any(seg):
            continue
        t = (start + hop) / SR
        rot = _frame(float(yaw_at(t)), float(pitch_at(t))) @ base
        wet = np.stack([fftconvolve(seg, rir[c]) for c in range(4)])
        xyz = rot @ wet[[3, 1, 2]]
        out[:, lo : lo + wet.shape[1]] += np.stack([wet[0], xyz[1], xyz[2], xyz[0]])
    return out[:, : len(dry)]


def foa_direction(foa: np.ndarray) -> tuple[float, float]:
    """Energy-weighted pseudo-intensity direction of an AmbiX signal (a quick check, not a localizer)."""
    vec = np.array([np.sum(foa[0] * foa[3]), np.sum(foa[0] * foa[1]), np.sum(foa[0] * foa[2])])
    vec /= np.linalg.norm(vec) + 1e-12
    return float(-np.degrees(np.arctan2(vec[1], vec[0]))), float(np.degrees(np.arcsin(vec[2])))


def encode(out: Path, video_in: list[str], vfilter: str, foa: np.ndarray, seconds: float, tmp: Path) -> None:
    """Mux ``video_in`` (ffmpeg input args) filtered by ``vfilter`` with the AmbiX ``foa`` and tag it."""
    foa = foa / (np.max(np.abs(foa)) + 1e-12) * 0.7
    raw = tmp / (out.stem + ".f32")
    foa.T.astype("<f4").tofile(raw)
    run(["ffmpeg", "-v", "error", "-y", *video_in,
         "-f", "f32le", "-ar", str(SR), "-ac", "4", "-channel_layout", "4.0", "-i", str(raw),
         "-t", f"{seconds:.3f}", "-map", "0:v:0", "-map", "1:a:0",
         "-vf", f"{vfilter},scale={W}:{H}:flags=lanczos,setsar=1,fps={FPS},format=yuv420p",
         "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-aac_is", "0", "-b:a", "384k", "-ar", str(SR), "-ac", "4",
         "-movflags", "+faststart", str(out)])
    raw.unlink()
    add_boxes(out, MetadataBoxes(equirectangular=True, stereo="mono", ambisonic_channels=4))


def still_input(src: Path, spec: dict, tmp: Path) -> tuple[list[str], str]:
    import cv2

    img = cv2.imread(str(src / spec["image"]))
    if img is None:
        raise SystemExit(f"cannot read {src / spec['image']}")
    img = cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)
    if spec.get("roll"):
        img = np.roll(img, int(spec["roll"]), axis=1)
    png = tmp / f"{spec['name']}.png"
    cv2.imwrite(str(png), img)
    vf = "null"
    if spec.get("changing"):
        vf = "eq=brightness='0.03*sin(2*PI*t/6)':eval=frame,noise=alls=5:allf=t"
    return ["-loop", "1", "-framerate", str(FPS), "-i", str(png)], vf


def speech_activity(x: np.ndarray) -> np.ndarray:
    """Per-sample True where ``x`` is within 30 dB of its loudest 20-ms frame, held over 200 ms (so a
    False stretch is a real pause, not a gap between syllables)."""
    hop = int(0.02 * SR)
    m = len(x) // hop
    rms = np.sqrt(np.mean(x[: m * hop].reshape(m, hop) ** 2, axis=1)) + 1e-12
    on = 20 * np.log10(rms / rms.max()) > -30.0
    held = np.convolve(on.astype(float), np.ones(21), mode="same") > 0
    return np.pad(np.repeat(held, hop), (0, len(x) - m * hop))


def turns(src: Path, spec: dict, n: int) -> tuple[list[np.ndarray], list[float], list[int]]:
    """Talkers taking turns of about ``turn`` seconds, each turn cut from that talker's own recording at
    pauses (a turn starts 0.1 s before a phrase and ends at the first pause after ``turn`` − 0.5 s), so
    the truth switches exactly where one voice stops and the next starts. Returns each talker's dry
    track (silent outside its turns), the switch times (s) and the talker of each turn."""
    turn = spec["turn"]
    streams = [mono_source(src, path, start, 3 * n / SR) for path, start in spec["sound"]]
    acts = [speech_activity(x) for x in streams]
    tracks = [np.zeros(n) for _ in streams]
    ptr, t0, who, switches, order = [0] * len(streams), 0, 0, [], []
    while t0 < n:
        act = acts[who]
        onset = ptr[who] + int(np.argmax(act[ptr[who]:]))
        if not act[onset]:
            break  # this talker's recording is used up: the rest stays silent
        begin = max(ptr[who], onset - int(0.1 * SR))
        late = begin + int((turn - 0.5) * SR)
        end = late + int(np.argmax(~act[late:])) if late < len(act) else len(act)
        end = min(end, begin + int((turn + 1.5) * SR))
        length = min(end - begin, n - t0)
        tracks[who][t0 : t0 + length] = streams[who][begin : begin + length]
        order.append(who)
        ptr[who], t0 = end, t0 + length
        if t0 < n:
            switches.append(t0 / SR)
        who = (who + 1) % len(streams)
    return tracks, switches, order


def build_placed(name: str, spec: dict, src: Path, out: Path, rir: np.ndarray, tmp: Path) -> dict:
    spec = dict(spec, name=name)
    seconds = spec["seconds"]
    n = int(round(seconds * SR))
    dirs = [px_to_dir(x, y) for x, y, _ in spec["who"]]
    foa = np.zeros((4, n))
    if spec.get("turn"):
        tracks, switches, order = turns(src, spec, n)
        for track, (yaw, pitch) in zip(tracks, dirs, strict=True):
            foa += place(track, rir, yaw, pitch)
        times, yaws, pitches = [0.0], [dirs[order[0]][0]], [dirs[order[0]][1]]
        for t, prev, cur in zip(switches, order[:-1], order[1:], strict=True):
            times += [round(t - 0.001, 3), round(t, 3)]
            yaws += [dirs[prev][0], dirs[cur][0]]
            pitches += [dirs[prev][1], dirs[cur][1]]
        times, yaws, pitches = times + [seconds], yaws + [dirs[order[-1]][0]], pitches + [dirs[order[-1]][1]]
    else:
        (path, start), (yaw, pitch) = spec["sound"][0], dirs[0]
        foa = place(mono_source(src, path, start, seconds), rir, yaw, pitch)
        times, yaws, pitches = [0.0, seconds], [yaw, yaw], [pitch, pitch]
    video_in, vf = still_input(src, spec, tmp)
    clip = out / f"{name}.mp4"
    encode(clip, video_in, vf, foa, seconds, tmp)
    truth = {"times": times, "yaw": [round(v, 2) for v in yaws], "pitch": [round(v, 2) for v in pitches],
             "heads": [head_box(*b) for b in spec["heads"]]}
    (out / f"{name}.truth.json").write_text(json.dumps(truth))
    where = "; ".join(f"{w} at yaw {d[0]:.1f}°, pitch {d[1]:.1f}°"
                      for (_, _, w), d in zip(spec["who"], dirs, strict=True))
    return {"clip": clip.name, "seconds": seconds, "desc": spec["desc"], "picture": spec["image"],
            "sound": ", ".join(f"{p} from {s:g} s" for p, s in spec["sound"]), "truth": where,
            "rir": RIR_FILE}


def build_congo(src: Path, out: Path, rir: np.ndarray, tmp: Path) -> dict:
    seconds = 10.0
    t = np.array([k[0] for k in GORILLA], float)
    dirs = np.array([px_to_dir(x, y) for _, x, y in GORILLA])
    yaw_at = lambda s: np.interp(s, t, dirs[:, 0])  # noqa: E731
    pitch_at = lambda s: np.interp(s, t, dirs[:, 1])  # noqa: E731
    foa = place_moving(mono_source(src, SPEECH, 45.0, seconds), rir, yaw_at, pitch_at)
    encode(out / "x07.mp4", ["-i", str(src / CONGO)], "crop=iw:ih/2:0:0", foa, seconds, tmp)
    truth = {"times": t.tolist(), "yaw": [round(v, 2) for v in dirs[:, 0]], "pitch": [round(v, 2) for v in dirs[:, 1]]}
    (out / "x07.truth.json").write_text(json.dumps(truth))
    return {"clip": "x07.mp4", "seconds": seconds, "desc": "a gorilla walking left in the Congo forest (real 360° "
            "video, top eye of its top-bottom stereo), speech placed along its hand-marked track",
            "picture": CONGO + " (gvr-android-sdk commit 22bfd77)", "sound": f"{SPEECH} from 45 s",
            "truth": f"gorilla's upper body, yaw {dirs[0, 0]:.1f}° → {dirs[-1, 0]:.1f}°, pitch ≈ {dirs[0, 1]:.1f}°; "
            "keyframes every 1 s, linear between", "rir": RIR_FILE}


def yt_foa(src: Path, audio: str, seconds: float | None = None) -> np.ndarray:
    return load_audio(src / audio, 0.0, seconds)[YT_ORDER]


def check_order(src: Path) -> str:
    """Check the YT-360 channel order on its calibration clip: the repository's own ``positive_samples``
    (``0.25_0.5.wav``: its beamformer aimed at the picture's left, piano + seagulls; ``0.75_0.5.wav``: the
    right, voice + seagulls; both from 8 s of the clip) against cardioids aimed at yaw −90° and +90° on
    our AmbiX (channels 2, 1, 4, 0): the correlation of their 10-ms log envelopes."""
    foa = yt_foa(src, CAL_A)[:, int(8.0 * SR):]

    def envelope(x: np.ndarray) -> np.ndarray:
        hop = SR // 100
        n = len(x) // hop
        return np.log(np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-6)

    beams = {}
    for yaw in (-90.0, 90.0):
        d = yaw_pitch_to_vec(yaw, 0.0)
        beams[yaw] = envelope(0.5 * (foa[0] + d[0] * foa[3] + d[1] * foa[1] + d[2] * foa[2]))
    lines = []
    for name in ("0.25_0.5", "0.75_0.5"):
        ref = envelope(load_audio(src / f"shanwangshan__YT360-order/positive_samples/{name}.wav")[0])
        corr = []
        for yaw, env in beams.items():
            n = min(len(ref), len(env))
            corr.append(f"yaw {yaw:+.0f}: {np.corrcoef(ref[:n], env[:n])[0, 1]:.3f}")
        lines.append(f"{name}.wav vs our cardioid at " + ", ".join(corr))
    return "\n".join(lines) + "\n(expected: 0.25 best at yaw -90 (piano, left), 0.75 at +90 (voice, right))"


def build_band(src: Path, out: Path, rir: np.ndarray, tmp: Path) -> list[dict]:
    seconds = 10.0
    video_in = ["-i", str(src / BAND_V)]
    rows = []
    foa = yt_foa(src, BAND_A, seconds)
    n = int(seconds * SR)
    foa = np.pad(foa, ((0, 0), (0, max(0, n - foa.shape[1]))))[:, :n]
    encode(out / "c01.mp4", video_in, "null", foa, seconds, tmp)
    rows.append({"clip": "c01.mp4", "seconds": seconds, "desc": "The Clarks in a studio church, the band's own "
                 "6-channel YouTube FOA track as AmbiX (channels 2, 1, 4, 0); 24 fps video resampled to 25",
                 "picture": BAND_V, "sound": BAND_A, "truth": "none (the FOA is the reference)"})
    yaw, pitch = px_to_dir(*SINGER)
    dry = mono_source(src, SPEECH, 2.0, seconds)
    encode(out / "h03.mp4", video_in, "null", place(dry, rir, yaw, pitch), seconds, tmp)
    (out / "h03.truth.json").write_text(json.dumps({"times": [0.0, seconds], "yaw": [round(yaw, 2)] * 2,
                                                    "pitch": [round(pitch, 2)] * 2,
                                                    "heads": [head_box(*SINGER_HEAD)]}))
    rows.append({"clip": "h03.mp4", "seconds": seconds, "desc": "the band video, its sound removed, with dry "
                 "speech placed at the singer", "picture": BAND_V, "sound": f"{SPEECH} from 2 s",
                 "truth": f"singer's mouth at yaw {yaw:.1f}°, pitch {pitch:.1f}°", "rir": RIR_FILE})
    return rows


GENUINE = {
    "g01": dict(desc="JSAmbisonics B-format recording BF_rec1 over the street picture", audio=JSA + "BF_rec1.ogg",
                fmt="fuma", image=SAG + "REC-Street-2.jpg"),
    "g02": dict(desc="JSAmbisonics B-format recording BF_rec2 over the street picture", audio=JSA + "BF_rec2.ogg",
                fmt="fuma", image=SAG + "REC-Street-3.jpg"),
    "g03": dict(desc="aframe-ambisonic-component beach recording (FuMa) over the rafting picture",
                audio=AFR + "beach-ambisonic.mp4", fmt="fuma", image=SAG + "YT-All.jpg"),
}


def build_genuine(name: str, spec: dict, src: Path, out: Path, tmp: Path) -> dict:
    a = load_audio(src / spec["audio"])[:4]
    seconds = min(20.0, a.shape[1] / SR)
    a = a[:, : int(seconds * SR)]
    foa = np.stack([a[0] * np.sqrt(2.0), a[2], a[3], a[1]])  # FuMa W, X, Y, Z (W at -3 dB) → AmbiX
    video_in, vf = still_input(src, dict(spec, name=name), tmp)
    encode(out / f"{name}.mp4", video_in, vf, foa, seconds, tmp)
    return {"clip": f"{name}.mp4", "seconds": round(seconds, 2), "desc": spec["desc"], "picture": spec["image"],
            "sound": f"{spec['audio']} ({spec['fmt']})", "truth": "none (unrelated picture; FOA is the reference)"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="Sources" + __doc__.split("Sources")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--only", default="", help="comma-separated clip names (default: all)")
    ap.add_argument("--check-order", action="store_true", help="beam the YT-360 calibration clip and exit")
    ap.add_argument("--extract-from", type=Path, metavar="MIRRORS",
                    help="first extract FILES into SRC from bare clones MIRRORS/<owner>+<name>/repo")
    args = ap.parse_args(argv)
    if args.extract_from:
        extract(args.extract_from, args.src)
    if args.check_order:
        print(check_order(args.src))
        return 0
    only = {s for s in args.only.split(",") if s}
    want = lambda name: not only or name in only  # noqa: E731
    args.out.mkdir(parents=True, exist_ok=True)
    rir = load_rir(args.src)
    rows = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name, spec in CLIPS.items():
            if want(name):
                rows.append(build_placed(name, spec, args.src, args.out, rir, tmp))
                print(rows[-1]["clip"], "-", rows[-1]["truth"], flush=True)
        if want("x07"):
            rows.append(build_congo(args.src, args.out, rir, tmp))
            print(rows[-1]["clip"], "-", rows[-1]["truth"], flush=True)
        if want("c01") or want("h03"):
            rows += build_band(args.src, args.out, rir, tmp)
            print("c01.mp4, h03.mp4", flush=True)
        for name, spec in GENUINE.items():
            if want(name):
                rows.append(build_genuine(name, spec, args.src, args.out, tmp))
                print(rows[-1]["clip"], flush=True)
    index = args.out / "clips.json"  # rows of clips built before (``--only``) are kept
    kept = json.loads(index.read_text()) if index.exists() else []
    built = {r["clip"] for r in rows}
    rows = sorted([r for r in kept if r["clip"] not in built] + rows, key=lambda r: r["clip"])
    index.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
