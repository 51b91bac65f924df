"""The ``pano-pan`` command line: wiring only."""

import os

# The command's numeric work is many small array products; a threaded BLAS wakes threads that then fight
# FFmpeg's decoder/encoder threads for the same cores and makes them slower, so keep BLAS single-threaded
# unless the user says otherwise. Must run before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
