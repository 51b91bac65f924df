"""Sound scenes with known truth for the camera tests and ``benchmarks/cinematography.py``.

Sources are synthetic but shaped like real ones (a talker's syllables and phrases, an engine's firing
harmonics, a sustained chord), encoded to AmbiX FOA either in the free field or through a simulated
room: ``pyroomacoustics``' image-source model with four coincident pickups (an omni and three
figure-eights along x, y, z), which is exactly a first-order B-format microphone, so reflections
arrive from their true directions and the reverberant tail is as diffuse as the room makes it.

A :class:`Scene` holds the FOA track and, per video frame, which directions the camera should show
(``targets``), whether they sound, and when a new one appears, so tests and the benchmark score paths
the same way. Kept beside ``clips.py`` so the tests import it directly and the benchmark through
``sys.path``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pano.sphere.ambisonics import diffuse_noise, encode_foa
from pano.sphere.geometry import yaw_pitch_to_vec

SR = 24000


# ----------------------------------------------------------------------------------------- signals
def talker(seconds: float, rng: np.random.Generator, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like sound: syllables (~4 per second) in phrases of 1.5–4 s with short pauses.

    Returns the signal and its phrase-level activity per sample (pauses under 0.6 s count as talking,
    as a viewer would). Noise through a voice-band filter with a falling tilt, amplitude-modulated.
    """
    from scipy.signal import butter, sosfilt

    n = int(seconds * sr)
    env = np.zeros(n)
    active = np.zeros(n, bool)
    t = 0.0
    while t < seconds:
        phrase = rng.uniform(1.5, 4.0)
        a, b = int(t * sr), min(n, int((t + phrase) * sr))
        active[a:b] = True
        s = t
        while s < t + phrase:
            syl = rng.uniform(0.12, 0.3)
            i, j = int(s * sr), min(b, int((s + syl) * sr))
            if j > i:
                env[i:j] = np.sin(np.linspace(0, np.pi, j - i)) * rng.uniform(0.5, 1.0)
            s += syl + rng.uniform(0.02, 0.1)
        t += phrase + rng.uniform(0.2, 0.5)
    voice = sosfilt(butter(2, [150, 4000], "bandpass", fs=sr, output="sos"), rng.standard_normal(n))
    voice += 0.5 * np.sin(2 * np.pi * 140 * np.arange(n) / sr) * np.sign(np.sin(2 * np.pi * 4 * np.arange(n) / sr))
    sig = voice * env
    return 0.1 * sig / (np.std(sig[active]) + 1e-12), active


def engine(seconds: float, rng: np.random.Generator, sr: int = SR, rpm: float = 1500.0) -> np.ndarray:
    """A running engine: firing harmonics with slow wander, amplitude-modulated at the firing rate."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = rpm / 60.0 * 2  # four-stroke, four cylinders
    wander = 1 + 0.03 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0 * wander) / sr
    sig = sum((0.7 / k) * np.sin(k * phase + rng.uniform(0, 6)) for k in range(1, 40))
    sig *= 1 + 0.4 * np.sin(phase / 2)
    sig += 0.3 * rng.standard_normal(n)
    return 0.1 * sig / np.std(sig)


def chord(seconds: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """A sustained organ-like chord (A minor, harmonics to ~5 kHz), no attacks after the first."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    sig = sum(
        (0.6**h) * np.sin(2 * np.pi * f * (h + 1) * t + rng.uniform(0, 6))
        for f in (220.0, 261.63, 329.63)
        for h in range(8)
    )
    return 0.1 * sig / np.std(sig)


def ambience(seconds: float, rng: np.random.Generator, level: float = 0.006, sr: int = SR) -> np.ndarray:
    """Diffuse room tone: pink-ish isotropic noise, AmbiX (4, n)."""
    from scipy.signal import lfilter

    x = diffuse_noise(int(seconds * sr), rng, n_directions=32, dtype=np.float64)
    b, a = [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.5221894]
    x = lfilter(b, a, x, axis=1)  # pink (Kellet)
    return level * x / np.std(x[0])


