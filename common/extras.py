"""Optional extras: features whose packages the light install leaves out, and the one line that says
what to install.

The default FOA run needs NumPy, SciPy, OpenCV and PyAV only; PyTorch and torchvision (about 4.5 GB
with their CUDA libraries) come with ``pano-pan[network]``. A feature that needs a missing package
fails with :class:`MissingExtra`, a ``UserError`` naming the feature and the ``pip install`` that adds
it, instead of a traceback.
"""

from __future__ import annotations

import importlib.util

from common.errors import UserError

# top-level module → the extra that installs it
EXTRAS = {
    "torch": "network",
    "torchvision": "network",
}


class MissingExtra(UserError):
    """A feature needs a package of an optional extra that is not installed."""


def install_hint(module: str) -> str:
    extra = EXTRAS.get(module.split(".")[0])
    return f"pip install 'pano-pan[{extra}]'" if extra else f"pip install {module.split('.')[0]}"


def missing_extra(err: ModuleNotFoundError, what: str) -> MissingExtra | None:
    """``err`` as a one-line :class:`MissingExtra` for ``what`` when it is an extra's package, else None."""
    root = (err.name or "").split(".")[0]
    if root not in EXTRAS:
        return None
    return MissingExtra(f"{what} needs {root}, which the light install leaves out: {install_hint(root)}")


def require(module: str, what: str) -> None:
    """Raise :class:`MissingExtra` now if ``module`` cannot be imported (checks without importing it)."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        err = ModuleNotFoundError(f"No module named {module!r}", name=module)
        raise missing_extra(err, what) or MissingExtra(f"{what} needs {module}: {install_hint(module)}")
