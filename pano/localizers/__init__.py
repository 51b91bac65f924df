"""The localizer family: a sound-saliency map per frame; ``LOCALIZERS`` lists them (imported lazily)."""

from pano.localizers.base import LOCALIZERS, AudioSpec, FrameBatch, Localizer, SaliencyBatch, create_localizer

__all__ = ["LOCALIZERS", "AudioSpec", "FrameBatch", "SaliencyBatch", "Localizer", "create_localizer"]