# ------------------------------------------------------------------------------------------- rooms
def room_foa(
    signal: np.ndarray,
    rt60: float,
    yaw: float,
    distance: float = 2.5,
    pitch: float = 0.0,
    room: tuple[float, float, float] = (8.0, 6.0, 3.5),
    mic: tuple[float, float, float] = (3.2, 2.6, 1.5),
    sr: int = SR,
) -> np.ndarray:
    """A static source ``distance`` m from the microphone at (yaw, pitch), through a shoebox room with
    the given RT60, recorded by a coincident first-order array and returned as AmbiX SN3D (4, n).

    Room x is the camera's forward (yaw 0) and y its left, as in :mod:`pano.sphere.geometry`; the walls absorb
    uniformly (``pyroomacoustics.inverse_sabine``). RT60 0 gives the free field (direct sound only).
    """
    import pyroomacoustics as pra
    from pyroomacoustics.directivities import DirectionVector, FigureEight, Omnidirectional
    from scipy.signal import fftconvolve

    d = yaw_pitch_to_vec(yaw, pitch)
    src = np.asarray(mic) + distance * d
    if np.any(src <= 0.1) or np.any(src >= np.asarray(room) - 0.1):
        raise ValueError(f"source at {src} is outside the room {room}")
    if rt60 > 0:
        absorption, order = pra.inverse_sabine(rt60, list(room))
        shoebox = pra.ShoeBox(list(room), fs=sr, materials=pra.Material(absorption), max_order=order)
    else:
        shoebox = pra.ShoeBox(list(room), fs=sr, max_order=0)
    shoebox.add_source(list(src))
    axis = {"x": DirectionVector(0, 90, degrees=True), "y": DirectionVector(90, 90, degrees=True),
            "z": DirectionVector(0, 0, degrees=True)}
    pickups = [Omnidirectional(), FigureEight(axis["y"]), FigureEight(axis["z"]), FigureEight(axis["x"])]
    shoebox.add_microphone_array(pra.MicrophoneArray(np.tile(np.asarray(mic, float)[:, None], (1, 4)), sr,
                                                     directivity=pickups))
    shoebox.compute_rir()
    length = max(len(shoebox.rir[c][0]) for c in range(4))
    out = np.zeros((4, len(signal)))
    for c in range(4):
        h = np.asarray(shoebox.rir[c][0], dtype=np.float64)
        out[c] = fftconvolve(signal, h)[: len(signal)] if length else 0.0
    return out / (np.max(np.abs(out[0])) + 1e-12) * np.max(np.abs(signal))


