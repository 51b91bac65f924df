"""Plumbing shared by ``soundloc`` and ``pano``: error types, atomic writes, audio decoding, and the
plugin registry and options contract. Nothing here knows about localization or 360° video, so neither
package has to depend on the other for it."""
