"""Saliency sources ("localizers" on the command line); ``LOCALIZERS`` lists them (imported lazily)."""

from pano.saliency.base import LOCALIZERS, AudioSpec, FrameBatch, SaliencyBatch, SaliencySource, create_source

__all__ = ["LOCALIZERS", "AudioSpec", "FrameBatch", "SaliencyBatch", "SaliencySource", "create_source"]
