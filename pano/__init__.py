"""360° video: media I/O, localizers, camera planning, rendering and the trajectory contract.

The layout follows the data's journey (``docs/ARCHITECTURE.md``): ``media`` → ``localizers`` →
``planning`` → ``rendering``, with ``paths`` for the trajectory files, ``foa`` for FOA training data and
scoring, ``view`` for the browser editor, and :mod:`pano.pipeline` running the two passes.

The scripting face is ``pano.reframe`` (the whole job, :func:`pano.pipeline.run`; ``pano.run`` is the
package of run-wide decisions, so the function has its own name), with ``RunOptions``, ``RunResult`` and
``pano.render_trajectory``::

    import pano
    result = pano.reframe("clip.mp4", "out", aspect="9:16", nfov_audio="binaural")
    print(result.nfov, result.timings)

They are imported on first use, so ``import pano`` costs no NumPy, PyAV or OpenCV import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.version import VERSION as __version__

if TYPE_CHECKING:
    from pano.pipeline import RunOptions, RunResult, render_trajectory
    from pano.pipeline import run as reframe

__all__ = ["RunOptions", "RunResult", "__version__", "reframe", "render_trajectory"]
_LAZY = {"reframe": "run", "RunOptions": "RunOptions", "RunResult": "RunResult",
         "render_trajectory": "render_trajectory"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from pano import pipeline

        return getattr(pipeline, _LAZY[name])
    raise AttributeError(f"module 'pano' has no attribute {name!r}")
