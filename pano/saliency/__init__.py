"""Saliency sources; importing this package registers the built-in ones."""

from pano.saliency import ambisonic, fusion, network, synchrony  # noqa: F401 - register themselves
from pano.saliency.base import SOURCES, AudioSpec, FrameBatch, SaliencyBatch, SaliencySource, create_source

__all__ = ["SOURCES", "AudioSpec", "FrameBatch", "SaliencyBatch", "SaliencySource", "create_source"]
