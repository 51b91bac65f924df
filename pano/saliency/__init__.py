"""Saliency sources; importing this package registers the built-in ones.

``network`` registers itself on first use (``create_source`` imports it), so commands that never run
the network do not pay for importing PyTorch.
"""

from pano.saliency import ambisonic, fusion, synchrony  # noqa: F401 - register themselves
from pano.saliency.base import SOURCES, AudioSpec, FrameBatch, SaliencyBatch, SaliencySource, create_source

__all__ = ["SOURCES", "AudioSpec", "FrameBatch", "SaliencyBatch", "SaliencySource", "create_source"]