# ------------------------------------------------------------------------------------------ scenes
@dataclass
class Scene:
    """A FOA track and its truth per video frame (``fps``).

    ``targets[i]`` lists the (yaw, pitch) that frame i should show (all of them: two sources that fit
    are framed together); ``sounding[i]`` says whether they sound; ``events`` are frame indices where a
    new target appears (time to frame is measured from them); ``still[i]`` says whether the targets are
    not moving.
    """

    name: str
    foa: np.ndarray
    fps: float
    targets: list[list[tuple[float, float]]]
    sounding: np.ndarray
    still: np.ndarray
    events: list[int] = field(default_factory=list)
    sr: int = SR
    # (n, 4) per frame the sounding subject's box (yaw, pitch, width, height, view degrees) drawn in the
    # picture in ``colour`` on a textured grey background; None: the picture shows nothing.
    figure: np.ndarray | None = None
    colour: tuple[int, int, int] = (230, 120, 30)
    # The figure is a drawn talker (``draw_face``: a face the frontal-face cascade finds, hair, shoulders)
    # whose head and shoulders fill the figure's box, on a plain grey background, not a flat box.
    face: bool = False

    def picture(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Frame i (RGB, H×W; by default 256×512, a face scene 480×960): the background, and the figure
        where there is one."""
        h, w = size or ((480, 960) if self.face else (256, 512))
        if self.face:
            return _talker_picture(tuple(self.figure[i]), h, w)
        rng = np.random.default_rng(12345)  # the same background in every frame
        frame = (80 + 30 * rng.random((h, w, 1))).repeat(3, axis=2).astype(np.uint8)
        if self.figure is None or not np.all(np.isfinite(self.figure[i])):
            return frame
        yc, pc, bw, bh = self.figure[i]
        yaw = (np.arange(w) + 0.5) / w * 360.0 - 180.0
        pitch = 90.0 - (np.arange(h) + 0.5) / h * 180.0
        dy = ((yaw[None, :] - yc + 180.0) % 360.0 - 180.0) * np.cos(np.radians(pitch[:, None]))
        frame[(np.abs(pitch[:, None] - pc) <= bh / 2) & (np.abs(dy) <= bw / 2)] = self.colour
        return frame

    @property
    def seconds(self) -> float:
        return self.foa.shape[1] / self.sr

    def write(self, path: Path, size: tuple[int, int] = (64, 128), stripes: bool = False) -> Path:
        """A 2:1 clip of flat grey frames with this scene's FOA track (the ambisonic source needs no
        pixels; small frames keep the benchmark about the camera, not the codec); ``stripes``: vertical
        stripes every 10° instead, so a view's field of view shows in its pictures."""
        from pano.media.writer import write_video

        n = len(self.targets)
        frame = np.full((*size, 3), 90, np.uint8)
        if stripes:
            frame[:, (np.arange(size[1]) * 36 // size[1]) % 2 == 1] = 200
        if self.figure is not None:  # the subject must be seen: frames of its own, the size pass 1 looks at
            size = (480, 960) if self.face else (256, 512)
        peak = max(1e-9, float(np.max(np.abs(self.foa))))
        from scipy.signal import resample_poly

        audio = resample_poly(self.foa * min(1.0, 0.9 / peak), 2, 1, axis=1).astype(np.float32)  # AAC: 48 kHz
        frames = (self.picture(i, size) for i in range(n)) if self.figure is not None else (frame for _ in range(n))
        return write_video(path, frames, self.fps, audio=(audio, 2 * self.sr), crf=30, preset="ultrafast")


# A drawn talker's proportions, in face heights (the face oval's height): the top of the hair above the
# face's centre, the bottom of the shoulders below it, the shoulders' width.
TALKER_TOP, TALKER_BOTTOM, TALKER_WIDTH = 0.64, 1.18, 1.64


def draw_face(img: np.ndarray, cx: float, cy: float, s: float) -> None:
    """A drawn head and shoulders on a grey image, in place: a light face oval about ``1.1 s`` pixels
    tall centred at (cx, cy), dark hair above it (its top ``0.7 s`` above the centre), eyes, brows,
    nose, mouth, a neck and dark shoulders (down to ``1.3 s`` below the centre). OpenCV's frontal-face
    cascade fires on it (it does not on a plain ellipse)."""
    import cv2

    def oval(dx, dy, ax, ay, value, a0=0, a1=360, thickness=-1):
        cv2.ellipse(img, (int(cx + dx * s), int(cy + dy * s)), (max(1, int(ax * s)), max(1, int(ay * s))), 0,
                    a0, a1, value, thickness)

    oval(0, 1.3, 0.9, 0.5, 70, 180, 360)  # shoulders
    cv2.rectangle(img, (int(cx - 0.15 * s), int(cy + 0.5 * s)), (int(cx + 0.15 * s), int(cy + 0.8 * s)), 170, -1)
    oval(0, 0, 0.42, 0.55, 190)  # face
    oval(0, -0.45, 0.45, 0.25, 50, 180, 360)  # hair
    for side in (-1, 1):
        oval(side * 0.18, -0.08, 0.09, 0.045, 40)  # eye
        oval(side * 0.18, -0.19, 0.11, 0.025, 60)  # brow
        oval(side * 0.18, -0.07, 0.13, 0.09, 140, thickness=2)  # socket
    oval(0, 0.16, 0.06, 0.04, 120)  # nose
    oval(0, 0.3, 0.13, 0.035, 80)  # mouth


def face_panorama(yaw: float, pitch: float, face_deg: float, size=(480, 960), seed: int = 0) -> np.ndarray:
    """An RGB equirectangular frame, mid grey and noisy, with a drawn talker whose face (``face_deg``
    degrees tall) is centred at (yaw, pitch): the top of the hair ``TALKER_TOP`` face heights above."""
    import cv2

    from pano.sphere.geometry import pitch_to_y, yaw_to_x

    h, w = size
    rng = np.random.default_rng(seed)
    grey = np.clip(90 + rng.normal(0, 4, size), 0, 255).astype(np.uint8)
    s = face_deg * h / 180.0 / 1.1
    for dx in (-w, 0, w):  # drawn three times so a face on the seam wraps
        draw_face(grey, float(yaw_to_x(yaw, w)) + dx, float(pitch_to_y(pitch, h)), s)
    grey = cv2.GaussianBlur(grey, (0, 0), 0.8)
    return np.repeat(grey[..., None], 3, axis=2)


def talker_box(yaw: float, pitch: float, face_deg: float) -> tuple[float, float, float, float]:
    """The (yaw, pitch, width, height) box of ``face_panorama``'s talker: hair to shoulders."""
    top, bottom = pitch + TALKER_TOP * face_deg, pitch - TALKER_BOTTOM * face_deg
    return yaw, 0.5 * (top + bottom), TALKER_WIDTH * face_deg, top - bottom


@functools.lru_cache(maxsize=4)
def _talker_picture(box: tuple[float, float, float, float], h: int, w: int) -> np.ndarray:
    """``face_panorama`` for a ``talker_box``."""
    yaw, pc, _bw, bh = box
    face_deg = bh / (TALKER_TOP + TALKER_BOTTOM)
    return face_panorama(yaw, pc + bh / 2 - TALKER_TOP * face_deg, face_deg, (h, w))


def _frames(seconds: float, fps: float) -> np.ndarray:
    return np.arange(int(round(seconds * fps))) / fps


def _at_frames(active: np.ndarray, times: np.ndarray, sr: int = SR) -> np.ndarray:
    idx = np.minimum((times * sr).astype(int), len(active) - 1)
    return active[idx]


def _events(keys: list) -> list[int]:
    """Frames where the target list changes to a non-empty one."""
    return [i for i in range(len(keys)) if keys[i] and (i == 0 or keys[i] != keys[i - 1])]


def moving_engine(seconds: float = 64.0, fps: float = 30.0, seed: int = 1) -> Scene:
    """An engine circling (15°/s, across the seam), stopping for 20 s, and circling back across it."""
    rng = np.random.default_rng(seed)

    def yaw_at(t):
        t = np.asarray(t, float)
        go = 120.0 + 15.0 * np.minimum(t, 20.0)
        back = -15.0 * np.clip(t - 40.0, 0.0, None)
        return (go + back + 180.0) % 360.0 - 180.0

    st = np.arange(int(seconds * SR)) / SR
    foa = encode_foa(engine(seconds, rng), yaw_at(st), 0.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    targets = [[(float(yaw_at(t)), 0.0)] for t in times]
    still = (times >= 20.0) & (times < 40.0)
    return Scene("engine circling, stop, back", foa, fps, targets, np.ones(len(times), bool), still, [0])


def fixed_chord(seconds: float = 60.0, fps: float = 30.0, seed: int = 2) -> Scene:
    rng = np.random.default_rng(seed)
    foa = encode_foa(chord(seconds, rng), -100.0, 10.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    n = len(times)
    return Scene("sustained chord, fixed", foa, fps, [[(-100.0, 10.0)]] * n, np.ones(n, bool), np.ones(n, bool), [0])


def static_talker(rt60: float = 0.0, seconds: float = 60.0, fps: float = 30.0, seed: int = 3) -> Scene:
    """One talker at yaw 40°, in the free field (rt60 0) or a simulated room."""
    rng = np.random.default_rng(seed)
    sig, active = talker(seconds, rng)
    foa = room_foa(sig, rt60, 40.0) if rt60 > 0 else encode_foa(sig, 40.0, 0.0)
    foa = foa + ambience(seconds, rng)
    times = _frames(seconds, fps)
    n = len(times)
    name = f"static talker, RT60 {rt60:.1f} s" if rt60 > 0 else "static talker, dry"
    return Scene(name, foa, fps, [[(40.0, 0.0)]] * n, _at_frames(active, times), np.ones(n, bool), [0])


def turn_taking(separation: float, turn: float = 4.0, seconds: float = 64.0, fps: float = 30.0,
                seed: int = 4, switches: list[float] | None = None) -> Scene:
    """Two talkers ``separation`` degrees apart (symmetric about yaw 0) taking turns every ``turn`` s,
    or at the times ``switches`` (seconds; the talker at −separation/2 speaks first)."""
    rng = np.random.default_rng(seed)
    n_s = int(seconds * SR)
    st = np.arange(n_s) / SR
    edges = np.asarray(switches if switches is not None else np.arange(turn, seconds, turn), float)
    which = np.searchsorted(edges, st, side="right")  # turns begun so far
    first = which % 2 == 0
    since = st - np.r_[0.0, edges][which]  # seconds into the turn
    sig_a, act_a = talker(seconds, rng)
    sig_b, act_b = talker(seconds, rng)
    gap = 0.25  # each turn starts a moment after the last ends
    on_a = first & (since >= gap)
    on_b = ~first & (since >= gap)
    half = separation / 2
    foa = encode_foa(sig_a * on_a, -half, 0.0) + encode_foa(sig_b * on_b, half, 0.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    a_turn = _at_frames(first, times)
    targets = [[(-half, 0.0)] if a else [(half, 0.0)] for a in a_turn]
    keys = [tuple(x) for x in targets]
    return Scene(f"turn-taking, {separation:g}° apart", foa, fps, targets, _at_frames(on_a | on_b, times),
                 np.ones(len(times), bool), _events(keys))


def simultaneous(separation: float, seconds: float = 60.0, fps: float = 30.0, seed: int = 5) -> Scene:
    """A talker and a chord at once. Within one view (≤ 40°) both are targets; further apart, the
    louder talker (+6 dB) is, and the camera should stay with it rather than oscillate."""
    rng = np.random.default_rng(seed)
    sig, _ = talker(seconds, rng)
    half = separation / 2
    foa = encode_foa(sig, -half, 0.0) + encode_foa(0.5 * chord(seconds, rng), half, 0.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    n = len(times)
    both = separation <= 40.0
    targets = [[(-half, 0.0), (half, 0.0)]] * n if both else [[(-half, 0.0)]] * n
    name = f"two at once, {separation:g}° apart" + (" (frame both)" if both else " (stay with louder)")
    return Scene(name, foa, fps, targets, np.ones(n, bool), np.ones(n, bool), [0])


def silent_gap(seconds: float = 64.0, fps: float = 30.0, seed: int = 6) -> Scene:
    """A talker at 30° for 25 s, 15 s of room tone only, then a talker at −120° to the end."""
    rng = np.random.default_rng(seed)
    sig, active = talker(seconds, rng)
    st = np.arange(len(sig)) / SR
    first, second = st < 25.0, st >= 40.0
    foa = encode_foa(sig * first, 30.0, 0.0) + encode_foa(sig * second, -120.0, 0.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    targets = [[(30.0, 0.0)] if t < 25.0 else ([(-120.0, 0.0)] if t >= 40.0 else []) for t in times]
    sounding = _at_frames(active & (first | second), times)
    keys = [tuple(x) for x in targets]
    return Scene("silent gap, new place", foa, fps, targets, sounding, np.ones(len(times), bool), _events(keys))


def _mover(name: str, yaw_at: Callable, moving_at: Callable, seconds: float, fps: float, seed: int,
           talker_at: Callable | None = None) -> Scene:
    """An engine on the path ``yaw_at(t)`` (pitch 0); ``moving_at(t)`` says when it moves. Where
    ``talker_at(t)`` gives a yaw (not None), a talker sounds there instead of the engine (the camera
    starts elsewhere and has to pan to the engine when it starts)."""
    rng = np.random.default_rng(seed)
    st = np.arange(int(seconds * SR)) / SR
    times = _frames(seconds, fps)
    sig_e = engine(seconds, rng)
    if talker_at is None:
        foa = encode_foa(sig_e, yaw_at(st), 0.0)
        targets = [[(float(yaw_at(t)), 0.0)] for t in times]
        sounding = np.ones(len(times), bool)
    else:
        sig_t, act = talker(seconds, rng)
        ty = np.array([talker_at(t) for t in st[:: SR // 100]])  # the talker's place, 100 Hz
        on_t = np.repeat(~np.isnan(ty), SR // 100)[: len(st)]
        ty = np.nan_to_num(np.repeat(ty, SR // 100)[: len(st)])
        foa = encode_foa(sig_t * on_t, ty, 0.0) + encode_foa(sig_e * ~on_t, yaw_at(st), 0.0)
        tf = [talker_at(t) for t in times]
        targets = [[(float(x), 0.0)] if x == x else [(float(yaw_at(t)), 0.0)] for x, t in zip(tf, times, strict=True)]
        sounding = np.where(np.isnan(tf), True, _at_frames(act, times))
    foa = foa + ambience(seconds, rng)
    still = ~np.array([bool(moving_at(t)) for t in times])
    # The picture: a vehicle (20° × 12°) at the engine, a standing person (10° × 30°) at the talker.
    figure = np.array([[x[0][0], 0.0, 20.0, 12.0] for x in targets])
    if talker_at is not None:
        person = ~np.isnan(np.array([talker_at(t) for t in times]))
        figure[person, 2:] = (10.0, 30.0)
    ty = np.array([x[0][0] for x in targets])
    jump = np.abs(_wrap(np.diff(ty))) > 20.0  # the talker hands over to the engine (a new source)
    return Scene(name, foa, fps, targets, sounding, still, [0] + [int(i) + 1 for i in np.nonzero(jump)[0]],
                 figure=figure)


def _wrap(y):
    return (np.asarray(y, float) + 180.0) % 360.0 - 180.0


def sweep(seconds: float = 60.0, fps: float = 30.0, seed: int = 7) -> Scene:
    """One engine whose path spans 60° in 8 s (7.5°/s), rests 4 s and sweeps back: the tractor that the
    old two-shot rule held as two places, from one end of its path to the other."""
    def yaw_at(t):
        ph = np.asarray(t, float) % 24.0
        out = np.clip(ph, 0, 8) * 7.5 - np.clip(ph - 12, 0, 8) * 7.5
        return out - 30.0

    return _mover("one source, 60° in 8 s", yaw_at, lambda t: (t % 12.0) < 8.0, seconds, fps, seed)


def slow_mover(seconds: float = 60.0, fps: float = 30.0, seed: int = 8) -> Scene:
    """Per 15 s: a talker for 5 s, then an engine 50° to its right moving on at 5°/s for 10 s; the camera
    pans to the engine, and the pan must end on it, not ahead of it."""
    def base(t):
        return -150.0 + 150.0 * (np.asarray(t, float) // 15.0)

    def yaw_at(t):
        return _wrap(base(t) + 50.0 + 5.0 * np.clip(np.asarray(t, float) % 15.0 - 5.0, 0, None))

    def talker_at(t):
        return float(_wrap(base(t))) if t % 15.0 < 5.0 else float("nan")

    return _mover("slow mover (5°/s) after a talker", yaw_at, lambda t: t % 15.0 >= 5.0, seconds, fps, seed,
                  talker_at)


def fast_mover(seconds: float = 60.0, fps: float = 30.0, seed: int = 9) -> Scene:
    """An engine circling at 30°/s the whole time (half the camera's top speed)."""
    return _mover("fast mover (30°/s)", lambda t: _wrap(30.0 * np.asarray(t, float) - 90.0), lambda t: True,
                  seconds, fps, seed)



def tall_subject(seconds: float = 60.0, fps: float = 30.0, seed: int = 10, height: float = 44.0) -> Scene:
    """A standing performer 14° wide and ``height`` tall at yaw 20°, whose sound (a voice, an instrument)
    comes from the middle of the figure: centring the sound cuts the head off a 65.5° × 36.8° view."""
    rng = np.random.default_rng(seed)
    sig, active = talker(seconds, rng)
    foa = encode_foa(sig, 20.0, 0.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    n = len(times)
    figure = np.tile([20.0, 0.0, 14.0, height], (n, 1))
    return Scene(f"tall subject ({height:g}°), sound at its middle", foa, fps, [[(20.0, 0.0)]] * n,
                 _at_frames(active, times), np.ones(n, bool), [0], figure=figure, colour=(40, 60, 200))


def near_subject(seconds: float = 60.0, fps: float = 30.0, seed: int = 11) -> Scene:
    """A performer a metre from the lens: 80° wide and 50° tall, wider than the 65.5° view can hold."""
    rng = np.random.default_rng(seed)
    sig = chord(seconds, rng)
    foa = encode_foa(sig, -60.0, 0.0) + ambience(seconds, rng)
    n = len(_frames(seconds, fps))
    figure = np.tile([-60.0, 0.0, 80.0, 50.0], (n, 1))
    return Scene("near subject (80° × 50°)", foa, fps, [[(-60.0, 0.0)]] * n, np.ones(n, bool), np.ones(n, bool),
                 [0], figure=figure, colour=(200, 40, 120))



def reflected_subject(seconds: float = 60.0, fps: float = 30.0, seed: int = 12) -> Scene:
    """A passing-train-like source whose FOA direction is 20° below the vehicle (a platform reflects it):
    the vehicle (40° × 16°, on the horizon) is what should be framed, not the platform under it."""
    rng = np.random.default_rng(seed)
    foa = encode_foa(engine(seconds, rng), 100.0, -20.0) + ambience(seconds, rng)
    n = len(_frames(seconds, fps))
    figure = np.tile([100.0, 0.0, 40.0, 16.0], (n, 1))
    return Scene("sound 20° below its subject (reflection)", foa, fps, [[(100.0, 0.0)]] * n, np.ones(n, bool),
                 np.ones(n, bool), [0], figure=figure, colour=(60, 170, 80))


def close_talker(seconds: float = 60.0, fps: float = 30.0, seed: int = 13) -> Scene:
    """A talker close to the lens (face 12° tall, centred 3° up, at yaw −40°; no body the HOG detector
    finds), whose voice FOA reads 18° below the face (floor reflections): centring the sound cuts off
    the top of the head; the person found by the face is framed head and shoulders."""
    rng = np.random.default_rng(seed)
    sig, active = talker(seconds, rng)
    foa = encode_foa(sig, -40.0, -15.0) + ambience(seconds, rng)
    times = _frames(seconds, fps)
    n = len(times)
    figure = np.tile(talker_box(-40.0, 3.0, 12.0), (n, 1))
    return Scene("close talker found by the face", foa, fps, [[(-40.0, 3.0)]] * n, _at_frames(active, times),
                 np.ones(n, bool), [0], figure=figure, face=True)


SUITE: list[Callable[[], Scene]] = [
    moving_engine,
    fixed_chord,
    static_talker,
    lambda: static_talker(0.4),
    lambda: static_talker(1.0),
    lambda: turn_taking(60.0),
    lambda: turn_taking(150.0),
    lambda: simultaneous(40.0),
    lambda: simultaneous(120.0),
    silent_gap,
]

# Moving sources (issue 21): scored also on the central half and how far pans end ahead of the source.
MOVING: list[Callable[[], Scene]] = [sweep, slow_mover, fast_mover]
# Subjects in the picture (issue 21): scored also on subject-in-frame, whole-subject frames and headroom.
SUBJECTS: list[Callable[[], Scene]] = [tall_subject, near_subject, reflected_subject, close_talker]


# ----------------------------------------------------------------------------------------- scoring
def score(scene: Scene, yaw: np.ndarray, pitch: np.ndarray, hfov: float, vfov: float,
          cut: np.ndarray | None = None, settle: float = 2.0, max_speed: float = 60.0) -> dict[str, float]:
    """How a camera path serves the scene, as an editor would judge it.

    * ``capture``: fraction of sounding frames with every target inside the view;
    * ``still_speed``: mean camera speed (deg/s) while the targets are still, from ``settle`` s after
      each new target (framing it is not wobble);
    * ``p95_accel``: 95th percentile of angular acceleration (deg/s²), frames next to a cut left out;
    * ``cuts`` and ``min_shot`` (s); a path without cut flags has its jumps (faster than 1.5×
      ``max_speed``) counted as cuts;
    * ``time_to_frame``: mean seconds from a new target's appearance until it is in view;
    * ``subject_in``: mean fraction of the subject's box (``figure``) inside the view while it sounds;
      ``whole``: fraction of those frames where it can fit (under 95% of the widest default view,
      ``FIT_HFOV``) with all of it in;
      ``headroom``: median degrees from its top to the frame's top (nan without a figure);
    * ``central``: fraction of sounding frames whose targets are in motion with every target inside the
      central half of the view (half the field of view each way; nan when nothing moves);
    * ``pan_ahead``: how far (degrees, along the pan) the camera is past its target at worst within 1 s
      after each pan ends (a pan: ≥ 0.2 s at more than the target's own speed + 8°/s, outside cuts;
      negative = it ends behind; nan when there is no pan).

    ``hfov``/``vfov`` may be per frame (a zooming path).
    """
    from pano.sphere.geometry import in_view

    n = min(len(yaw), len(scene.targets))
    yaw, pitch = np.asarray(yaw[:n], float), np.asarray(pitch[:n], float)
    hfov = np.broadcast_to(np.asarray(hfov, float), (len(yaw),))[:n] if np.ndim(hfov) else np.full(n, hfov)
    vfov = np.broadcast_to(np.asarray(vfov, float), (len(yaw),))[:n] if np.ndim(vfov) else np.full(n, vfov)
    fps = scene.fps
    vec = yaw_pitch_to_vec(yaw, pitch)
    step = np.degrees(np.arctan2(np.linalg.norm(np.cross(vec[:-1], vec[1:]), axis=1),
                                 np.sum(vec[:-1] * vec[1:], axis=1)))
    speed = np.r_[0.0, step * fps]
    cut = np.zeros(n, bool) if cut is None or not np.any(cut) else np.asarray(cut[:n], bool)
    if not cut.any():
        cut = speed > 1.5 * max_speed
    inside = np.array([all(bool(in_view(ty, tp, yaw[i], pitch[i], hfov[i], vfov[i])) for ty, tp in scene.targets[i])
                       if scene.targets[i] else True for i in range(n)])
    centre = np.array([all(bool(in_view(ty, tp, yaw[i], pitch[i], hfov[i] / 2, vfov[i] / 2))
                           for ty, tp in scene.targets[i]) if scene.targets[i] else True for i in range(n)])
    sounding = scene.sounding[:n] & np.array([bool(t) for t in scene.targets[:n]])
    capture = float(inside[sounding].mean()) if sounding.any() else 1.0
    since = np.full(n, np.inf)
    marks = sorted(set(scene.events) | {i for i in range(1, n) if scene.still[i] and not scene.still[i - 1]})
    for e in marks:
        since[e:] = np.minimum(since[e:], (np.arange(n - e)) / fps)
    calm = scene.still[:n] & sounding & (since >= settle)
    still_speed = float(speed[calm & ~cut].mean()) if calm.any() else float("nan")
    # Acceleration from the velocity vectors (deg/s per frame), away from cuts.
    vel = np.diff(vec, axis=0) * fps
    acc = np.degrees(np.linalg.norm(np.diff(vel, axis=0), axis=1)) * fps
    near_cut = cut[1:-1] | cut[2:] | cut[:-2]
    p95 = float(np.percentile(acc[~near_cut], 95)) if (~near_cut).any() else 0.0
    starts = np.r_[0, np.nonzero(cut)[0], n]
    shots = np.diff(starts)[np.diff(starts) > 0] / fps
    frame_times = []
    for e in scene.events:
        got = np.nonzero(inside[e:])[0]
        frame_times.append(got[0] / fps if len(got) else (n - e) / fps)
    moving = sounding & ~scene.still[:n]
    central = float(centre[moving].mean()) if moving.any() else float("nan")
    whole = headroom = float("nan")
    if scene.figure is not None:
        inside_frac = np.array([_box_inside(scene.figure[i], yaw[i], pitch[i], hfov[i], vfov[i]) for i in range(n)])
        fits = sounding & (scene.figure[:n, 3] <= FIT_VFOV * 0.95) & (scene.figure[:n, 2] <= FIT_HFOV * 0.95)
        whole = float((inside_frac[fits] >= 0.98).mean()) if fits.any() else float("nan")
        # Headroom: degrees between the subject's top and the frame's top, median over sounding frames.
        top_gap = pitch + vfov / 2 - (scene.figure[:n, 1] + scene.figure[:n, 3] / 2)
        headroom = float(np.median(top_gap[sounding])) if sounding.any() else float("nan")
        subject_in = float(inside_frac[sounding].mean()) if sounding.any() else float("nan")
    else:
        subject_in = float("nan")
    return {
        "capture": capture,
        "central": central,
        "subject_in": subject_in,
        "whole": whole,
        "headroom": headroom,
        "pan_ahead": _pan_ahead(scene, yaw, speed, cut, n),
        "still_speed": still_speed,
        "p95_accel": p95,
        "cuts": int(cut.sum()),
        "min_shot": float(shots.min()) if len(shots) else n / fps,
        "time_to_frame": float(np.mean(frame_times)) if frame_times else 0.0,
    }


# "Where it fits": inside the widest view of the default zoom range (104° at 16:9).
FIT_HFOV = 104.0
FIT_VFOV = float(np.degrees(2 * np.arctan(np.tan(np.radians(FIT_HFOV) / 2) * 9 / 16)))


def _box_inside(box: np.ndarray, yaw: float, pitch: float, hfov: float, vfov: float, k: int = 9) -> float:
    """Fraction of the box (yaw, pitch, width, height in view degrees) inside the view: a k×k grid of
    points over the box, its edges included (a head cut by a degree is not "whole"), tested with the
    view's own projection."""
    from pano.sphere.geometry import in_view

    yc, pc, bw, bh = box
    u = np.linspace(-0.5, 0.5, k)
    pp = pc + bh * u[:, None] + 0 * u[None, :]
    yy = yc + bw * u[None, :] / np.maximum(np.cos(np.radians(pp)), 0.2)
    return float(np.mean(in_view(yy, pp, yaw, pitch, hfov, vfov)))


def _pan_ahead(scene: Scene, yaw: np.ndarray, speed: np.ndarray, cut: np.ndarray, n: int) -> float:
    """Worst signed overshoot (degrees) past the target within 1 s after each pan ends; see ``score``."""
    ty = np.array([t[0][0] if t else np.nan for t in scene.targets[:n]])
    return pan_ahead(ty, yaw[:n], speed[:n], cut[:n], scene.fps)


def pan_ahead(target_yaw: np.ndarray, yaw: np.ndarray, speed: np.ndarray, cut: np.ndarray, fps: float) -> float:
    """Worst signed degrees a pan ends past its target, within 1 s after it ends; NaN: no pan.

    A pan is a run of ≥ 0.2 s where the camera's ``speed`` (°/s per frame) beats the target's own by
    8°/s, outside cuts; its direction is the yaw it travelled, and the error after it is signed along
    that direction (ahead > 0). ``target_yaw`` may be NaN where there is no target; a target step over
    20° in a frame is a new target, not speed. Shared by the synthetic scenes and
    ``benchmarks/camera_real.py`` (real references)."""
    n = len(yaw)
    t_step = np.abs((np.diff(target_yaw) + 180.0) % 360.0 - 180.0)
    t_speed = np.r_[0.0, np.where(t_step > 20.0, 0.0, t_step) * fps]  # a new target is no speed
    fast = (speed > np.nan_to_num(t_speed) + 8.0) & ~cut
    fast[1:] &= ~cut[:-1]
    worst = []
    i = 0
    while i < n:
        if not fast[i]:
            i += 1
            continue
        j = i
        while j < n and fast[j]:
            j += 1
        if j - i >= 0.2 * fps and j < n:
            d = (yaw[j - 1] - yaw[i] + 180.0) % 360.0 - 180.0  # the pan's direction
            after = slice(j - 1, min(n, j + int(fps)))
            err = (yaw[after] - target_yaw[after] + 180.0) % 360.0 - 180.0
            if np.isfinite(err).any():
                worst.append(float(np.nanmax(np.sign(d) * err)))
        i = j
    return max(worst) if worst else float("nan")


def plan_scene(scene: Scene, hfov: float = 65.5, vfov: float = 36.8, hfov_range: tuple[float, float] | None = None,
               **planner_options):
    """Pass 1 without a video: the ambisonic source on the scene's audio, then the autocam planner,
    batch by batch as the pipeline feeds them. Returns the planned path."""
    from pano.localizers.ambisonic import AmbisonicLocalizer
    from pano.localizers.base import FrameBatch
    from pano.localizers.importance import batch_centroids
    from pano.planning.autocam import AutoCamPlanner
    from pano.planning.base import Observation
    from pano.run.context import RunContext
    from pano.sphere.views import OutputGeometry

    ctx = RunContext(audio_format="ambix", fps=scene.fps, geometry=OutputGeometry(hfov, vfov, 160, 90, hfov_range))
    source = AmbisonicLocalizer.build(ctx, sample_rate=scene.sr)
    planner = AutoCamPlanner.build(ctx, **planner_options)
    win = int(round(source.audio_spec.window * scene.sr))
    track = scene.foa.astype(np.float32)
    times = np.arange(len(scene.targets)) / scene.fps
    for a in range(0, len(times), source.batch_size):
        t = times[a : a + source.batch_size]
        audio = np.zeros((len(t), 4, win), np.float32)
        for i, ti in enumerate(t):
            s = int(round(ti * scene.sr)) - win // 2
            lo, hi = max(s, 0), min(s + win, track.shape[1])
            audio[i, :, lo - s : hi - s] = track[:, lo:hi]
        out = source.process(FrameBatch(np.arange(a, a + len(t)), t, audio=audio))
        yaw, pitch, resultant = batch_centroids(out.maps)
        conf = out.confidence * resultant
        boxes = None
        if scene.figure is not None and planner.wants_subjects:  # as the pipeline's pass 1 does
            from pano.localizers.subject import subject_boxes

            boxes = np.full((len(t), 4), np.nan)
            for i in range(0, len(t), 3):
                boxes[i] = subject_boxes(scene.picture(a + i)[None], yaw[i : i + 1], pitch[i : i + 1],
                                         conf[i : i + 1])[0]
        planner.observe(Observation(t, out.maps, yaw, pitch, conf, subject=boxes))
    return planner.plan()
