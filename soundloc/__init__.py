"""Sound-source localization in ordinary images (Senocak et al.); knows nothing about 360° video."""

__version__ = "0.1.0"
