"""360° video: media I/O, equirectangular geometry, saliency sources, planning, rendering."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pano-pan")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
