"""Which videos a batch covers, where each one's outputs go, and which of them a shard takes.

INPUT words are folders (searched recursively), glob patterns (``**`` allowed), text files of paths (one
a line, ``#`` comments, relative paths read from the list's folder), or videos. Outputs mirror the
input tree: each video's path relative to the videos' common folder becomes its place under OUTDIR,
so ``card/day2/a.mp4`` and ``card/day3/a.mp4`` cannot collide.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from common.errors import OptionError
from pano.run.names import NFOV, SALIENCY

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ts", ".mts", ".insv")
LIST_SUFFIXES = (".txt", ".list", ".lst")
_OUTPUT_SUFFIXES = (NFOV, SALIENCY, ".edit")  # pano-pan's own videos are never inputs


@dataclass(frozen=True)
class Video:
    """One input of a batch: ``key`` identifies it in the manifest (its resolved path), ``rel`` is its
    output prefix relative to OUTDIR (the mirrored folder and the stem), ``problem`` a reason it
    cannot run (recorded as a failed row without running)."""

    path: Path
    key: str
    rel: str
    problem: str | None = None


def _is_glob(word: str) -> bool:
    return any(c in word for c in "*?[")


def _is_video(path: Path) -> bool:
    name = path.name.lower()
    return (path.suffix.lower() in VIDEO_SUFFIXES and not name.startswith(".")
            and not any(sfx in name for sfx in _OUTPUT_SUFFIXES))


def _walk(folder: Path, skip: Path | None) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (skip is not None and (here / d).resolve() == skip))
        out += [here / f for f in sorted(files) if _is_video(here / f)]
    return out


def _read_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: cannot read this list of videos ({exc}); give a text file, one path a "
                          "line") from None
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line).expanduser()
            out.append(p if p.is_absolute() else path.parent / p)
    return out


def expand(words: list[str] | tuple[str, ...], outdir: Path | None = None) -> list[Path]:
    """The video files the INPUT words name, in order, each once; OUTDIR is never searched."""
    skip = outdir.resolve() if outdir is not None else None
    found: list[Path] = []
    for word in words:
        path = Path(word).expanduser()
        if path.is_dir():
            found += _walk(path, skip)
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            found += _read_list(path)  # missing entries become failed rows, not the end of the batch
        elif path.exists():
            found.append(path)
        elif _is_glob(word):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(word), recursive=True))
            hits = [m for m in matches if m.is_file() and _is_video(m)]
            for m in matches:
                if m.is_dir():
                    hits += _walk(m, skip)
            if not hits:
                raise OptionError(f"{word}: the pattern matches no video; check it (quote it so the shell "
                                  "does not expand it)")
            found += hits
        else:
            raise OptionError(f"{word}: no such file or folder; give folders, glob patterns, lists of paths "
                              "(.txt) or videos")
    seen: set[str] = set()
    unique = []
    for p in found:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def videos(paths: list[Path]) -> list[Video]:
    """Each path as a :class:`Video` with its mirrored output prefix; a second video whose outputs
    would have the same names as an earlier one's (``a.mp4`` beside ``a.mov``) gets a problem."""
    if not paths:
        return []
    resolved = [Path(os.path.realpath(p)) for p in paths]
    root = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    taken: dict[str, Path] = {}
    out = []
    for given, real in zip(paths, resolved, strict=True):
        rel = (real.parent.relative_to(root) / real.stem).as_posix()
        problem = None
        if not real.is_file():
            problem = f"{given}: no such file; fix the path in the list or remove it"
        elif rel in taken:
            problem = (f"{given}: its outputs would have the same names as those of {taken[rel]}; rename one "
                       "of them")
        else:
            taken[rel] = given
        out.append(Video(given, str(real), rel, problem))
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` with 0 ≤ I < N (Slurm's ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``)."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise OptionError(f"--shard {text!r}: write it as I/N with 0 ≤ I < N, e.g. --shard 0/4")
    return i, n


def shard_of(video: Video, count: int) -> int:
    """The shard a video belongs to: a hash of its mirrored path, so the split is the same in every
    task of an array job and a video added meanwhile lands in exactly one shard."""
    digest = hashlib.sha256(video.rel.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def take_shard(items: list[Video], shard: tuple[int, int] | None) -> list[Video]:
    if shard is None:
        return items
    index, count = shard
    return [v for v in items if shard_of(v, count) == index]
