"""pano-pan's version, as installed (or the source tree's when run from a checkout that was not).

It is written into every file pano-pan makes (the MP4 comment tag, the trajectory's ``generator``), so
it lives at the bottom of the layers where every writer can read it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("pano-pan")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0.1.0"
