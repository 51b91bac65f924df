"""Output file names: the one place that composes them.

A run writes ``<stem>.nfov.mp4``, ``<stem>.saliency.mp4`` and ``<stem>.trajectory.json`` (plus each
exporter's suffixes) into its folder; the viewer's edits are ``<stem>.edit-N.trajectory.json`` beside
the trajectory, rendered to ``<stem>.edit-N.nfov.mp4``. Everything that names, finds or recognises
these files asks :class:`OutputNames`, so renaming one suffix renames it everywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

NFOV = ".nfov.mp4"
SALIENCY = ".saliency.mp4"
TRAJECTORY = ".trajectory.json"
_EDIT = re.compile(r"\.edit-(\d+)$")
NAME_MAX = 255  # bytes in one file name on common file systems (ext4, APFS, NTFS)
_ROOM = 72  # the longest name pano-pan adds to a stem (".edit-N.trajectory.json", a hidden part's tag…)


def output_stem(stem: str) -> str:
    """``stem``, or a shortened one that leaves room for every suffix and hidden-part tag pano-pan adds.

    An input named with 255 bytes has no room for ``.saliency.mp4``: the stem is cut at a character
    boundary and tagged with a hash of the whole, so two long names that share a beginning stay apart.
    """
    raw = stem.encode("utf-8", "surrogateescape")
    if len(raw) <= NAME_MAX - _ROOM:
        return stem
    digest = hashlib.sha1(raw).hexdigest()[:8]
    cut = raw[: NAME_MAX - _ROOM - len(digest) - 1].decode("utf-8", "ignore")
    return f"{cut}~{digest}"


@dataclass(frozen=True)
class OutputNames:
    """The outputs of one stem in one folder: ``prefix`` is ``folder / stem``."""

    prefix: Path

    @classmethod
    def of(cls, folder: str | Path, stem: str) -> OutputNames:
        """The outputs of an input of stem ``stem`` (shortened by :func:`output_stem` when too long)."""
        return cls(Path(folder) / output_stem(stem))

    @classmethod
    def of_trajectory(cls, path: str | Path) -> OutputNames:
        """The names that go with a trajectory file (its stem without ``.trajectory.json``)."""
        path = Path(path)
        return cls(path.with_name(trajectory_stem(path)))

    def path(self, suffix: str) -> Path:
        return self.prefix.with_name(self.prefix.name + suffix)

    @property
    def nfov(self) -> Path:
        return self.path(NFOV)

    def nfov_as(self, suffix: str) -> Path:
        """The NFOV video in another container (``.mov`` for ProRes)."""
        return self.path(NFOV.replace(".mp4", suffix))

    @property
    def saliency(self) -> Path:
        return self.path(SALIENCY)

    @property
    def trajectory(self) -> Path:
        return self.path(TRAJECTORY)

    @property
    def base_stem(self) -> str:
        """The stem without an ``.edit-N`` tag."""
        return _EDIT.sub("", self.prefix.name)

    @property
    def is_edit(self) -> bool:
        return bool(_EDIT.search(self.prefix.name))

    def edit(self, number: int) -> OutputNames:
        """The names of the viewer's edit ``number`` of this stem."""
        return OutputNames(self.prefix.with_name(f"{self.base_stem}.edit-{number}"))


def trajectory_stem(path: Path) -> str:
    """A trajectory file's stem: its name without ``.trajectory.json`` (else without its suffix)."""
    name = path.name
    return name[: -len(TRAJECTORY)] if name.endswith(TRAJECTORY) else path.stem
