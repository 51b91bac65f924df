"""The ``pano-pan`` command line: wiring only."""
