"""Pass 2: a trajectory rendered into the NFOV video with its sound, and the saliency video."""
