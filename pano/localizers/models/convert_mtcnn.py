"""Convert facenet-pytorch's MTCNN weights (P-, R-, O-Net state dicts) to ``mtcnn.npz`` for the
NumPy detector in :mod:`pano.localizers.faces` (run once; the product never imports torch for it).

    python pano/localizers/models/convert_mtcnn.py facenet_pytorch-2.6.0-py3-none-any.whl

The wheel is facenet-pytorch 2.6.0 from PyPI (MIT, © Tim Esler); the weights inside are the MTCNN of
Zhang et al. (2016) as converted by davidsandberg/facenet (MIT). Only ``facenet_pytorch/data/
{pnet,rnet,onet}.pt`` are read from the wheel (a zip); the package itself is not installed (its pins
would replace the project's torch). Keys become ``<net>.<layer>.<param>`` (e.g. ``pnet.conv1.weight``),
stored as float32 in the layout torch uses (conv weights (out, in, kh, kw), linear (out, in)).
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "mtcnn.npz"


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", type=Path, help="facenet_pytorch-2.6.0-py3-none-any.whl")
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    args = ap.parse_args()
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(args.wheel) as zf:
        for net in ("pnet", "rnet", "onet"):
            state = torch.load(io.BytesIO(zf.read(f"facenet_pytorch/data/{net}.pt")), map_location="cpu",
                               weights_only=True)
            for key, value in state.items():
                arrays[f"{net}.{key}"] = value.detach().cpu().numpy().astype(np.float32)
    np.savez_compressed(args.out, **arrays)
    print(f"{args.out}: {len(arrays)} arrays, {sum(a.size for a in arrays.values())} parameters, "
          f"{args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
