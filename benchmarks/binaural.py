"""Binaural view audio against its HRTF set: interaural level and time differences of a noise source
at each azimuth, for KEMAR's own HRIRs, the parametric decoder pano-pan uses, the linear MagLS decoder
alone, and the two-cardioid stereo of ``--nfov-audio view`` as the baseline; plus a diffuse field's
interaural coherence and the decoder's speed.

    python benchmarks/binaural.py
"""

from __future__ import annotations

import time

import numpy as np
import scipy.signal

from pano.rendering.binaural import LinearDecoder, ParametricDecoder, decoder_data, interaural_differences
from pano.sphere.ambisonics import beam_weights, encode_foa

RATE = 48000


def _parametric(foa: np.ndarray) -> np.ndarray:
    dec = ParametricDecoder(RATE)
    return np.concatenate([dec(foa[:, k : k + 24000]) for k in range(0, foa.shape[1], 24000)] + [dec.flush()], axis=1)


def _cardioids(foa: np.ndarray) -> np.ndarray:
    n = foa.shape[1]
    return np.stack([np.einsum("sc,cs->s", beam_weights(np.full(n, side), np.zeros(n), "cardioid"), foa)
                     for side in (-90.0, 90.0)])


def _db(value: float) -> str:
    return f"{value:+.2f}" if abs(value) < 60 else "null ear"


def main() -> None:
    data = decoder_data()
    s = 0.1 * np.random.default_rng(0).standard_normal(2 * RATE)
    print("| azimuth (left +) | KEMAR ILD dB / ITD µs | parametric (pano-pan) | ΔILD / ΔITD | MagLS only | "
          "two cardioids (view) |")
    print("|---|---|---|---|---|---|")
    worst = [0.0, 0.0]
    for az in (0, 30, -30, 60, -60, 90, -90, 120, 150, 180):
        i = int(np.argmin(np.abs((data["reference_azimuth"] - az + 180) % 360 - 180)))
        ref = interaural_differences(*[scipy.signal.fftconvolve(s, data["reference_hrirs"][i][e])[: len(s)]
                                       for e in range(2)], RATE)
        foa = encode_foa(s, -az, 0.0)
        par = interaural_differences(*_parametric(foa), RATE)
        lin = interaural_differences(*LinearDecoder()(foa), RATE)
        car = interaural_differences(*_cardioids(foa), RATE)
        d = (par[0] - ref[0], (par[1] - ref[1]) * 1e6)
        if abs(az) in (30, 60, 90):
            worst = [max(worst[0], abs(d[0])), max(worst[1], abs(d[1]))]
        print(f"| {az:+d}° | {ref[0]:+.2f} / {ref[1] * 1e6:+.0f} | {par[0]:+.2f} / {par[1] * 1e6:+.0f} | "
              f"{d[0]:+.2f} / {d[1]:+.1f} | {lin[0]:+.2f} / {lin[1] * 1e6:+.0f} | "
              f"{_db(car[0])} / {car[1] * 1e6:+.0f} |")
    print(f"worst at ±30/±60/±90°: ΔILD {worst[0]:.2f} dB, ΔITD {worst[1]:.1f} µs (goal 1 dB, 50 µs)")
    rng = np.random.default_rng(1)
    diffuse = np.stack([rng.standard_normal(RATE)] + [rng.standard_normal(RATE) / np.sqrt(3) for _ in range(3)]) * 0.1
    for name, ears in (("parametric", _parametric(diffuse)), ("MagLS", LinearDecoder()(diffuse)),
                       ("cardioids", _cardioids(diffuse))):
        print(f"diffuse field, {name}: interaural coherence {abs(np.corrcoef(*ears)[0, 1]):.2f}, "
              f"ILD {interaural_differences(*ears, RATE)[0]:+.2f} dB")
    foa = encode_foa(0.1 * rng.standard_normal(10 * RATE), 30.0, 0.0)
    t0 = time.perf_counter()
    _parametric(foa)
    print(f"parametric decoder: {10 / (time.perf_counter() - t0):.1f}× real time (one core's worth, loaded machine)")


if __name__ == "__main__":
    main()
