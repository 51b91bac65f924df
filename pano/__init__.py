"""360° video: media I/O, localizers, camera planning, rendering and the trajectory contract.

The layout follows the data's journey (``docs/ARCHITECTURE.md``): ``media`` → ``localizers`` →
``planning`` → ``rendering``, with ``paths`` for the trajectory files, ``foa`` for FOA training data and
scoring, ``view`` for the browser editor, and :mod:`pano.pipeline` running the two passes.
"""

from common.version import VERSION as __version__

__all__ = ["__version__"]
