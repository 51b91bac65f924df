"""Pass 2: a trajectory rendered into the NFOV video with its sound, and the saliency video."""

# Here, not in render.py, so the CLI can offer the choices without importing the renderer (NumPy, PyAV, SciPy).
NFOV_AUDIO = ("auto", "keep", "view", "binaural")
